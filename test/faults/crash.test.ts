import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/domain.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';
import { ALERT_CHANNEL, slackEnv } from '../support/bot-harness.js';
import { botFolder, pollUntil, type BotProcess } from '../support/bot-process.js';
import { startFaultProxy } from '../support/faults-proxy.js';
import { allCardsByIncident, faultSummary, shardRoutes, getJson, groupNotification, httpPost, readDb, slackEscaped, sleep, type FaultCounts, type HttpAnswer } from '../support/faults-kit.js';

/**
 * kill -9 of the bot process while webhooks arrive. 100 notifications with distinct groups are
 * sent by 8 senders (each its own connection, paced); once 35 were acknowledged and the outbox has
 * started posting, the bot is SIGKILLed at a random moment of the next 150 ms. Then:
 * - every notification answered 2xx is in the SQLite file (read-only, with the process dead);
 * - the bot restarts on the same database; every acknowledged incident has its audit trail;
 * - the notifications that got no answer are delivered again (what Alertmanager does) and are
 *   either recognised as already stored or stored now;
 * - the fake Slack ends with EXACTLY ONE card per stored incident and the opening message once in
 *   each card's thread. The outbox's known gap (a crash between chat.postMessage succeeding and
 *   the bot recording it) shows up here as a second card (the card's reference was not saved) or
 *   as the opening message twice (the reply was not marked sent); the failure message says which
 *   incidents and when, and the details line what Slack had that the database did not.
 *
 * The outbox paces each channel at Slack's 1 message/s, so the incidents are spread over 25
 * channels with ROUTES_FILE (label `shard`), as a deployment with a storm of alerts would be; one
 * channel would need 200 s for 100 incidents.
 *
 * The second test makes the known gap deterministic (kill exactly after Slack accepted a card).
 * A kill while a step runs is covered by test/process/shutdown.test.ts.
 *
 * Summary: sent = notifications acknowledged 2xx in the end (first run + redelivery), stored =
 * incidents in the store, posted = top-level cards on the fake Slack, faults injected = the SIGKILL
 * plus the deliveries it cut off (no answer), executions = steps run (none here).
 */

const TOKEN = 'faults-crash-webhook-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const TOTAL = 100;
const SENDERS = 8;
const KILL_AFTER_ACKS = 35;
/** The kill comes this long at most after the outbox's first chat.postMessage (uniformly random). */
const KILL_JITTER_MS = 150;
/** Each sender's pause between notifications, so the stream lasts long enough for the outbox to post meanwhile. */
const PACE_MS = 25;
/** Channels the incidents are routed to (4 incidents, 8 messages each at 1 message/s). */
const SHARDS = 25;
const channelOf = (i: number) => `C0SHARD${i % SHARDS}`;

const RUNBOOK = `
name: crashsvc
match: { alertname: CrashDown }
steps:
  - id: look
    title: Look around
    action: exec
    run: [node, -e, 'console.log("ok")']
`;

const counts: FaultCounts = { sent: 0, stored: 0, posted: 0, faults: 0, executions: 0 };
const add = (c: FaultCounts) => {
  for (const k of Object.keys(counts) as Array<keyof FaultCounts>) counts[k] += c[k];
};
afterAll(() => {
  console.log(faultSummary('crash: kill -9 while webhooks arrive', counts));
});

interface Delivery {
  i: number;
  groupKey: string;
  answer: HttpAnswer;
  sentAt: number;
}

