import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertmanagerNotification } from '../../../src/core/alertmanager-payload.js';
import { firstBrokenLink } from '../../../src/core/audit.js';
import type { OutboxMessage } from '../../../src/core/domain.js';
import type { DeliveryTarget } from '../../../src/core/events.js';
import { incidentTitle, notificationKey, recordNotification } from '../../../src/core/notifications.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { GROUP_KEY, alert, at, notification } from './factories.js';

const TARGETS: DeliveryTarget[] = [
  { platform: 'slack', channel: 'C0ALERTS' },
  { platform: 'discord', channel: '1234567890' },
];

let store: SqliteStore;

beforeEach(() => {
  store = new SqliteStore(':memory:');
});

afterEach(async () => {
  await store.close();
});

const ingest = (n: AlertmanagerNotification, s: number, targets: readonly DeliveryTarget[] = TARGETS) =>
  store.transaction((tx) => recordNotification(tx, n, at(s), targets));

const incident = (id: number) => store.transaction((tx) => tx.getIncident(id));
const audit = (id: number) => store.transaction((tx) => tx.listAudit(id));
const outbox = () => store.transaction((tx) => tx.pendingOutbox(1000));
const alertsOf = (id: number) => store.transaction((tx) => tx.listAlerts(id));

/** Outbox rows as [kind, platform, text] for compact assertions. */
const rows = (messages: OutboxMessage[]) =>
  messages.map((m) => [m.kind, m.platform, m.kind === 'reply' ? (m.payload as { text: string }).text : null] as const);

/** Marks every pending message as sent, as the outbox worker would after delivering. */
async function deliverAll(): Promise<void> {
  await store.transaction(async (tx) => {
    for (const m of await tx.pendingOutbox(1000)) await tx.completeOutbox(m.id, at(0));
  });
}

const A = alert('gitcortex-1:3001');
const B = alert('gitcortex-2:3001');
const C = alert('gitcortex-3:3001', { startsAt: 60 });

