import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acknowledgeIncident } from '../../../src/core/acknowledge.js';
import { buildCard } from '../../../src/core/card-builder.js';
import type { ThreadMessage } from '../../../src/core/card.js';
import { EscalationWorker } from '../../../src/core/escalation.js';
import { defaultEscalation, escalationSchema, loadEscalation, type EscalationConfig } from '../../../src/settings/escalation.js';
import { alwaysLeader, type Leadership } from '../../../src/core/ports/leadership.js';
import { recordNotification } from '../../../src/core/notifications.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { ALICE, T0, alert, manualClock, notification, silentLog } from './factories.js';

const MIN = 60_000;
const TARGETS = [
  { platform: 'slack', channel: 'C0ALERTS' },
  { platform: 'discord', channel: '1203040506070809' },
];

describe('escalation of unacknowledged incidents', () => {
  let dir: string;
  let store: SqliteStore;
  let clock: ReturnType<typeof manualClock>;

  let groups = 0;
  const open = async (severity = 'critical', labels: Record<string, string> = {}) => {
    groups += 1;
    const n = notification([alert('gitcortex-1:3001', { severity, labels })], { groupKey: `group-${groups}` });
    return (await store.transaction((tx) => recordNotification(tx, n, clock.now().toISOString(), TARGETS))).incidentId;
  };
  const worker = (config: EscalationConfig = defaultEscalation(), s: SqliteStore = store, leadership: Leadership = alwaysLeader) =>
    new EscalationWorker({ store: s, config, leadership, clock: clock.now, log: silentLog, onQueued: () => undefined });
  /** The escalation messages queued for one platform, oldest first. */
  const escalations = async (platform = 'slack') =>
    (await store.transaction((tx) => tx.pendingOutbox(1000)))
      .filter((m) => m.platform === platform && m.kind === 'reply' && (m.payload as ThreadMessage).text.startsWith('⏰'))
      .map((m) => m.payload as ThreadMessage);
  const audited = async (incidentId: number) => (await store.transaction((tx) => tx.listAudit(incidentId))).filter((e) => e.kind === 'incident.escalated');

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'escalation-'));
    store = new SqliteStore(path.join(dir, 'bot.db'));
    clock = manualClock(T0);
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('escalates a critical incident at 5 minutes, then every 10 minutes, with the right level each time', async () => {
    const id = await open('critical');
    const w = worker();
    const firedAt: number[] = [];
    for (let minute = 0; minute <= 30; minute += 1) {
      clock.set(T0 + minute * MIN);
      const before = (await audited(id)).length;
      await w.runOnce();
      if ((await audited(id)).length > before) firedAt.push(minute);
    }
    expect(firedAt).toEqual([5, 15, 25]);
    const events = await audited(id);
    expect(events.map((e) => e.data.level)).toEqual([1, 2, 3]);
    expect(events.map((e) => e.actor)).toEqual(['system', 'system', 'system']);
    expect(events[0]!.text).toBe(
      '⏰ Escalation 1: this critical incident has not been acknowledged for 5m (expected within 5m). Press *Acknowledge* to take it; this repeats every 10m until someone does.',
    );
    // Re-announced in each thread, and the card says so.
    expect((await escalations('slack')).length).toBe(3);
    expect((await escalations('discord')).length).toBe(3);
    const incident = (await store.transaction((tx) => tx.getIncident(id)))!;
    expect(incident.escalation).toEqual({ level: 3, at: new Date(T0 + 25 * MIN).toISOString() });
    const card = buildCard({ incident, alerts: [], runs: [], offers: [], unavailable: [] });
    expect(card.statusLine).toContain('⏰ escalated (level 3)');
    expect(card.fields).toContainEqual({ label: 'Escalated', value: 'level 3 (last 2026-11-22 02:02 UTC); nobody has acknowledged it' });
  });

  it('escalates a warning at 30 minutes and never an info incident', async () => {
    const warning = await open('warning');
    const info = await open('info', { alertname: 'GitCortexDown' });
    const w = worker();
    clock.set(T0 + 29 * MIN);
    await w.runOnce();
    expect(await audited(warning)).toHaveLength(0);
    clock.set(T0 + 30 * MIN);
    await w.runOnce();
    clock.set(T0 + 24 * 60 * MIN);
    await w.runOnce();
    expect((await audited(warning)).map((e) => e.data.level)).toEqual([1, 48]);
    expect(await audited(info)).toHaveLength(0);
  });

  it('jumps to the current level once after a long pause instead of posting every missed level', async () => {
    const id = await open('critical');
    clock.set(T0 + 60 * MIN);
    await worker().runOnce();
    expect((await audited(id)).map((e) => e.data.level)).toEqual([6]);
  });

  it('never escalates after an acknowledgement, nor a resolved incident', async () => {
    const acked = await open('critical');
    const w = worker();
    clock.set(T0 + 5 * MIN);
    await w.runOnce();
    await store.transaction((tx) => acknowledgeIncident(tx, ALICE, acked, new Date(T0 + 6 * MIN).toISOString()));
    clock.set(T0 + 3 * 60 * MIN);
    await w.runOnce();
    expect((await audited(acked)).map((e) => e.data.level)).toEqual([1]);
    const incident = (await store.transaction((tx) => tx.getIncident(acked)))!;
    expect(buildCard({ incident, alerts: [], runs: [], offers: [], unavailable: [] }).fields.map((f) => f.label)).not.toContain('Escalated');

    clock.set(T0);
    const n = notification([alert('other:1', { severity: 'critical' })], { groupKey: 'resolved-group' });
    const { incidentId: resolved } = await store.transaction((tx) => recordNotification(tx, n, new Date(T0).toISOString(), TARGETS));
    await store.transaction((tx) => tx.updateIncident(resolved, { status: 'resolved', resolvedAt: new Date(T0 + MIN).toISOString() }));
    clock.set(T0 + 60 * MIN);
    await w.runOnce();
    expect(await audited(resolved)).toHaveLength(0);
    // The conditional claim refuses too, whatever a caller believes the level is.
    expect(await store.transaction((tx) => tx.advanceEscalation(resolved, 0, 1, new Date(T0 + 60 * MIN).toISOString()))).toBe(false);
    expect(await store.transaction((tx) => tx.advanceEscalation(acked, 1, 2, new Date(T0 + 60 * MIN).toISOString()))).toBe(false);
  });

  it('fires one escalation when several workers check at the same moment', async () => {
    const id = await open('critical');
    clock.set(T0 + 5 * MIN);
    await Promise.all([worker().runOnce(), worker().runOnce(), worker().runOnce()]);
    expect((await audited(id)).map((e) => e.data.level)).toEqual([1]);
    expect(await escalations('slack')).toHaveLength(1);
    // The claim itself is conditional: a worker that read level 0 before another advanced it loses.
    expect(await store.transaction((tx) => tx.advanceEscalation(id, 0, 1, new Date(T0 + 5 * MIN).toISOString()))).toBe(false);
  });

  it('does nothing on a replica that is not the leader', async () => {
    const id = await open('critical');
    let leader = false;
    const w = worker(defaultEscalation(), store, { isLeader: () => leader, start: () => Promise.resolve(), stop: () => Promise.resolve() });
    clock.set(T0 + 5 * MIN);
    await w.runOnce();
    expect(await audited(id)).toHaveLength(0);
    leader = true;
    await w.runOnce();
    expect(await audited(id)).toHaveLength(1);
  });

  it('applies the first matching rule: its timing and its targets, mentioned per platform', async () => {
    const config = escalationSchema.parse({
      targets: { slack: [{ group: 'S0ONCALL', name: 'oncall' }] },
      rules: [
        { match: { alertname: 'DatabaseDown' }, after: '5m', every: '5m', targets: { slack: [{ user: 'U0DBA' }], discord: [{ role: '987654321098765432', name: 'dba' }] } },
        { match: { alertname: 'DiskFull' }, after: '1h', every: '1h' },
        { match: { alertname: 'Flapping' }, escalate: false },
      ],
    });
    const db = await open('critical', { alertname: 'DatabaseDown' });
    const w = worker(config);
    clock.set(T0 + 10 * MIN);
    await w.runOnce();
    expect((await audited(db)).map((e) => e.data.level)).toEqual([2]);
    expect((await audited(db))[0]!.data.mentions).toEqual(['slack:user:U0DBA', 'discord:role:987654321098765432']);
    const [message] = await escalations('discord');
    expect(message?.mentions).toEqual([
      { platform: 'slack', kind: 'user', id: 'U0DBA' },
      { platform: 'discord', kind: 'role', id: '987654321098765432', name: 'dba' },
    ]);
  });
});

