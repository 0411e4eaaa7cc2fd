import type { Card, CardButton, StepState } from '../../../src/core/card.js';

/** Cards at and past Discord's limits, shared by the render and platform tests. */
export const INJECTION = '@everyone @here <@123456789012345678> <@&987654321098765432> <#111> [click](https://evil.example) **bold** `code` ||spoiler||';
export const STATES: StepState[] = ['requested', 'approved', 'running', 'succeeded', 'failed', 'timed_out', 'interrupted', 'denied', 'expired'];

export function buttons(n: number, label = 'L'.repeat(200)): CardButton[] {
  return Array.from({ length: n }, (_, i) => ({
    action: 'run-step',
    id: `run-step:1:gitcortex:step-${i}`,
    label,
    value: `run-step:1:gitcortex:step-${i}`,
    ...(i % 3 === 0 ? { style: 'danger' as const, confirm: { title: 'Sure?', text: 'x'.repeat(1000), confirm: 'Yes', deny: 'No' } } : i % 3 === 1 ? { style: 'primary' as const } : {}),
  }));
}

/** Everything at or past Discord's limits at once. */
export function pathologicalCard(): Card {
  return {
    incidentId: '1',
    title: `${'T'.repeat(10_000)} ${INJECTION}`,
    severity: 'critical',
    status: 'firing',
    statusLine: `Firing since 2026-11-22 01:37 UTC ${INJECTION}`,
    summary: `${INJECTION} ${'s'.repeat(10_000)}`,
    description: `${INJECTION} ${'d'.repeat(10_000)}`,
    fields: Array.from({ length: 40 }, (_, i) => ({ label: `Field ${i} ${'l'.repeat(500)} ${INJECTION}`, value: `${INJECTION} ${'v'.repeat(10_000)}` })),
    links: [
      { label: 'paren', url: 'https://grafana.example/d/x?a=(1)' },
      { label: 'space', url: 'https://grafana.example/a b' },
      { label: 'huge', url: `https://grafana.example/${'a'.repeat(600)}` },
      { label: 'script', url: 'javascript:alert(1)' },
      { label: `Dashboard ${INJECTION}`, url: 'https://grafana.example/d/abc?var-instance=a:1&from=now-1h' },
    ],
    steps: Array.from({ length: 60 }, (_, i) => ({ title: `Step ${i} ${'t'.repeat(200)} ${INJECTION}`, state: STATES[i % STATES.length]!, detail: `exit 1: ${INJECTION}` })),
    buttons: buttons(80),
    fallbackText: `[FIRING] critical: ${INJECTION} ${'f'.repeat(50_000)}`,
  };
}

