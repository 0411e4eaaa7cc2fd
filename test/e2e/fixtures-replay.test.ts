import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertmanagerNotification } from '../../src/core/alertmanager-payload.js';
import type { AuditEvent } from '../../src/core/domain.js';
import { startFakeSlack, type FakeSlack, type StoredMessage } from '../fakes/slack-api.js';
import { ALERT_CHANNEL, buttonIds, messageText, startTestBot, type TestBot } from '../support/bot-harness.js';
import { metricValue } from '../support/faults-kit.js';
import { loadFixture } from '../support/fixtures.js';

/**
 * Replays the payloads recorded from Alertmanager 0.25 (test/fixtures/alertmanager-0.25)
 * against the in-process bot with a fake Slack, and checks what the channel and the store show.
 */

const GITCORTEX = `
name: gitcortex
match: { service: gitcortex }
params:
  instance: { fromLabel: instance, pattern: '[a-z0-9.-]+:[0-9]+' }
steps:
  - id: health
    title: Health check
    action: exec
    run: [node, -e, 'console.log("ok " + process.argv[1])', '{{instance}}']
`;

const APPROVAL_GIN = `
name: approval-gin
match: { service: approval-gin }
params:
  service: { fromLabel: service, pattern: '[a-z0-9-]+' }
steps:
  - id: errors
    title: Show error rate
    action: exec
    run: [node, -e, 'console.log("errors " + process.argv[1])', '{{service}}']
`;

const RUNBOOKS = { 'gitcortex.yaml': GITCORTEX, 'approval-gin.yaml': APPROVAL_GIN };

type Notification = AlertmanagerNotification;

const fixture = (name: string): Notification => structuredClone(loadFixture<Notification>(name));

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** One bot and one fake Slack per describe block, so incident numbers start at 1 in each. */
function useBot(env: Record<string, string> = {}): { slack: () => FakeSlack; t: () => TestBot } {
  let slack: FakeSlack | undefined;
  let t: TestBot | undefined;
  beforeAll(async () => {
    slack = await startFakeSlack({ rateLimit: false });
    t = await startTestBot({ slack, runbooks: RUNBOOKS, env });
  });
  afterAll(async () => {
    await t?.stop();
    await slack?.close();
  });
  return {
    slack: () => {
      if (!slack) throw new Error('fake Slack not started');
      return slack;
    },
    t: () => {
      if (!t) throw new Error('bot not started');
      return t;
    },
  };
}

/** Helpers over one bot + fake Slack. */
function views(ctx: { slack: () => FakeSlack; t: () => TestBot }) {
  const cards = () => ctx.slack().topLevel(ALERT_CHANNEL);
  const current = (card: StoredMessage) => ctx.slack().message(ALERT_CHANNEL, card.ts) ?? card;
  const replies = (card: StoredMessage) => ctx.slack().threadReplies(ALERT_CHANNEL, card.ts);
  return {
    cards,
    current,
    replies,
    incidents: () => ctx.t().bot.store.transaction((tx) => tx.listIncidents({ limit: 100 })),
    incident: (id: number) => ctx.t().bot.store.transaction((tx) => tx.getIncident(id)),
    alerts: (id: number) => ctx.t().bot.store.transaction((tx) => tx.listAlerts(id)),
    audit: async (id: number) => {
      const res = await fetch(`${ctx.t().url}/incidents/${id}/audit`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { events: AuditEvent[] }).events;
    },
    waitForCard: (id: number) =>
      ctx.slack().waitFor(() => cards().find((m) => m.text.includes(`#${id} `)), 10_000, `the card of incident #${id}`),
    waitForReply: (card: StoredMessage, pattern: RegExp, description: string) =>
      ctx.slack().waitFor(() => replies(card).find((m) => pattern.test(m.text)), 10_000, description),
    waitForCardText: (card: StoredMessage, pattern: RegExp, description: string) =>
      ctx.slack().waitFor(() => (pattern.test(messageText(current(card))) ? current(card) : undefined), 10_000, description),
    /** Waits until no notification waits in the inbox and nothing is queued for chat, so that counts are final. */
    drained: async () => {
      const deadline = Date.now() + 10_000;
      const waiting = () => ctx.t().bot.store.transaction(async (tx) => (await tx.countQueuedNotifications()).waiting + (await tx.countPendingOutbox()));
      while ((await waiting()) > 0) {
        if (Date.now() > deadline) throw new Error('outbox not drained');
        await sleep(20);
      }
      await sleep(50);
    },
  };
}

