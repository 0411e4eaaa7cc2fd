import { describe, expect, it } from 'vitest';
import { cardFallbackText, pressedButtonId, renderCardBlocks, renderThreadMessage } from '../../../src/bot/slack/render.js';
import { buildCard } from '../../../src/core/card-builder.js';
import type { Card, CardButton, StepState } from '../../../src/core/card.js';
import type { Incident, StepRun, StoredAlert } from '../../../src/core/domain.js';
import { offersFor } from '../../../src/core/offers.js';
import { REDACTED, createRedactor } from '../../../src/domain/redact.js';
import { DEFAULT_MAX_BLOCKS_JSON_CHARS } from '../../fakes/slack-api.js';
import { BLOCK_KIT_LIMITS, validateBlocks, type JsonObject } from '../../fakes/slack-block-kit.js';
import { alert, at, gitcortexRunbook } from '../core/factories.js';

const INJECTION = '<!channel> ping <@U123> & <https://evil.example|click here> <#C0GENERAL> <!subteam^S0SRE>';
const STATES: StepState[] = ['requested', 'approved', 'running', 'succeeded', 'failed', 'timed_out', 'interrupted', 'denied', 'expired'];

function buttons(n: number, label = 'L'.repeat(200)): CardButton[] {
  return Array.from({ length: n }, (_, i) => ({
    action: 'run-step',
    id: `run-step:1:gitcortex:step-${i}`,
    label,
    value: `run-step:1:gitcortex:step-${i}`,
    ...(i % 2 === 0
      ? { style: 'danger' as const, confirm: { title: `Run "${'C'.repeat(200)}"?`, text: 'x'.repeat(1000), confirm: 'Y'.repeat(50), deny: 'N'.repeat(50) } }
      : { style: 'primary' as const }),
  }));
}

/** Everything at or past Slack's limits at once. */
function pathologicalCard(): Card {
  return {
    incidentId: '1',
    title: `${'T'.repeat(300)} ${INJECTION}`,
    severity: 'critical',
    status: 'firing',
    statusLine: `Firing since 2026-11-22 01:37 UTC ${INJECTION}`,
    summary: `${INJECTION} ${'s'.repeat(10_000)}`,
    description: `${INJECTION} ${'d'.repeat(10_000)}`,
    fields: Array.from({ length: 30 }, (_, i) => ({ label: `Field ${i} ${INJECTION}`, value: `${INJECTION} ${'v'.repeat(5000)}` })),
    links: [
      { label: 'pipe', url: 'https://grafana.example/d/x?a=1|b' },
      { label: 'angle', url: 'https://grafana.example/d/x?a=1>b' },
      { label: 'huge', url: `https://grafana.example/${'a'.repeat(5000)}` },
      { label: 'space', url: 'https://grafana.example/a b' },
      { label: `Dashboard ${INJECTION}`, url: 'https://grafana.example/d/abc?var-instance=a:1&from=now-1h' },
    ],
    steps: Array.from({ length: 60 }, (_, i) => ({ title: `Step ${i} ${'t'.repeat(200)} ${INJECTION}`, state: STATES[i % STATES.length]!, detail: `exit 1: ${INJECTION}` })),
    buttons: buttons(80),
    fallbackText: `[FIRING] critical: ${INJECTION} ${'f'.repeat(50_000)}`,
  };
}

type Obj = Record<string, unknown>;

