import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine, EngineOptions } from '../../../src/core/engine.js';
import { createMetrics } from '../../../src/metrics.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { alert, at, GROUP_KEY, manualClock, notification, testEngine } from './factories.js';

/** A notification as the webhook hands it over: the validated payload and the body it came in. */
const delivered = (n: ReturnType<typeof notification>) => [n, JSON.stringify(n)] as const;

describe('the inbox: notifications acknowledged first, recorded right after', () => {
  let store: SqliteStore;
  let engine: Engine;
  let metrics: ReturnType<typeof createMetrics>;
  const clock = manualClock();

  const makeEngine = (overrides: Partial<EngineOptions> = {}) => testEngine(store, { clock: clock.now, metrics, ingestQueueAbove: 0, ...overrides });
  const incidents = () => store.transaction((tx) => tx.listIncidents({ limit: 100 }));
  const waiting = () => store.transaction((tx) => tx.countQueuedNotifications());

  beforeEach(() => {
    clock.set(Date.parse(at(0)));
    store = new SqliteStore(':memory:');
    metrics = createMetrics(() => Promise.resolve(0));
    engine = makeEngine();
  });
  afterEach(() => store.close());

  it('queues while busy (here: always), then records in the order received, each once', async () => {
    const firing = notification([alert('gitcortex-1:3001')]);
    const joined = notification([alert('gitcortex-1:3001'), alert('gitcortex-2:3001')]);
    const resolved = notification([alert('gitcortex-1:3001', { status: 'resolved' }), alert('gitcortex-2:3001', { status: 'resolved' })]);
    const other = notification([alert('db-1:5432')], { groupKey: '{}:{alertname="DiskFull"}' });
    const answers = [];
    for (const n of [firing, joined, firing, other, resolved]) answers.push(await engine.accept(...delivered(n)));
    expect(answers.map((a) => a.outcome)).toEqual(['queued', 'queued', 'queued', 'queued', 'queued']);
    expect(await incidents(), 'nothing recorded before the worker runs').toEqual([]);
    expect(await waiting()).toEqual({ waiting: 5, failed: 0 });

    await engine.inbox.runOnce();
    expect(await waiting()).toEqual({ waiting: 0, failed: 0 });
    const all = await incidents();
    // One incident per group: the repeat of `firing` was a duplicate, and `resolved` came after
    // `joined` (recorded in order, so the group is resolved, not opened again).
    expect(all.map((i) => [i.groupKey, i.status])).toEqual(
      expect.arrayContaining([
        [GROUP_KEY, 'resolved'],
        ['{}:{alertname="DiskFull"}', 'firing'],
      ]),
    );
    expect(all).toHaveLength(2);
    const main = all.find((i) => i.groupKey === GROUP_KEY)!;
    expect(await store.transaction((tx) => tx.listAlerts(main.id))).toHaveLength(2);
    const kinds = (await store.transaction((tx) => tx.listAudit(main.id))).map((e) => e.kind);
    expect(kinds).toEqual(['alert.received', 'alert.joined', 'incident.resolved']);
    const received = await metrics.registry.getSingleMetricAsString('chatops_notifications_received_total');
    expect(received).toContain('result="stored"} 4');
    expect(received).toContain('result="duplicate"} 1');
  });

  it('a quiet bot records at once, unless an older notification of the same group still waits', async () => {
    const quiet = makeEngine({ ingestQueueAbove: 4 });
    const first = await quiet.accept(...delivered(notification([alert('gitcortex-1:3001')])));
    expect(first).toMatchObject({ outcome: 'recorded', created: true, duplicate: false });

    // Something of another group waits in the inbox: it does not hold this group back.
    await engine.accept(...delivered(notification([alert('db-1:5432')], { groupKey: 'other' })));
    const second = await quiet.accept(...delivered(notification([alert('gitcortex-1:3001'), alert('gitcortex-2:3001')])));
    expect(second).toMatchObject({ outcome: 'recorded', created: false });

    // Now one of this group waits: the next one queues behind it, and both are recorded in order.
    await engine.accept(...delivered(notification([alert('gitcortex-1:3001', { status: 'resolved' }), alert('gitcortex-2:3001')])));
    const behind = await quiet.accept(...delivered(notification([alert('gitcortex-1:3001', { status: 'resolved' }), alert('gitcortex-2:3001', { status: 'resolved' })])));
    expect(behind.outcome).toBe('queued');
    await quiet.inbox.runOnce();
    const [incident] = (await incidents()).filter((i) => i.groupKey === GROUP_KEY);
    expect(incident?.status).toBe('resolved');
    const kinds = (await store.transaction((tx) => tx.listAudit(incident!.id))).map((e) => e.kind);
    expect(kinds).toEqual(['alert.received', 'alert.joined', 'alert.resolved', 'incident.resolved']);
  });

  it('a notification that no longer passes the schema is put aside at once, with its error; its group goes on', async () => {
    // A body that no longer passes the schema (as after an upgrade that changed it): no retry helps.
    await store.transaction((tx) => tx.queueNotification({ groupKey: GROUP_KEY, receivedAt: at(0), body: '{"version":"3"}' }));
    await engine.accept(...delivered(notification([alert('gitcortex-1:3001')])));
    await engine.inbox.runOnce();
    expect(await waiting()).toEqual({ waiting: 1, failed: 1 });
    await engine.inbox.runOnce();
    expect(await waiting()).toEqual({ waiting: 0, failed: 1 });
    expect((await incidents()).map((i) => i.groupKey)).toEqual([GROUP_KEY]);
    const [kept] = store['db'].prepare('SELECT attempts, last_error, failed_at FROM inbox').all() as Array<{ attempts: number; last_error: string; failed_at: string }>;
    expect(kept).toMatchObject({ attempts: 1, failed_at: at(0) });
    expect(kept?.last_error).toMatch(/version/);
  });

  it('at shutdown stops a long backlog after the current slice; what is left waits for the next start', async () => {
    const groups = Array.from({ length: 600 }, (_, k) => `group-${k}`);
    for (const groupKey of groups) await engine.accept(...delivered(notification([alert(`${groupKey}:1`)], { groupKey })));
    engine.inbox.start();
    await engine.inbox.drain(0);
    const left = (await waiting()).waiting;
    expect(left, 'the running tick stopped early').toBeGreaterThan(0);
    expect((await incidents()).length).toBe(600 - left);

    const next = makeEngine();
    await next.inbox.runOnce();
    expect(await waiting()).toEqual({ waiting: 0, failed: 0 });
    expect(new Set((await store.transaction((tx) => tx.listIncidents({ limit: 1000 }))).map((i) => i.groupKey))).toEqual(new Set(groups));
  });

  it('refuses new notifications once the inbox holds its limit, and takes them again when it drained', async () => {
    const small = makeEngine({ inboxLimit: 2 });
    for (const instance of ['a:1', 'b:1']) {
      expect((await small.accept(...delivered(notification([alert(instance)], { groupKey: instance })))).outcome).toBe('queued');
    }
    expect(await small.accept(...delivered(notification([alert('c:1')], { groupKey: 'c:1' })))).toEqual({ outcome: 'inbox_full', waiting: 2 });
    await small.inbox.runOnce();
    expect((await small.accept(...delivered(notification([alert('c:1')], { groupKey: 'c:1' })))).outcome).toBe('queued');
  });
});