/** A card's field value, from the rendered `*Label*\nvalue` section fields. */
function field(card: StoredMessage, label: string): string | undefined {
  for (const block of card.blocks) {
    const fields = (block as { fields?: Array<{ text: string }> }).fields ?? [];
    for (const f of fields) {
      const [head, ...rest] = f.text.split('\n');
      if (head === `*${label}*`) return rest.join('\n');
    }
  }
  return undefined;
}

describe('replay firing-single: one card, duplicates absorbed', () => {
  const ctx = useBot();
  const v = views(ctx);
  let card: StoredMessage;

  it('opens one incident with one card carrying the Chinese summary and both links', async () => {
    const res = await ctx.t().postWebhook(fixture('firing-single.json'));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'stored', incidentId: 1, created: true });

    card = await v.waitForCard(1);
    const text = messageText(card);
    expect(text).toContain('GitCortex 服务不可用');
    expect(text).toContain('https://runbooks.example/gitcortex#down');
    expect(text).toContain('http://prometheus.example:9090/graph?g0.expr=up%7Bjob%3D%22gitcortex%22%7D+%3D%3D+0');
    expect(text).toContain('GitCortexDown');
    expect(card.text).toMatch(/^\[FIRING\] critical: #1 GitCortexDown on gitcortex — GitCortex 服务不可用/);
    expect(field(card, 'Instance')).toBe('gitcortex-1:3001');
    expect(field(card, 'Status')).toBe('firing (1 of 1)');
    expect(field(card, 'Previous')).toBeUndefined();
    expect(buttonIds(card.blocks)).toEqual(['ack:1', 'run-step:1:gitcortex:health']);
    await v.waitForReply(card, /Incident #1 opened: GitCortexDown on gitcortex \(1 alert, critical\)\./, 'the opening message');

    const [incident] = await v.incidents();
    expect(incident).toMatchObject({ groupKey: '{}:{alertname="GitCortexDown", service="gitcortex"}', episode: 1, status: 'firing', severity: 'critical' });
    const alerts = await v.alerts(1);
    expect(alerts).toHaveLength(1);
    // Go's zero time means "no end"; an empty generatorURL would be stored as none.
    expect(alerts[0]).toMatchObject({ fingerprint: 'c900c30604636a2b', status: 'firing', endsAt: null });
  });

  it('answers the same payload again (retry, HA peer) with duplicate, and posts nothing new', async () => {
    await v.drained();
    const posts = ctx.slack().callsTo('chat.postMessage').length;
    const updates = ctx.slack().callsTo('chat.update').length;
    const replies = v.replies(card).length;

    const res = await ctx.t().postWebhook(fixture('firing-single.json'));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'duplicate', incidentId: 1, created: false });

    await sleep(300);
    expect(v.cards()).toHaveLength(1);
    expect(v.replies(card)).toHaveLength(replies);
    expect(ctx.slack().callsTo('chat.postMessage')).toHaveLength(posts);
    expect(ctx.slack().callsTo('chat.update')).toHaveLength(updates);
    expect((await v.audit(1)).map((e) => e.kind)).toEqual(['alert.received']);
  });

  it('absorbs 10 concurrent duplicates: still one incident and one card', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => ctx.t().postWebhook(fixture('firing-single.json'))));
    // Each is recognised at once (200), or acknowledged into the inbox when they pile up (202).
    for (const r of results) expect([`${r.status} duplicate`, `${r.status} queued`]).toContain(`${r.status} ${String(r.json.status)}`);
    expect(results.filter((r) => r.json.status === 'duplicate').every((r) => r.status === 200 && r.json.incidentId === 1)).toBe(true);
    await v.drained();
    await sleep(300);
    expect(await v.incidents()).toHaveLength(1);
    expect(v.cards()).toHaveLength(1);
    expect(v.replies(card).filter((m) => /opened/.test(m.text))).toHaveLength(1);
  });

  it('stores a first delivery that arrives 10 times at once exactly once', async () => {
    const n = fixture('firing-single.json');
    n.groupKey = '{}:{alertname="GitCortexDown", service="gitcortex", dc="two"}';
    const stored = async () => (await fetch(`${ctx.t().url}/metrics`)).text();
    const before = await stored();
    const results = await Promise.all(Array.from({ length: 10 }, () => ctx.t().postWebhook(n)));
    // Recorded at once (200) or acknowledged into the inbox because they pile up (202): either
    // way exactly one of the ten is stored, the other nine are recognised as duplicates.
    for (const r of results) expect(r.status === 200 ? ['stored', 'duplicate'] : ['queued']).toContain(r.json.status);
    expect(results.filter((r) => r.json.status === 'stored').length).toBeLessThanOrEqual(1);
    expect(new Set(results.filter((r) => r.status === 200).map((r) => r.json.incidentId))).toEqual(new Set(results.some((r) => r.status === 200) ? [2] : []));
    await v.drained();
    const count = (page: string, result: string) => metricValue(page, 'chatops_notifications_received_total', { result });
    const after = await stored();
    expect([count(after, 'stored') - count(before, 'stored'), count(after, 'duplicate') - count(before, 'duplicate')]).toEqual([1, 9]);
    const second = await v.waitForCard(2);
    await v.waitForReply(second, /Incident #2 opened/, 'the opening message of #2');
    await v.drained();
    expect(await v.incidents()).toHaveLength(2);
    expect(v.cards()).toHaveLength(2);
    expect(v.replies(second).filter((m) => /opened/.test(m.text))).toHaveLength(1);
  });
});

