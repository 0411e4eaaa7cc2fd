import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCard } from '../../../src/core/card-builder.js';
import { MAX_PRIMARY_BUTTONS, layoutButtons } from '../../../src/core/card-layout.js';
import type { Card } from '../../../src/core/card.js';
import type { Incident, StoredAlert } from '../../../src/core/domain.js';
import { offersFor } from '../../../src/core/offers.js';
import { loadRunbooks, parseRunbook } from '../../../src/runbooks/loader.js';
import type { Runbook } from '../../../src/runbooks/schema.js';
import { alert, at, gitcortexRunbook } from './factories.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function incidentOf(labels: Record<string, string>, overrides: Partial<Incident> = {}): Incident {
  return {
    id: 1,
    groupKey: `{}:{alertname="${labels.alertname}", service="${labels.service}"}`,
    episode: 1,
    status: 'firing',
    severity: 'critical',
    title: `${labels.alertname} on ${labels.service}`,
    receiver: 'chatops-bot',
    groupLabels: { alertname: labels.alertname ?? '', service: labels.service ?? '' },
    commonLabels: labels,
    commonAnnotations: { summary: 'down' },
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
    ...overrides,
  };
}

function cardFor(runbooks: readonly Runbook[], labels: Record<string, string>, o: { silencing?: boolean; incident?: Partial<Incident> } = {}): { card: Card; offered: string[] } {
  const a = alert(labels.instance ?? 'x:1', { labels });
  const alerts: StoredAlert[] = [{ incidentId: 1, fingerprint: a.fingerprint, status: 'firing', labels: a.labels, annotations: a.annotations, startsAt: a.startsAt, endsAt: null, generatorUrl: a.generatorURL }];
  const { offers, unavailable } = offersFor(runbooks, labels, alerts);
  const card = buildCard({ incident: incidentOf(labels, o.incident), alerts, runs: [], offers, unavailable, silencing: o.silencing ?? false });
  return { card, offered: offers.map((x) => `run-step:1:${x.runbook.name}:${x.step.id}`) };
}

const ids = (card: Card) => card.buttons.map((b) => b.id);
const menuIds = (card: Card) => card.menu?.options.map((b) => b.id) ?? [];