/** Every text object in the blocks, with the JSON pointer of its block. */
function textObjects(blocks: unknown[]): Array<{ type: string; text: string; where: string }> {
  const found: Array<{ type: string; text: string; where: string }> = [];
  const walk = (v: unknown, where: string) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}/${i}`));
    else if (v && typeof v === 'object') {
      const o = v as Obj;
      if ((o.type === 'mrkdwn' || o.type === 'plain_text') && typeof o.text === 'string') found.push({ type: o.type, text: o.text, where });
      for (const [k, x] of Object.entries(o)) walk(x, `${where}/${k}`);
    }
  };
  walk(blocks, '');
  return found;
}

/** mrkdwn that could notify or link: special mentions, user/channel references, links. */
const CONTROL = /<[!@#]|<https?:/;

function expectValid(blocks: unknown[]): void {
  const verdict = validateBlocks(blocks);
  expect(verdict.ok ? [] : verdict.error === 'invalid_blocks' ? verdict.errors : [verdict.error]).toEqual([]);
  expect(blocks.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.blocksPerMessage);
}

describe('renderCardBlocks on a pathological card', () => {
  const card = pathologicalCard();
  const blocks = renderCardBlocks(card);

  it('passes Block Kit validation and stays within 50 blocks', () => {
    expectValid(blocks);
  });

  it('keeps the first buttons that fit the message size, at most 25 per actions block, and says how many are hidden', () => {
    const actions = blocks.filter((b) => b.type === 'actions') as unknown as Array<Obj & { elements: Obj[] }>;
    const shown = actions.reduce((n, a) => n + a.elements.length, 0);
    expect(shown).toBeGreaterThan(0);
    expect(actions.every((a) => a.elements.length <= 25)).toBe(true);
    const ids = actions.flatMap((a) => a.elements.map((e) => e.action_id));
    expect(ids).toEqual(card.buttons.slice(0, shown).map((b) => b.id));
    expect(JSON.stringify(blocks)).toContain(`${card.buttons.length - shown} more steps not shown`);
    const first = actions[0]!.elements[0] as { text: { text: string }; confirm: { title: { text: string }; style?: string } };
    expect([...first.text.text].length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.buttonText);
    expect(first.confirm.style).toBe('danger');
  });

  it('shows at most 10 fields', () => {
    const section = blocks.find((b) => b.type === 'section' && 'fields' in b) as { fields: unknown[] } | undefined;
    expect(section?.fields).toHaveLength(10);
  });

  it('escapes mrkdwn control characters from alert text everywhere', () => {
    const mrkdwn = textObjects(blocks).filter((t) => t.type === 'mrkdwn');
    const links = blocks.filter((b) => b.type === 'context');
    for (const t of mrkdwn) {
      // The links line is the one place the renderer writes <url|label> itself; checked below.
      if (t.where.startsWith(`/${blocks.indexOf(links[0]!)}/`)) continue;
      expect(t.text, t.where).not.toMatch(CONTROL);
    }
    const status = (blocks[1] as { text: { text: string } }).text.text;
    expect(status).toContain('&lt;!channel&gt; ping &lt;@U123&gt; &amp; &lt;https://evil.example|click here&gt;');
  });

  it('links only usable URLs, with their labels escaped', () => {
    const context = blocks.find((b) => b.type === 'context') as { elements: Array<{ text: string }> } | undefined;
    const text = context?.elements[0]?.text ?? '';
    expect(text).toBe(`<https://grafana.example/d/abc?var-instance=a:1&amp;from=now-1h|Dashboard ${INJECTION.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}>`);
    expect(text).not.toContain('|b');
    expect(text).not.toContain('a'.repeat(100));
  });

  it('keeps the serialized blocks under the size Slack refuses with msg_blocks_too_long', () => {
    // The fake refuses above DEFAULT_MAX_BLOCKS_JSON_CHARS (13,000, the size seen in live answers),
    // and msg_blocks_too_long is a permanent error: this card would never be posted.
    expect(JSON.stringify(blocks).length).toBeLessThanOrEqual(DEFAULT_MAX_BLOCKS_JSON_CHARS);
  });

  it('bounds the fallback text to 4,000 characters', () => {
    expect([...cardFallbackText(card)].length).toBeLessThanOrEqual(4000);
  });

  it('keeps links whole: a link that does not fit is left out, never cut in half', () => {
    const long = (n: number) => `https://grafana.example/d/${n}/${'p'.repeat(1990)}`;
    const out = renderCardBlocks({ ...card, links: [{ label: 'One', url: long(1) }, { label: 'Two', url: long(2) }] });
    expectValid(out);
    const text = (out.find((b) => b.type === 'context') as { elements: Array<{ text: string }> } | undefined)?.elements[0]?.text ?? '';
    // Every link the renderer writes is a complete <url|label>.
    const leftover = text.replace(/<https?:\/\/[^<>|\s]+\|[^<>]*>/g, '').replace(/\s*·\s*/g, '');
    expect(leftover.length > 60 ? `${leftover.slice(0, 30)}…${leftover.slice(-30)}` : leftover).toBe('');
  });

  it('stays within 50 blocks and the total size with thousands of buttons', () => {
    const huge = renderCardBlocks({ ...card, buttons: buttons(2000, 'Go') });
    expectValid(huge);
    expect(huge.length).toBeLessThanOrEqual(50);
    expect(JSON.stringify(huge).length).toBeLessThanOrEqual(DEFAULT_MAX_BLOCKS_JSON_CHARS);
  });

  it('shows every button of a card that fits, with no hidden-steps note', () => {
    const small = renderCardBlocks({ ...card, summary: 's', description: 'd', fields: [], steps: [], buttons: buttons(10, 'Go') });
    expectValid(small);
    const ids = small.filter((b) => b.type === 'actions').flatMap((b) => (b as unknown as { elements: Obj[] }).elements.map((e) => e.action_id));
    expect(ids).toHaveLength(10);
    expect(JSON.stringify(small)).not.toContain('not shown');
  });

  it('renders a minimal card', () => {
    const minimal: Card = { incidentId: '2', title: '#2 x', severity: 'none', status: 'resolved', statusLine: 'Resolved after 1m', fields: [], links: [], steps: [], buttons: [], fallbackText: 'x' };
    const out = renderCardBlocks(minimal);
    expectValid(out);
    expect(out.map((b) => b.type)).toEqual(['header', 'section']);
  });
});