describe('escalation file', () => {
  it('loads a valid file, and names the file and the path of every problem', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'escalation-file-'));
    try {
      const good = path.join(dir, 'good.yaml');
      await writeFile(good, "severities:\n  warning: { after: 1h, every: 30m }\n  info: null\ntargets:\n  discord: [{ user: '123456789012345678' }]\n");
      const config = await loadEscalation(good);
      expect(config.severities.warning).toEqual({ after: 60 * MIN, every: 30 * MIN });
      expect(config.targets.discord).toEqual([{ user: '123456789012345678' }]);
      const bad = path.join(dir, 'bad.yaml');
      await writeFile(bad, "severities:\n  critical: { after: soon, every: 5m }\ntargets:\n  slack: [{ user: '@alice' }]\nrules:\n  - match: { alertname: X }\n    afterr: 5m\n");
      const error = await loadEscalation(bad).catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(Error);
      const message = (error as Error).message;
      expect(message).toContain(`${bad}: severities.critical.after: must be a duration like 30s, 5m, 1h, 1h30m or 7d`);
      expect(message).toContain(`${bad}: targets.slack.0`);
      expect(message).toMatch(new RegExp(`${bad}: rules.0: Unrecognized key: "afterr"`));
      expect(await loadEscalation(undefined)).toEqual(defaultEscalation());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('shipped escalation example', () => {
  it('is valid and encodes the reference alert table', async () => {
    const config = await loadEscalation(path.resolve('manifests/escalation.example.yaml'));
    const after = (alertname: string) => config.rules.find((r) => r.match.alertname === alertname)?.after;
    expect([after('DatabaseDown'), after('ErrorRate'), after('HighLatency'), after('DiskFull')]).toEqual([5 * MIN, 15 * MIN, 30 * MIN, 60 * MIN]);
  });
});