describe('kill -9 of the bot process while webhooks arrive', { timeout: 90_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('keeps every acknowledged notification and ends with exactly one card per incident after a restart', async () => {
    const slack: FakeSlack = await startFakeSlack({ rateLimit: false });
    cleanups.push(() => slack.close());
    const folder = await botFolder({ 'crash.yaml': RUNBOOK });
    cleanups.push(folder.dispose);
    fs.writeFileSync(path.join(folder.dir, 'routes.yaml'), shardRoutes(SHARDS, 'C0SHARD'));
    const env = { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN, ...slackEnv(slack), ROUTES_FILE: path.join(folder.dir, 'routes.yaml'), LOG_LEVEL: 'warn' };

    const first = await folder.start(env);
    const notifications = Array.from({ length: TOTAL }, (_, i) => groupNotification({ service: `crash-${i}`, alertname: 'CrashDown', labels: { shard: `s${i % SHARDS}` } }));

    // --- 100 notifications from 8 senders; SIGKILL once 35 were acknowledged ---------------------
    const agents = Array.from({ length: SENDERS }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const deliveries: Delivery[] = [];
    let next = 0;
    let acked = 0;
    let killedAt = 0;
    let killedAtIndex = 0;
    let killScheduled = false;
    const killDelay = Math.floor(Math.random() * KILL_JITTER_MS);
    await Promise.all(
      agents.map(async (agent) => {
        for (;;) {
          const i = next;
          next += 1;
          if (i >= TOTAL) return;
          const n = notifications[i]!;
          const sentAt = Date.now();
          const answer = await httpPost(`${first.url}/webhooks/alertmanager`, JSON.stringify(n), { headers: AUTH, agent, timeoutMs: 10_000 });
          deliveries.push({ i, groupKey: n.groupKey, answer, sentAt });
          if (answer.status >= 200 && answer.status < 300) acked += 1;
          // Mid-stream: enough acknowledged and the outbox posting cards at the same time; the kill
          // then lands at a random moment of the next KILL_JITTER_MS, not in step with any post.
          if (!killScheduled && acked >= KILL_AFTER_ACKS && slack.callsTo('chat.postMessage').length > 0) {
            killScheduled = true;
            setTimeout(() => {
              killedAt = Date.now();
              killedAtIndex = Math.min(next, TOTAL);
              first.kill('SIGKILL', { group: true });
            }, killDelay);
          }
          await sleep(PACE_MS);
        }
      }),
    );
    for (const a of agents) a.destroy();
    expect(killedAt, 'the bot was killed').toBeGreaterThan(0);
    expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });

    const ok = deliveries.filter((d) => d.answer.status >= 200 && d.answer.status < 300);
    const lost = deliveries.filter((d) => d.answer.status === 0);
    // Nothing may be refused for good: every delivery is acknowledged or gets no answer (retried).
    const refused = deliveries.filter((d) => d.answer.status !== 0 && !(d.answer.status >= 200 && d.answer.status < 300));
    expect(refused.map((d) => `${d.i}: ${d.answer.status} ${d.answer.text}`)).toEqual([]);
    expect(ok.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(lost.length, 'deliveries cut off by the kill').toBeGreaterThan(0);

    // --- the dead process's database, read-only --------------------------------------------------
    const atDeath = readDb(first.dbPath, (db) => ({
      incidents: db.prepare('SELECT id, group_key AS groupKey FROM incidents ORDER BY id').all() as Array<{ id: number; groupKey: string }>,
      cards: db.prepare("SELECT incident_id AS incidentId, channel, message_id AS messageId FROM card_messages WHERE platform = 'slack'").all() as Array<{ incidentId: number; channel: string; messageId: string }>,
      received: db.prepare("SELECT incident_id AS incidentId FROM audit_events WHERE kind = 'alert.received'").all() as Array<{ incidentId: number }>,
      pendingReplies: db.prepare("SELECT incident_id AS incidentId, payload FROM outbox WHERE state = 'pending' AND kind = 'reply'").all() as Array<{ incidentId: number; payload: string }>,
      inbox: db.prepare('SELECT seq, group_key AS groupKey FROM inbox').all() as Array<{ seq: number; groupKey: string }>,
    }));
    const storedByGroup = new Map(atDeath.incidents.map((r) => [r.groupKey, r.id]));
    const queuedAtDeath = new Map(atDeath.inbox.map((r) => [r.seq, r.groupKey]));
    for (const d of ok) {
      if (d.answer.status === 200) {
        expect(d.answer.json.status, `delivery ${d.i}`).toBe('stored');
        expect(storedByGroup.get(d.groupKey), `incident of acknowledged notification ${d.i} in the store after kill -9`).toBe(d.answer.json.incidentId);
      } else {
        // Acknowledged into the inbox: after kill -9 it is recorded already, or still waits there.
        expect([d.answer.status, d.answer.json.status], `delivery ${d.i}`).toEqual([202, 'queued']);
        const seq = Number(d.answer.json.seq);
        expect(storedByGroup.has(d.groupKey) || queuedAtDeath.get(seq) === d.groupKey, `notification ${d.i} (inbox ${seq}) in the store after kill -9`).toBe(true);
      }
    }
    expect(new Set(atDeath.received.map((r) => r.incidentId)).size).toBe(atDeath.incidents.length);
    const storedButUnanswered = lost.filter((d) => storedByGroup.has(d.groupKey)).length;

    // Cards Slack has that the bot did not record: each will be posted again (the outbox's known gap).
    const savedCards = new Map(atDeath.cards.map((c) => [c.incidentId, c]));
    const slackAtDeath = allCardsByIncident(slack);
    const postedUnsaved = [...slackAtDeath.entries()].filter(([id]) => id > 0 && !savedCards.has(id)).map(([id, ms]) => ({ id, ts: ms.map((m) => m.ts), msBeforeKill: ms.map((m) => killedAt - m.postedAt) }));
    // Thread replies Slack has whose outbox row is still pending: each will be posted again too.
    const repliesPostedUnmarked = atDeath.pendingReplies.filter((r) => {
      const card = savedCards.get(r.incidentId);
      const text = slackEscaped((JSON.parse(r.payload) as { text: string }).text);
      return card !== undefined && slack.threadReplies(card.channel, card.messageId).some((m) => m.text === text);
    }).length;

    // --- restart on the same database ------------------------------------------------------------
    const second = await folder.start(env);
    // What waited in the inbox is recorded after the restart.
    const inboxEmpty = () => readDb(second.dbPath, (db) => (db.prepare('SELECT count(*) AS n FROM inbox').get() as { n: number }).n === 0);
    await pollUntil(inboxEmpty, 20_000, 'the inbox to be recorded after the restart');
    const afterRestart = new Map(readDb(second.dbPath, (db) => db.prepare('SELECT id, group_key AS groupKey FROM incidents').all() as Array<{ id: number; groupKey: string }>).map((r) => [r.groupKey, r.id]));

    for (const d of ok) {
      const id = d.answer.status === 200 ? Number(d.answer.json.incidentId) : (afterRestart.get(d.groupKey) ?? -1);
      const { status, body } = await getJson<{ events: AuditEvent[] }>(`${second.url}/incidents/${id}/audit`);
      expect(status, `audit of incident ${id}`).toBe(200);
      const opened = body.events.filter((e) => e.kind === 'alert.received');
      expect(opened, `alert.received of incident ${id}`).toHaveLength(1);
      expect(opened[0]?.data.groupKey).toBe(d.groupKey);
    }

    // Alertmanager delivers again what got no answer; already stored ones must be recognised.
    const redelivered = await Promise.all(
      lost.map(async (d) => ({ d, answer: await httpPost(`${second.url}/webhooks/alertmanager`, JSON.stringify(notifications[d.i]), { headers: AUTH, timeoutMs: 10_000 }) })),
    );
    for (const { d, answer } of redelivered) {
      const before = afterRestart.get(d.groupKey);
      if (answer.status === 202) expect(answer.json, `redelivery of ${d.i}`).toMatchObject({ status: 'queued' });
      else if (before !== undefined) expect([answer.status, answer.json], `redelivery of ${d.i}: ${answer.text}`).toMatchObject([200, { status: 'duplicate', incidentId: before }]);
      else expect([answer.status, answer.json], `redelivery of ${d.i}: ${answer.text}`).toMatchObject([200, { status: 'stored', created: true }]);
    }
    await pollUntil(inboxEmpty, 20_000, 'the redeliveries to be recorded');

    const ids = readDb(second.dbPath, (db) => (db.prepare('SELECT id FROM incidents ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id));
    expect(ids).toHaveLength(TOTAL);

    // --- chat after the restart: every incident shown, once ----------------------------------------
    const chat = () =>
      readDb(second.dbPath, (db) => ({
        cards: new Map((db.prepare("SELECT incident_id AS incidentId, channel, message_id AS messageId FROM card_messages WHERE platform = 'slack'").all() as Array<{ incidentId: number; channel: string; messageId: string }>).map((c) => [c.incidentId, c])),
        pending: (db.prepare("SELECT count(*) AS n FROM outbox WHERE state = 'pending'").get() as { n: number }).n,
      }));
    const restartedAt = Date.now();
    await pollUntil(
      () => {
        const c = chat();
        return c.pending === 0 && ids.every((id) => c.cards.has(id));
      },
      45_000,
      'every incident\'s card and opening message on Slack',
    ).catch((error: unknown) => {
      const c = chat();
      throw new Error(
        `${(error as Error).message}: ${c.pending} messages pending, ${ids.filter((id) => !c.cards.has(id)).length} incidents without a saved card; ` +
          `last Slack calls ${JSON.stringify(slack.calls.slice(-3).map((x) => [x.method, x.status, x.at - killedAt]))}; log tail ${second.stdout().slice(-1500)} ${second.stderr().slice(-1500)}`,
      );
    });
    const drainedMs = Date.now() - restartedAt;
    // Stop the bot so nothing moves while the end state is checked.
    second.kill('SIGTERM');
    expect(await second.waitForExit()).toEqual({ code: 0, signal: null });

    const end = chat();
    const byId = allCardsByIncident(slack);
    expect(byId.has(-1), 'top-level messages that are not incident cards').toBe(false);
    const duplicates = [...byId.entries()]
      .filter(([, ms]) => ms.length > 1)
      .map(([id, ms]) => ({
        id,
        cards: ms.length,
        postedMsRelativeToKill: ms.map((m) => m.postedAt - killedAt),
        postedBeforeKillWithoutSavedRef: postedUnsaved.some((p) => p.id === id),
      }));
    const notShown = ids.filter((id) => !byId.has(id));
    const indexOfGroup = new Map(notifications.map((n, i) => [n.groupKey, i]));
    const groupOf = new Map(readDb(second.dbPath, (db) => db.prepare('SELECT id, group_key AS g FROM incidents').all() as Array<{ id: number; g: string }>).map((r) => [r.id, r.g]));
    const misrouted = ids.filter((id) => byId.get(id)?.some((m) => m.channel !== channelOf(indexOfGroup.get(groupOf.get(id) ?? '') ?? -1)) ?? false);
    const badThreads = ids
      .map((id) => {
        const card = end.cards.get(id);
        const replies = card ? slack.threadReplies(card.channel, card.messageId) : [];
        return { id, opening: replies.filter((m) => m.text.startsWith(`🚨 Incident #${id} opened:`)).length, replies: replies.length };
      })
      .filter((t) => t.opening !== 1 || t.replies !== 1);

    const mine: FaultCounts = {
      sent: ok.length + redelivered.filter((r) => r.answer.status === 200 || r.answer.status === 202).length,
      stored: ids.length,
      posted: slack.allMessages().filter((m) => m.thread_ts === undefined).length,
      faults: 1 + lost.length,
      executions: 0,
    };
    add(mine);
    console.log(
      `crash details: killed ${killDelay} ms after posting began, after ${ok.length} acknowledged (${ok.filter((d) => d.answer.status === 202).length} of them into the inbox) and ${killedAtIndex} sent of ${TOTAL}; ${lost.length} deliveries got no answer (${storedButUnanswered} of them were stored before the kill); ` +
        `at the kill ${atDeath.cards.length} cards had a saved ref, ${slackAtDeath.size} incidents had a card on Slack, ${postedUnsaved.length} posted without a saved ref ` +
        `${JSON.stringify(postedUnsaved)}, ${repliesPostedUnmarked} thread replies posted but still pending; all shown ${drainedMs} ms after the restart`,
    );

    expect(duplicates, 'incidents with more than one card (the outbox gap: chat.postMessage succeeded, the ref was not saved before the kill)').toEqual([]);
    expect(badThreads, `threads whose opening message is not there exactly once (${repliesPostedUnmarked} replies were on Slack but still pending in the outbox at the kill)`).toEqual([]);
    expect(notShown, 'stored incidents without a card').toEqual([]);
    expect(misrouted, 'cards in another channel than the route says').toEqual([]);
    expect(mine.sent).toBe(TOTAL);
    expect(mine.stored).toBe(mine.sent);
    expect(mine.posted).toBe(mine.stored);
  });

  it('posts one card when the kill lands after Slack accepted the card and before the bot saved its reference', async () => {
    // The outbox's known gap, made deterministic: a proxy in front of the fake Slack lets
    // chat.postMessage of the card through, then SIGKILLs the bot and drops the answer, so the
    // card is on Slack and the bot never learnt its ts.
    const slack: FakeSlack = await startFakeSlack({ rateLimit: false });
    const victim: { bot?: BotProcess } = {};
    let killedAt = 0;
    const proxy = await startFaultProxy(slack.url, {
      onUpstreamAnswer: (request, status) => {
        const isCard = request.method === 'chat.postMessage' && !new URLSearchParams(request.body).has('thread_ts');
        if (killedAt !== 0 || !victim.bot || !isCard || status !== 200) return 'relay';
        killedAt = Date.now();
        victim.bot.kill('SIGKILL', { group: true });
        return 'drop';
      },
    });
    cleanups.push(() => slack.close(), () => proxy.close());
    const folder = await botFolder({ 'crash.yaml': RUNBOOK });
    cleanups.push(folder.dispose);
    const env = { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN, ...slackEnv(slack, proxy.url), LOG_LEVEL: 'warn' };
    const first = await folder.start(env);
    victim.bot = first;
    const n = groupNotification({ service: 'crash-gap', alertname: 'CrashDown' });
    const answer = await httpPost(`${first.url}/webhooks/alertmanager`, JSON.stringify(n), { headers: AUTH, timeoutMs: 10_000 });
    expect(answer.json, `${answer.text} ${first.stdout().slice(-3000)}`).toMatchObject({ status: 'stored', incidentId: 1 });
    expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(slack.topLevel(ALERT_CHANNEL), 'the card Slack accepted before the kill').toHaveLength(1);
    expect(readDb(first.dbPath, (db) => db.prepare('SELECT count(*) AS n FROM card_messages').get() as { n: number }).n, 'card references saved before the kill').toBe(0);

    const second = await folder.start(env);
    const drained = () => readDb(second.dbPath, (db) => (db.prepare("SELECT count(*) AS n FROM outbox WHERE state = 'pending'").get() as { n: number }).n === 0);
    await pollUntil(drained, 20_000, 'the outbox to drain after the restart');
    second.kill('SIGTERM');
    expect(await second.waitForExit()).toEqual({ code: 0, signal: null });

    const cards = slack.topLevel(ALERT_CHANNEL);
    const ref = readDb(second.dbPath, (db) => db.prepare('SELECT message_id AS ts FROM card_messages WHERE incident_id = 1').get() as { ts: string } | undefined);
    const opening = slack.threadReplies(ALERT_CHANNEL, ref?.ts ?? '').filter((m) => m.text.startsWith('🚨 Incident #1 opened:'));
    add({ sent: 1, stored: 1, posted: cards.length, faults: 1, executions: 0 });
    console.log(
      `crash gap details: cards for incident #1: ${cards.length} (${cards.map((c) => `ts ${c.ts} posted ${c.postedAt - killedAt} ms after the kill`).join('; ')}); the saved reference points at ${ref?.ts ?? 'nothing'}`,
    );
    expect(opening).toHaveLength(1);
    expect(cards.map((c) => c.ts), 'cards of incident #1 on Slack (a second one means the card was posted again after the restart)').toHaveLength(1);
  });
});