describe('renderCardBlocks with a "More steps" menu', () => {
  const base = pathologicalCard();
  const small: Card = { ...base, summary: 's', description: 'd', fields: [], steps: [], links: [] };
  const withMenu = (n: number, label = 'Go'): Card => ({ ...small, buttons: buttons(4, 'Go'), menu: { label: 'More steps', options: buttons(n + 4, label).slice(4) } });
  const elements = (blocks: unknown[]) => (blocks as Array<Obj & { elements?: Obj[] }>).filter((b) => b.type === 'actions').flatMap((b) => b.elements ?? []);
  const optionsOf = (e: Obj) => e.options as Array<{ text: { text: string }; value: string; description?: { text: string } }>;

  it('puts the menu in the actions block after the buttons, one select of up to 100 options', () => {
    const blocks = renderCardBlocks(withMenu(30));
    expectValid(blocks);
    const els = elements(blocks);
    expect(els.map((e) => e.type)).toEqual(['button', 'button', 'button', 'button', 'static_select']);
    expect(els[4]).toMatchObject({ action_id: 'more-steps', placeholder: { type: 'plain_text', text: 'More steps' } });
    expect(optionsOf(els[4]!).map((o) => o.value)).toEqual(buttons(34).slice(4).map((b) => b.id));
    expect(JSON.stringify(blocks)).not.toContain('not shown');
  });

  it('marks a changing step\'s option and says it needs approval, within 75 characters, since a select has one confirm for all', () => {
    const blocks = renderCardBlocks(withMenu(3, 'R'.repeat(200)));
    expectValid(blocks);
    const [danger, plainOption] = optionsOf(elements(blocks)[4]!);
    expect(danger?.text.text.startsWith('⚠️ R')).toBe(true);
    expect([...(danger?.text.text ?? '')]).toHaveLength(BLOCK_KIT_LIMITS.optionText);
    expect([...(danger?.description?.text ?? '')].length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.optionText);
    expect(plainOption?.text.text.startsWith('⚠️')).toBe(false);
    expect(plainOption).not.toHaveProperty('description');
    expect(elements(blocks)[4]).not.toHaveProperty('confirm');
  });

  it('splits a menu of more than 100 options into numbered selects', () => {
    // Short ids and labels: at a realistic length 130 options would not fit Slack's message size.
    const options: CardButton[] = Array.from({ length: 130 }, (_, i) => ({ action: 'run-step', id: `s${i}`, label: 'G', value: `s${i}` }));
    const blocks = renderCardBlocks({ ...small, title: 't', statusLine: 's', buttons: [], menu: { label: 'More steps', options } });
    expectValid(blocks);
    const selects = elements(blocks).filter((e) => e.type === 'static_select');
    expect(selects.map((e) => e.action_id)).toEqual(['more-steps', 'more-steps:2']);
    expect(selects.map((e) => (e.placeholder as { text: string }).text)).toEqual(['More steps (1)', 'More steps (2)']);
    expect(selects.map((e) => optionsOf(e).length)).toEqual([100, 30]);
  });

  it('shows as many options as the message size allows and counts the rest as not shown', () => {
    const blocks = renderCardBlocks({ ...base, menu: { label: 'More steps', options: buttons(2000, 'L'.repeat(200)).slice(80) } });
    expectValid(blocks);
    expect(JSON.stringify(blocks).length).toBeLessThanOrEqual(DEFAULT_MAX_BLOCKS_JSON_CHARS);
    const shown = elements(blocks).reduce((n, e) => n + (e.type === 'static_select' ? optionsOf(e).length : 1), 0);
    expect(JSON.stringify(blocks)).toContain(`${80 + 1920 - shown} more steps not shown`);
  });

  it('reads a choice in the menu as the press of the button it stands for', () => {
    expect(pressedButtonId({ type: 'button', action_id: 'ack:1' })).toBe('ack:1');
    expect(pressedButtonId({ type: 'static_select', action_id: 'more-steps', selected_option: { value: 'run-step:1:gitcortex:restart' } })).toBe('run-step:1:gitcortex:restart');
    expect(pressedButtonId({ type: 'static_select', action_id: 'more-steps', selected_option: null })).toBeUndefined();
    expect(pressedButtonId({ type: 'static_select', action_id: 'more-steps' })).toBeUndefined();
  });
});