describe('replay firing-group-of-3, then firing-group-one-resolved (same group)', () => {
  const ctx = useBot();
  const v = views(ctx);
  let card: StoredMessage;

  it('the two fixtures are the same Alertmanager group', () => {
    expect(fixture('firing-group-one-resolved.json').groupKey).toBe(fixture('firing-group-of-3.json').groupKey);
  });

  it('opens one incident with three alerts and one card listing the three instances', async () => {
    const res = await ctx.t().postWebhook(fixture('firing-group-of-3.json'));
    expect(res.json).toEqual({ status: 'stored', incidentId: 1, created: true });
    card = await v.waitForCard(1);
    expect(await v.alerts(1)).toHaveLength(3);
    // Listed in the store's order (start time, then fingerprint), not the payload's.
    expect(field(card, 'Instance')?.split(', ').sort()).toEqual(['approval-1:8080', 'approval-2:8080', 'approval-3:8080']);
    expect(field(card, 'Status')).toBe('firing (3 of 3)');
    expect(field(card, 'Severity')).toBe('warning');
    expect(messageText(card)).toContain('HTTP 5xx 错误率过高');
    expect(buttonIds(card.blocks)).toEqual(['ack:1', 'run-step:1:approval-gin:errors']);
    await v.waitForReply(card, /Incident #1 opened: HighErrorRate on approval-gin \(3 alerts, warning\)/, 'the opening message');
  });

  it('keeps the group firing, reports the resolved alert in the thread and shows the firing count', async () => {
    const res = await ctx.t().postWebhook(fixture('firing-group-one-resolved.json'));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'stored', incidentId: 1, created: false });

    await v.waitForReply(card, /1 alert resolved: approval-3:8080\./, 'the resolved-alert message');
    const updated = await v.waitForCardText(card, /firing \(2 of 3\)/, 'the card with the new firing count');
    expect(field(updated, 'Status')).toBe('firing (2 of 3)');
    expect(field(updated, 'Instance')?.split(', ').sort()).toEqual(['approval-1:8080', 'approval-2:8080']);
    expect(updated.text).toMatch(/^\[FIRING\]/);

    const incident = await v.incident(1);
    expect(incident?.status).toBe('firing');
    expect(incident?.resolvedAt).toBeNull();
    const alerts = await v.alerts(1);
    expect(alerts.find((a) => a.fingerprint === '771069acf9a5bdf8')).toMatchObject({ status: 'resolved', endsAt: '2026-11-22T01:37:37Z' });
    expect(alerts.filter((a) => a.status === 'firing')).toHaveLength(2);

    await v.drained();
    expect(v.cards()).toHaveLength(1);
    expect(v.replies(card).some((m) => /Incident #1 resolved/.test(m.text))).toBe(false);
    expect((await v.audit(1)).map((e) => e.kind)).toEqual(['alert.received', 'alert.resolved']);
  });
});

describe('replay firing-truncated-max-alerts-2', () => {
  const ctx = useBot();
  const v = views(ctx);
  let card: StoredMessage;

  it('counts the 3 truncated alerts in the incident, the opening message and the firing count', async () => {
    const n = fixture('firing-truncated-max-alerts-2.json');
    expect(n.truncatedAlerts).toBe(3);
    const res = await ctx.t().postWebhook(n);
    expect(res.json).toEqual({ status: 'stored', incidentId: 1, created: true });
    card = await v.waitForCard(1);
    expect(field(card, 'Status')).toBe('firing (2 of 5)');
    expect(messageText(card)).toContain('HighMemoryUsage');
    // No runbook matches imsuite: only Acknowledge, and no "Not offered" note either.
    expect(buttonIds(card.blocks)).toEqual(['ack:1']);
    expect(messageText(card)).not.toContain('Not offered');
    await v.waitForReply(card, /Incident #1 opened: HighMemoryUsage on imsuite \(5 alerts, warning\)/, 'the opening message counting truncated alerts');
    expect(await v.incident(1)).toMatchObject({ truncatedAlerts: 3, receiver: 'truncated', groupKey: n.groupKey });
    expect(await v.alerts(1)).toHaveLength(2);
  });

  it('says on the card that more alerts exist than are listed', () => {
    // SRC BUG (src/core/card-builder.ts:62): `more = instances.length - MAX_LISTED_ALERTS + truncatedAlerts`
    // is 2 - 10 + 3 = -5 here, so the 3 alerts Alertmanager left out are not mentioned and the
    // field reads "im-2, im-1". Hidden alerts are max(0, instances - 10) + truncatedAlerts.
    expect(field(card, 'Instance')).toMatch(/^(im-1, im-2|im-2, im-1) and 3 more$/);
  });
});

describe('replay resolved-single after firing-single, then the group fires again', () => {
  const ctx = useBot();
  const v = views(ctx);
  let first: StoredMessage;

  it('marks the card resolved and says so in the thread', async () => {
    expect((await ctx.t().postWebhook(fixture('firing-single.json'))).json).toMatchObject({ status: 'stored', incidentId: 1 });
    first = await v.waitForCard(1);
    await v.waitForReply(first, /Incident #1 opened/, 'the opening message');

    const res = await ctx.t().postWebhook(fixture('resolved-single.json'));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'stored', incidentId: 1, created: false });

    await v.waitForReply(first, /✅ Incident #1 resolved after \d/, 'the resolved message');
    const resolved = await v.waitForCardText(first, /Resolved after/, 'the resolved card');
    expect(resolved.text).toMatch(/^\[RESOLVED\] critical: #1 GitCortexDown/);
    expect(field(resolved, 'Status')).toBe('resolved');
    expect(await v.incident(1)).toMatchObject({ status: 'resolved', episode: 1 });
    expect((await v.incident(1))?.resolvedAt).not.toBeNull();
    expect(v.cards()).toHaveLength(1);
  });

  it('treats a late retry of the old firing notification as a duplicate, not a new episode', async () => {
    const res = await ctx.t().postWebhook(fixture('firing-single.json'));
    expect(res.json).toEqual({ status: 'duplicate', incidentId: 1, created: false });
    await sleep(200);
    expect(await v.incidents()).toHaveLength(1);
    expect(v.cards()).toHaveLength(1);
    expect((await v.incident(1))?.status).toBe('resolved');
  });

  it('opens episode 2 with a new card linking the previous incident when the group fires again', async () => {
    const again = fixture('firing-single.json');
    again.alerts[0]!.startsAt = '2026-11-22T02:10:00.000000000Z';
    const res = await ctx.t().postWebhook(again);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'stored', incidentId: 2, created: true });

    const second = await v.waitForCard(2);
    expect(second.ts).not.toBe(first.ts);
    expect(field(second, 'Previous')).toBe('#1');
    expect(field(second, 'Status')).toBe('firing (1 of 1)');
    expect(buttonIds(second.blocks)).toEqual(['ack:2', 'run-step:2:gitcortex:health']);
    await v.waitForReply(second, /Incident #2 opened: .* Fires again: previous incident #1\./, 'the opening message of episode 2');

    expect(await v.incident(2)).toMatchObject({ episode: 2, previousIncidentId: 1, status: 'firing', groupKey: '{}:{alertname="GitCortexDown", service="gitcortex"}' });
    const trail = await v.audit(2);
    expect(trail[0]).toMatchObject({ kind: 'alert.received', incidentId: 2 });
    expect(trail[0]?.data).toMatchObject({ episode: 2, previousIncidentId: 1 });

    // The first card stays resolved, and its thread got nothing from episode 2.
    await v.drained();
    expect(v.cards()).toHaveLength(2);
    expect(messageText(v.current(first))).toMatch(/Resolved after/);
    expect(v.replies(first).some((m) => /#2/.test(m.text))).toBe(false);
  });
});

describe('replay a resolved notification for a group never seen', () => {
  const ctx = useBot();
  const v = views(ctx);

  it('stores it as an incident (nothing lost) and answers 200', async () => {
    const n = fixture('resolved-single.json');
    n.groupKey = '{}:{alertname="GitCortexDown", service="gitcortex", seen="never"}';
    const res = await ctx.t().postWebhook(n);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'stored', incidentId: 1, created: true });

    expect(await v.incident(1)).toMatchObject({ status: 'resolved', episode: 1, previousIncidentId: null, groupKey: n.groupKey });
    expect((await v.incident(1))?.resolvedAt).not.toBeNull();
    expect(await v.alerts(1)).toEqual([
      expect.objectContaining({ fingerprint: 'c900c30604636a2b', status: 'resolved', endsAt: '2026-11-22T01:37:37Z' }),
    ]);
    const trail = await v.audit(1);
    expect(trail.map((e) => e.kind)).toEqual(['alert.received']);
    expect(trail[0]?.data).toMatchObject({ status: 'resolved', previousIncidentId: null });

    const card = await v.waitForCard(1);
    expect(card.text).toMatch(/^\[RESOLVED\]/);
    expect(field(card, 'Status')).toBe('resolved');
  });
});

describe('replay through the inbox (INGEST_QUEUE_ABOVE=0: acknowledged first, always)', () => {
  const ctx = useBot({ INGEST_QUEUE_ABOVE: '0' });
  const v = views(ctx);

  it('answers 202 at once, then shows the group as it would have: one card, the resolved alert in the thread', async () => {
    const first = await ctx.t().postWebhook(fixture('firing-group-of-3.json'));
    const repeat = await ctx.t().postWebhook(fixture('firing-group-of-3.json'));
    const second = await ctx.t().postWebhook(fixture('firing-group-one-resolved.json'));
    for (const res of [first, repeat, second]) expect([res.status, res.json.status]).toEqual([202, 'queued']);
    const seqs = [first, repeat, second].map((r) => Number(r.json.seq));
    expect([...seqs].sort((a, b) => a - b), 'inbox places in the order received').toEqual(seqs);

    const card = await v.waitForCard(1);
    await v.waitForReply(card, /1 alert resolved: approval-3:8080\./, 'the resolved-alert message');
    await v.drained();
    expect(v.cards()).toHaveLength(1);
    expect(await v.incidents()).toHaveLength(1);
    await v.waitForCardText(card, /firing \(2 of 3\)/, 'the card with the new firing count');
    expect((await v.audit(1)).map((e) => e.kind)).toEqual(['alert.received', 'alert.resolved']);
    const metrics = await (await fetch(`${ctx.t().url}/metrics`)).text();
    expect(metrics).toMatch(/^chatops_notifications_received_total\{result="queued"\} 3$/m);
    expect(metrics).toMatch(/^chatops_notifications_received_total\{result="stored"\} 2$/m);
    expect(metrics).toMatch(/^chatops_notifications_received_total\{result="duplicate"\} 1$/m);
    expect(metrics).toMatch(/^chatops_inbox_notifications\{state="waiting"\} 0$/m);
  });
});