describe('card layout: at most four primary buttons, every other step in "More steps"', () => {
  const latency = { alertname: 'HighLatency', service: 'gitcortex', instance: 'gitcortex-1:3001', severity: 'critical' };

  it('leaves a card of four actions or fewer exactly as it was, with no menu', () => {
    const three = parseRunbook(
      `
name: small
match: { service: gitcortex }
steps:
  - { id: check, title: Check, action: exec, run: ['true'] }
  - { id: restart, title: Restart, action: exec, run: ['true'], changes: true }
`,
      'small.yaml',
    );
    const { card } = cardFor([three], latency);
    expect(ids(card)).toEqual(['ack:1', 'run-step:1:small:check', 'run-step:1:small:restart']);
    expect(card).not.toHaveProperty('menu');
  });

  it('keeps Acknowledge first, then the first steps in runbook order, and the rest in the menu in runbook order', () => {
    const { card, offered } = cardFor([gitcortexRunbook()], latency);
    expect(offered).toHaveLength(4);
    expect(ids(card)).toEqual(['ack:1', ...offered.slice(0, 3)]);
    expect(card.menu).toMatchObject({ label: 'More steps' });
    expect(menuIds(card)).toEqual(offered.slice(3));
  });

  it('puts steps marked primary: true before the first ones, and Silence with Acknowledge', () => {
    const marked = gitcortexRunbook().steps.map((s) => (s.id === 'migrate' ? { ...s, primary: true } : s));
    const runbook = { ...gitcortexRunbook(), steps: marked };
    const { card, offered } = cardFor([runbook], latency, { silencing: true });
    expect(ids(card)).toEqual(['ack:1', 'silence:1', 'run-step:1:gitcortex:migrate', 'run-step:1:gitcortex:status']);
    expect(menuIds(card)).toEqual(['run-step:1:gitcortex:restart', 'run-step:1:gitcortex:flush']);
    expect(new Set([...ids(card), ...menuIds(card)])).toEqual(new Set(['ack:1', 'silence:1', ...offered]));
  });

  it('keeps a changing step in the menu dangerous, with the confirmation its button has', () => {
    const { card } = cardFor([gitcortexRunbook()], latency);
    const migrate = card.menu?.options.find((b) => b.id === 'run-step:1:gitcortex:migrate');
    expect(migrate).toMatchObject({ action: 'run-step', value: 'run-step:1:gitcortex:migrate', label: 'Migrate schema', style: 'danger' });
    expect(migrate?.confirm?.text).toBe('This changes a system and needs 2 approval(s) before it runs.');
  });

  it('gives the room Acknowledge leaves once acknowledged to one more step', () => {
    const acknowledged = { acknowledgement: { by: 'U1', byName: 'alice', platform: 'slack', at: at(5) } } as Partial<Incident>;
    const { card, offered } = cardFor([gitcortexRunbook()], latency, { incident: acknowledged });
    expect(ids(card)).toEqual(offered);
    expect(card).not.toHaveProperty('menu');
  });

  it('keeps lifecycle buttons even beyond four, and never puts them in the menu', () => {
    const button = (id: string, action: Card['buttons'][number]['action']) => ({ action, id, label: id, value: id });
    const lifecycle = [button('ack:1', 'ack'), button('resolve:1', 'resolve'), button('silence:1', 'silence')];
    const steps = ['a', 'b', 'c'].map((s) => button(`run-step:1:x:${s}`, 'run-step'));
    const split = layoutButtons([...lifecycle, ...steps], []);
    expect(split.buttons.map((b) => b.id)).toEqual(['ack:1', 'resolve:1', 'silence:1', 'run-step:1:x:a']);
    expect(split.menu?.options.map((b) => b.id)).toEqual(['run-step:1:x:b', 'run-step:1:x:c']);
  });
});

describe('card layout of the shipped GitCortex runbooks', () => {
  let runbooks: Runbook[];
  beforeAll(async () => {
    runbooks = (await loadRunbooks(path.join(ROOT, 'manifests', 'runbooks'))).filter((r) => r.name.startsWith('gitcortex'));
  });
  const down = { alertname: 'GitCortexDown', service: 'gitcortex', job: 'gitcortex', instance: 'gitcortex-1:3001', severity: 'critical' };

  it('shows at most four buttons for the twenty steps a GitCortexDown offers, and every other step in the menu', () => {
    const { card, offered } = cardFor(runbooks, down);
    expect(offered).toHaveLength(20);
    expect(card.buttons.length).toBeLessThanOrEqual(MAX_PRIMARY_BUTTONS);
    // Acknowledge, the health check the runbook marks primary, then the first steps in runbook order.
    expect(ids(card)).toEqual(['ack:1', 'run-step:1:gitcortex:health', 'run-step:1:gitcortex-down:port', 'run-step:1:gitcortex-down:disk']);
    expect(menuIds(card)).toEqual(offered.filter((id) => !ids(card).includes(id)));
    expect(new Set([...ids(card), ...menuIds(card)])).toEqual(new Set(['ack:1', ...offered]));
    const changing = card.menu?.options.filter((b) => b.style === 'danger').map((b) => b.id.split(':').slice(2).join('/'));
    expect(changing).toEqual(['gitcortex-recovery/checkpoint', 'gitcortex-recovery/stop', 'gitcortex-recovery/restore', 'gitcortex-recovery/start', 'gitcortex-recovery/rollback-release', 'gitcortex-recovery/config-restore', 'gitcortex/restart']);
    expect(card.menu?.options.filter((b) => b.style === 'danger').every((b) => b.confirm !== undefined)).toBe(true);
  });

  it('gives Silence a place among the four when silences can be made', () => {
    const { card } = cardFor(runbooks, down, { silencing: true });
    expect(ids(card)).toEqual(['ack:1', 'silence:1', 'run-step:1:gitcortex:health', 'run-step:1:gitcortex-down:port']);
  });
});