describe('renderThreadMessage on pathological input', () => {
  it('escapes and bounds plain text', () => {
    const { text, blocks } = renderThreadMessage({ text: `${INJECTION}\n${'y'.repeat(10_000)} ${INJECTION}` });
    expect(blocks).toBeUndefined();
    expect([...text].length).toBeLessThanOrEqual(4000);
    expect(text).not.toMatch(CONTROL);
    expect(text.startsWith('&lt;!channel&gt; ping &lt;@U123&gt; &amp; ')).toBe(true);
  });

  it('renders approval buttons within Block Kit limits and 50 blocks', () => {
    for (const n of [2, 80, 2000]) {
      const { text, blocks } = renderThreadMessage({ text: `${INJECTION} ${'z'.repeat(10_000)}`, buttons: buttons(n) });
      expectValid(blocks ?? []);
      expect(text).not.toMatch(CONTROL);
      for (const t of textObjects(blocks ?? []).filter((o) => o.type === 'mrkdwn')) expect(t.text).not.toMatch(CONTROL);
      expect(blocks?.[0]?.type).toBe('section');
      const count = (blocks ?? []).filter((b) => b.type === 'actions').flatMap((b) => (b as { elements: unknown[] }).elements).length;
      expect(count).toBe(Math.min(n, 49 * 25));
    }
  });
});