describe('recordNotification', () => {
  it('opens incident episode 1 for a new group, audits alert.received and queues a card and a reply per target', async () => {
    const result = await ingest(notification([A, B]), 0);

    expect(result).toEqual({ incidentId: 1, duplicate: false, created: true, targets: TARGETS });
    expect(await incident(1)).toMatchObject({
      groupKey: GROUP_KEY,
      episode: 1,
      status: 'firing',
      severity: 'warning',
      title: 'HighLatency on gitcortex',
      receiver: 'chatops-bot',
      previousIncidentId: null,
      createdAt: at(0),
      resolvedAt: null,
      commonLabels: { alertname: 'HighLatency', service: 'gitcortex', severity: 'warning' },
    });
    expect((await alertsOf(1)).map((a) => [a.fingerprint, a.status, a.endsAt])).toEqual(
      [A, B].map((a) => [a.fingerprint, 'firing', null]).sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );

    const events = await audit(1);
    expect(events.map((e) => [e.kind, e.actor])).toEqual([['alert.received', 'system']]);
    expect(events[0]?.text).toBe('🚨 Incident #1 opened: HighLatency on gitcortex (2 alerts, warning).');
    expect(events[0]?.data).toEqual({ groupKey: GROUP_KEY, episode: 1, status: 'firing', fingerprints: [A.fingerprint, B.fingerprint], previousIncidentId: null });
    expect(firstBrokenLink(events)).toBeUndefined();

    const queued = await outbox();
    expect(rows(queued)).toEqual([
      ['card', 'slack', null],
      ['card', 'discord', null],
      ['reply', 'slack', events[0]?.text],
      ['reply', 'discord', events[0]?.text],
    ]);
    const perTarget = TARGETS.map((t) => [t.channel, 1, at(0)]);
    expect(queued.map((m) => [m.channel, m.incidentId, m.nextAttemptAt])).toEqual([...perTarget, ...perTarget]);
  });

  it('treats an identical payload as a duplicate: no new audit, no new outbox rows, only lastSeenAt moves', async () => {
    const n = notification([A, B]);
    await ingest(n, 0);
    const before = { audit: await audit(1), outbox: await outbox(), incident: await incident(1) };

    // What a retry or an HA peer sends: the same JSON again.
    const again = JSON.parse(JSON.stringify(n)) as AlertmanagerNotification;
    expect(await ingest(again, 30)).toEqual({ incidentId: 1, duplicate: true, created: false, targets: TARGETS });
    expect(await ingest(n, 45)).toEqual({ incidentId: 1, duplicate: true, created: false, targets: TARGETS });

    expect(await audit(1)).toEqual(before.audit);
    expect(await outbox()).toEqual(before.outbox);
    expect(await incident(1)).toEqual({ ...before.incident, lastSeenAt: at(45) });
    expect(await store.transaction((tx) => tx.listIncidents({ limit: 10 }))).toHaveLength(1);
  });

  it('treats the same alerts in another order as a duplicate', async () => {
    await ingest(notification([A, B, C]), 0);
    const before = { audit: await audit(1), outbox: await outbox() };
    expect(notificationKey(notification([C, A, B]))).toBe(notificationKey(notification([A, B, C])));

    expect(await ingest(notification([C, A, B]), 10)).toMatchObject({ duplicate: true });
    expect(await ingest(notification([B, C, A]), 20)).toMatchObject({ duplicate: true });
    expect(await audit(1)).toEqual(before.audit);
    expect(await outbox()).toEqual(before.outbox);
  });

  it('announces an alert joining the group, and dedupes the card sync while one is pending', async () => {
    await ingest(notification([A, B]), 0);
    expect(await ingest(notification([A, B, C]), 60)).toEqual({ incidentId: 1, duplicate: false, created: false, targets: TARGETS });

    const events = await audit(1);
    expect(events.map((e) => e.kind)).toEqual(['alert.received', 'alert.joined']);
    expect(events[1]).toMatchObject({ text: '➕ 1 alert joined: gitcortex-3:3001.', data: { fingerprints: [C.fingerprint] } });
    // The cards queued by the first notification are still pending, so no second card per target.
    expect(rows(await outbox())).toEqual([
      ['card', 'slack', null],
      ['card', 'discord', null],
      ['reply', 'slack', events[0]?.text],
      ['reply', 'discord', events[0]?.text],
      ['reply', 'slack', events[1]?.text],
      ['reply', 'discord', events[1]?.text],
    ]);
    expect((await alertsOf(1)).map((a) => a.fingerprint)).toContain(C.fingerprint);
    expect(firstBrokenLink(events)).toBeUndefined();
  });

  it('queues a new card sync per target once the pending ones were sent', async () => {
    await ingest(notification([A]), 0);
    await deliverAll();
    await ingest(notification([A, B]), 10);
    expect(rows(await outbox())).toEqual([
      ['card', 'slack', null],
      ['card', 'discord', null],
      ['reply', 'slack', '➕ 1 alert joined: gitcortex-2:3001.'],
      ['reply', 'discord', '➕ 1 alert joined: gitcortex-2:3001.'],
    ]);
    // One of the two cards sent, the other still pending: only the sent one is queued again.
    await store.transaction(async (tx) => {
      const slackCard = (await tx.pendingOutbox(10)).find((m) => m.kind === 'card' && m.platform === 'slack');
      await tx.completeOutbox(slackCard!.id, at(11));
    });
    await ingest(notification([A, B, C]), 70);
    const cards = (await outbox()).filter((m) => m.kind === 'card').map((m) => m.platform);
    expect(cards.sort()).toEqual(['discord', 'slack']);
  });

  it('announces one alert resolving while the group still fires', async () => {
    await ingest(notification([A, B]), 0);
    const resolvedB = alert('gitcortex-2:3001', { status: 'resolved' });
    expect(resolvedB.fingerprint).toBe(B.fingerprint);
    await ingest(notification([A, resolvedB]), 300);

    const events = await audit(1);
    expect(events.map((e) => e.kind)).toEqual(['alert.received', 'alert.resolved']);
    expect(events[1]).toMatchObject({ text: '☑️ 1 alert resolved: gitcortex-2:3001.', data: { fingerprints: [B.fingerprint] } });
    expect(await incident(1)).toMatchObject({ status: 'firing', resolvedAt: null });
    const stored = (await alertsOf(1)).find((a) => a.fingerprint === B.fingerprint);
    expect(stored).toMatchObject({ status: 'resolved', endsAt: at(300) });
  });

  it('resolves the incident when the group resolves', async () => {
    await ingest(notification([A, B]), 0);
    const resolved = [alert('gitcortex-1:3001', { status: 'resolved' }), alert('gitcortex-2:3001', { status: 'resolved' })];
    expect(await ingest(notification(resolved), 600)).toEqual({ incidentId: 1, duplicate: false, created: false, targets: TARGETS });

    expect(await incident(1)).toMatchObject({ status: 'resolved', resolvedAt: at(600), updatedAt: at(600) });
    const events = await audit(1);
    expect(events.map((e) => e.kind)).toEqual(['alert.received', 'incident.resolved']);
    expect(events[1]).toMatchObject({ text: '✅ Incident #1 resolved after 10m.', data: { durationMs: 600_000 } });
    expect((await alertsOf(1)).every((a) => a.status === 'resolved')).toBe(true);
    // A repeat of the resolved notification changes nothing.
    expect(await ingest(notification(resolved), 900)).toMatchObject({ duplicate: true });
    expect(await audit(1)).toHaveLength(2);
  });

  it('opens episode 2, linked to the previous incident, when the group fires again after resolving', async () => {
    await ingest(notification([A]), 0);
    await ingest(notification([alert('gitcortex-1:3001', { status: 'resolved' })]), 600);
    const refired = alert('gitcortex-1:3001', { startsAt: 3600 });
    expect(refired.fingerprint).toBe(A.fingerprint);

    expect(await ingest(notification([refired]), 3600)).toEqual({ incidentId: 2, duplicate: false, created: true, targets: TARGETS });
    expect(await incident(2)).toMatchObject({ groupKey: GROUP_KEY, episode: 2, status: 'firing', previousIncidentId: 1, createdAt: at(3600), resolvedAt: null });
    expect(await incident(1)).toMatchObject({ status: 'resolved', resolvedAt: at(600) });
    const events = await audit(2);
    expect(events.map((e) => e.kind)).toEqual(['alert.received']);
    expect(events[0]?.text).toBe('🚨 Incident #2 opened: HighLatency on gitcortex (1 alert, warning). Fires again: previous incident #1.');
    expect(events[0]?.data).toMatchObject({ episode: 2, previousIncidentId: 1 });
    // The new episode has its own card per target.
    expect(rows((await outbox()).filter((m) => m.incidentId === 2))).toEqual([
      ['card', 'slack', null],
      ['card', 'discord', null],
      ['reply', 'slack', events[0]?.text],
      ['reply', 'discord', events[0]?.text],
    ]);
  });

  it('stores a resolved notification for a group it never saw as a resolved incident', async () => {
    const resolved = notification([alert('gitcortex-9:3001', { status: 'resolved' })]);
    expect(resolved.status).toBe('resolved');
    expect(await ingest(resolved, 100)).toEqual({ incidentId: 1, duplicate: false, created: true, targets: TARGETS });
    expect(await incident(1)).toMatchObject({ episode: 1, status: 'resolved', resolvedAt: at(100), previousIncidentId: null });
    expect((await audit(1)).map((e) => [e.kind, e.data.status])).toEqual([['alert.received', 'resolved']]);
    expect(await ingest(resolved, 200)).toMatchObject({ duplicate: true });

    // When the group then fires, that is a new episode.
    expect(await ingest(notification([alert('gitcortex-9:3001', { startsAt: 500 })]), 500)).toEqual({ incidentId: 2, duplicate: false, created: true, targets: TARGETS });
    expect(await incident(2)).toMatchObject({ episode: 2, previousIncidentId: 1 });
  });

  it('takes the highest severity of the alerts, and raises it when a more severe alert joins', async () => {
    const n = notification([alert('a:1', { severity: 'info' }), alert('b:1', { severity: 'critical' }), alert('c:1', { severity: 'warning' })]);
    await ingest(n, 0);
    expect((await incident(1))?.severity).toBe('critical');
    expect((await audit(1))[0]?.text).toContain('(3 alerts, critical)');

    await ingest(notification([alert('x:1', { severity: 'warning' })], { groupKey: 'other' }), 0);
    expect((await incident(2))?.severity).toBe('warning');
    await ingest(notification([alert('x:1', { severity: 'warning' }), alert('y:1', { severity: 'page' })], { groupKey: 'other' }), 30);
    expect((await incident(2))?.severity).toBe('critical');
  });

  it('counts truncated alerts and names the incident from alert names and service', async () => {
    const n = notification([A, B], { truncatedAlerts: 3 });
    await ingest(n, 0);
    expect((await audit(1))[0]?.text).toContain('(5 alerts, warning)');
    expect((await incident(1))?.truncatedAlerts).toBe(3);
    expect(incidentTitle(notification([alert('a:1', { labels: { alertname: 'DiskFull', service: '' } })], { commonLabels: { job: 'node' } }))).toBe('DiskFull on node');
  });

  it('refreshes the card quietly when the group changed with nothing to announce', async () => {
    await ingest(notification([A, B]), 0);
    await deliverAll();
    // B left the group without a resolve message (Alertmanager dropped it): new content, nothing to say.
    expect(await ingest(notification([A]), 30)).toMatchObject({ duplicate: false, created: false });
    expect((await audit(1)).map((e) => e.kind)).toEqual(['alert.received']);
    expect(rows(await outbox())).toEqual([
      ['card', 'slack', null],
      ['card', 'discord', null],
    ]);
  });

  it('queues every event exactly once per target over a whole incident', async () => {
    await ingest(notification([A]), 0);
    await ingest(notification([A, B]), 60);
    await ingest(notification([A, B]), 61); // duplicate
    await ingest(notification([A, alert('gitcortex-2:3001', { status: 'resolved' })]), 120);
    await ingest(notification([alert('gitcortex-1:3001', { status: 'resolved' }), alert('gitcortex-2:3001', { status: 'resolved' })]), 180);

    const events = await audit(1);
    expect(events.map((e) => e.kind)).toEqual(['alert.received', 'alert.joined', 'alert.resolved', 'incident.resolved']);
    const replies = (await outbox()).filter((m) => m.kind === 'reply');
    for (const target of TARGETS) {
      const texts = replies.filter((m) => m.platform === target.platform && m.channel === target.channel).map((m) => (m.payload as { text: string }).text);
      expect(texts).toEqual(events.map((e) => e.text));
    }
    // Nothing was sent in between, so each target has exactly one pending card sync.
    const cards = (await outbox()).filter((m) => m.kind === 'card');
    expect(cards.map((m) => `${m.platform}/${m.channel}`).sort()).toEqual(TARGETS.map((t) => `${t.platform}/${t.channel}`).sort());
    expect(firstBrokenLink(events)).toBeUndefined();
  });

  it('stores and audits without chat targets', async () => {
    await ingest(notification([A]), 0, []);
    expect((await audit(1)).map((e) => e.kind)).toEqual(['alert.received']);
    expect(await outbox()).toEqual([]);
  });

  it('writes nothing when the surrounding transaction fails', async () => {
    await expect(
      store.transaction(async (tx) => {
        await recordNotification(tx, notification([A]), at(0), TARGETS);
        throw new Error('the webhook answer could not be written');
      }),
    ).rejects.toThrow('could not be written');
    expect(await store.transaction((tx) => tx.listIncidents({ limit: 10 }))).toEqual([]);
    expect(await outbox()).toEqual([]);
    // And Alertmanager's retry is then stored normally, not taken for a duplicate.
    expect(await ingest(notification([A]), 5)).toMatchObject({ duplicate: false, created: true });
  });
});