describe('renderCardBlocks on a card from buildCard', () => {
  const runbook = gitcortexRunbook();
  const labels = { alertname: 'HighLatency', service: 'gitcortex', instance: 'gitcortex-1:3001', severity: 'critical' };
  const incident: Incident = {
    id: 7,
    groupKey: '{}:{alertname="HighLatency", service="gitcortex"}',
    episode: 1,
    status: 'firing',
    severity: 'critical',
    title: 'HighLatency on gitcortex',
    receiver: 'chatops-bot',
    groupLabels: { alertname: 'HighLatency', service: 'gitcortex' },
    commonLabels: labels,
    commonAnnotations: { summary: 'p99 latency over 2s', description: 'Check the DB pool', runbook_url: 'https://wiki.example/gitcortex' },
    externalUrl: 'http://alertmanager.example:9093',
    truncatedAlerts: 0,
    previousIncidentId: null,
    targets: [],
    createdAt: at(0),
    updatedAt: at(0),
    lastSeenAt: at(0),
    resolvedAt: null,
    acknowledgement: null,
    silence: null,
    resolution: null,
    escalation: null,
  };
  const a = alert('gitcortex-1:3001', { severity: 'critical' });
  const alerts: StoredAlert[] = [{ incidentId: 7, fingerprint: a.fingerprint, status: 'firing', labels: a.labels, annotations: a.annotations, startsAt: a.startsAt, endsAt: null, generatorUrl: a.generatorURL }];
  const run: StepRun = {
    id: 3, incidentId: 7, runbook: 'gitcortex', step: 'status', stepTitle: 'Service status', params: {}, platform: 'slack', requestedBy: 'U0ALICE', requestedByName: 'alice',
    changes: false, requiredApprovals: 0, selfApprove: true, state: 'succeeded', createdAt: at(10), updatedAt: at(12), startedAt: at(11), finishedAt: at(12),
    result: { status: 'succeeded', summary: 'exit 0 in 0.3s', exitCode: 0, durationMs: 300, outputTail: '' },
    runner: 'replica-a',
    process: null,
  };
  const { offers, unavailable } = offersFor([runbook], labels);
  const card = buildCard({ incident, alerts, runs: [run], offers, unavailable });
  const blocks = renderCardBlocks(card);

  it('is valid Block Kit', () => {
    expectValid(blocks);
    expect(JSON.stringify(blocks).length).toBeLessThanOrEqual(DEFAULT_MAX_BLOCKS_JSON_CHARS);
  });

  it('has the header with the severity icon, the fields, the links and the step states', () => {
    expect(blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: '🔴 #7 HighLatency on gitcortex', emoji: true } });
    expect((blocks[1] as { text: { text: string } }).text.text).toBe('*Firing since 2026-11-22 01:37 UTC*\np99 latency over 2s');
    const fields = (blocks.find((b) => b.type === 'section' && 'fields' in b) as { fields: Array<{ text: string }> }).fields.map((f) => f.text);
    expect(fields).toEqual([
      '*Severity*\ncritical',
      '*Status*\nfiring (1 of 1)',
      '*Alerts*\nHighLatency',
      '*Service*\ngitcortex',
      '*Instance*\ngitcortex-1:3001',
      '*Started*\n2026-11-22 01:37 UTC',
    ]);
    const context = blocks.find((b) => b.type === 'context') as { elements: Array<{ text: string }> };
    const linkLine = context.elements[0]!.text;
    expect(linkLine).toContain('|Source>');
    expect(linkLine).toContain('<https://wiki.example/gitcortex|Runbook>');
    expect(linkLine).toMatch(/<http:\/\/alertmanager\.example:9093\/#\/alerts\?filter=[^|<>]+\|Alertmanager>/);
    // Each step line says when, what it did and who asked.
    expect(JSON.stringify(blocks)).toMatch(/✅ \*Service status\* — succeeded: \d\d:\d\d:\d\d · exit 0 in 0\.3s · requested by alice/);
  });

  it('has Acknowledge and the first three steps as buttons, danger with a confirm for steps that change something', () => {
    const [ack, ...elements] = blocks.filter((b) => b.type === 'actions').flatMap((b) => (b as unknown as { elements: JsonObject[] }).elements);
    expect(ack).toMatchObject({ action_id: 'ack:7', style: 'primary', text: { text: 'Acknowledge' } });
    const buttons = elements.filter((e) => e.type === 'button');
    expect(buttons.map((e) => e.action_id)).toEqual(offers.slice(0, 3).map((o) => `run-step:7:gitcortex:${o.step.id}`));
    expect(buttons.map((e) => (e.text as { text: string }).text)).toEqual(['Service status', 'Restart GitCortex', 'Flush caches']);
    const [status, restart] = buttons;
    expect(status).not.toHaveProperty('style');
    expect(status).not.toHaveProperty('confirm');
    expect(restart).toMatchObject({
      style: 'danger',
      confirm: {
        title: { type: 'plain_text', text: 'Run "Restart GitCortex"?' },
        text: { type: 'plain_text', text: 'This changes a system and needs 1 approval(s) before it runs.' },
        confirm: { text: 'Request' },
        deny: { text: 'Cancel' },
        style: 'danger',
      },
    });
  });

  it('puts the fifth action in a "More steps" select, its option marked as changing, with the button id as its value', () => {
    const elements = blocks.filter((b) => b.type === 'actions').flatMap((b) => (b as unknown as { elements: JsonObject[] }).elements);
    expect(elements.map((e) => e.type)).toEqual(['button', 'button', 'button', 'button', 'static_select']);
    expect(elements[4]).toEqual({
      type: 'static_select',
      action_id: 'more-steps',
      placeholder: { type: 'plain_text', text: 'More steps', emoji: true },
      options: [
        {
          text: { type: 'plain_text', text: '⚠️ Migrate schema', emoji: true },
          value: 'run-step:7:gitcortex:migrate',
          description: { type: 'plain_text', text: 'This changes a system and needs 2 approval(s) before it runs.', emoji: true },
        },
      ],
    });
    // Every offered step is reachable exactly once: as a button or as a menu option.
    const reachable = elements.flatMap((e) => (e.type === 'static_select' ? (e.options as JsonObject[]).map((o) => o.value) : [e.action_id]));
    expect(offers.every((o) => reachable.filter((id) => id === `run-step:7:gitcortex:${o.step.id}`).length === 1)).toBe(true);
  });

  it('escapes alert text in the fallback it sends as the message text', () => {
    // chat.postMessage `text` is mrkdwn and is what notifications show; thread replies escape theirs, the card's is not.
    const loud = buildCard({ incident: { ...incident, commonAnnotations: { summary: '<!channel> DB down, ask <@U0BOB>' } }, alerts, runs: [], offers, unavailable });
    expect(loud.summary).toBe('<!channel> DB down, ask <@U0BOB>');
    expect(cardFallbackText(loud).match(/<[!@#][^>]*>/g) ?? []).toEqual([]);
  });

  it('shows a resolved icon (not the severity\'s) and the resolved status line on a resolved card, without changing steps', () => {
    const resolved = buildCard({ incident: { ...incident, severity: 'warning', status: 'resolved', resolvedAt: at(720) }, alerts, runs: [], offers, unavailable });
    const out = renderCardBlocks(resolved);
    expectValid(out);
    expect((out[0] as { text: { text: string } }).text.text.startsWith('✅ ')).toBe(true);
    expect(JSON.stringify(out)).not.toContain('run-step:7:gitcortex:restart');
    expect(JSON.stringify(out)).toContain('run-step:7:gitcortex:status');
    expect((out[1] as { text: { text: string } }).text.text).toBe('*Resolved after 12m*\np99 latency over 2s');
  });
});

describe('redact', () => {
  const redact = createRedactor(['configured-secret-value', 'short', undefined, 'configured-secret-value-longer']);

  it('replaces configured secrets, the longest first, and ignores very short ones', () => {
    expect(redact('a configured-secret-value-longer b configured-secret-value c')).toBe(`a ${REDACTED} b ${REDACTED} c`);
    expect(redact('short stays')).toBe('short stays');
  });

  it('replaces common token shapes', () => {
    const cases: Array<[string, string]> = [
      ['token xoxb-1234567890-abcdefghij in output', `token ${REDACTED} in output`],
      ['xoxp-1-abcdefghij and xapp-1-A0-12345678', `${REDACTED} and ${REDACTED}`],
      ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig', `Authorization: Bearer ${REDACTED}`],
      ['DATABASE_URL=postgres://bot:s3cr3t-pass@db.internal:5432/bot', `DATABASE_URL=postgres://bot:${REDACTED}@db.internal:5432/bot`],
      ['password=hunter22 user=x', `password=${REDACTED} user=x`],
      ['PASSWORD: hunter22', `PASSWORD: ${REDACTED}`],
      ['curl "https://api.example/x?api_key=abcd1234&q=1"', `curl "https://api.example/x?api_key=${REDACTED}&q=1"`],
      ['secret = topsecret', `secret = ${REDACTED}`],
    ];
    for (const [input, expected] of cases) expect(redact(input), input).toBe(expected);
  });

  it('leaves ordinary text alone', () => {
    const text = 'exit 0 in 1.2s: restarted gitcortex on gitcortex-1:3001 (https://wiki.example/page)';
    expect(redact(text)).toBe(text);
  });

  it('redacts passwords in JSON output', () => {
    // A step printing its config as JSON is common; "password": "…" has a quote between key and colon.
    expect(redact('{"user":"bot","password":"hunter22"}')).not.toContain('hunter22');
  });
});
