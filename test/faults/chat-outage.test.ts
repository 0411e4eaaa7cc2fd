import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/domain.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';
import { ALERT_CHANNEL, startTestBot, type TestBot } from '../support/bot-harness.js';
import { pollUntil } from '../support/bot-process.js';
import {
  allCardsByIncident,
  cardIncidentId,
  faultSummary,
  getJson,
  groupNotification,
  metricValue,
  readDb,
  shardRoutes,
  sleep,
  slackEscaped,
  threadEvents,
  type FaultCounts,
} from '../support/faults-kit.js';
import { startFaultProxy, type FaultMode, type FaultProxy } from '../support/faults-proxy.js';

/**
 * A chat outage while notifications keep arriving. The in-process bot talks to the fake Slack
 * through a fault proxy that goes through four phases: HTTP 500s, 429 with Retry-After: 1,
 * hanging requests (accepted, never answered, reset after HANG_MS so one attempt costs seconds
 * rather than the WebClient's 10 s timeout × its retries), refused connections; then it recovers.
 * 20 notifications with distinct groups and resolved notifications for 7 of them arrive spread
 * over the phases (two incidents are shown before the outage, so resolving them needs card
 * updates that fail too). After recovery every card and every thread message is on Slack exactly
 * once, the resolved cards say so, and each thread has the incident's audit trail (minus
 * `*.refused`), in order.
 *
 * The outbox paces each channel at Slack's 1 message/s (after a burst of 3); the incidents are
 * routed to 5 channels (ROUTES_FILE, label `shard`), 4 incidents each, so threads of several
 * incidents share a channel and its pace, and the backlog still clears in seconds.
 *
 * The second test is the other half of a timeout: Slack did the work and the answer was lost.
 *
 * Summary: sent = incidents acknowledged by the webhook, stored = incidents in the store, posted =
 * top-level cards on the fake Slack, faults injected = requests the proxy failed (500, 429, hung)
 * plus deliveries that failed on a refused connection, executions = 0.
 */

const RUNBOOK = `
name: outage
match: { alertname: OutageDown }
steps:
  - id: look
    title: Look around
    action: exec
    run: [node, -e, 'console.log("ok")']
`;

const INCIDENTS = 20;
const SHARDS = 5;
const channelOf = (i: number) => `C0OUT${i % SHARDS}`;
const HANG_MS = 600;

interface Phase {
  name: string;
  mode: FaultMode;
  ms: number;
  firing: number[];
  resolved: number[];
}

/** Incidents 0 and 1 are shown before the outage, so resolving them during it needs a card update. */
const PHASES: Phase[] = [
  { name: 'before', mode: { kind: 'pass' }, ms: 1500, firing: [0, 1], resolved: [] },
  { name: '500', mode: { kind: 'status', status: 500 }, ms: 1500, firing: [2, 3, 4, 5, 6], resolved: [0, 2] },
  { name: '429', mode: { kind: 'status', status: 429, retryAfter: 1 }, ms: 1500, firing: [7, 8, 9, 10], resolved: [7] },
  { name: 'hang', mode: { kind: 'hang', closeAfterMs: HANG_MS }, ms: 2500, firing: [11, 12, 13, 14], resolved: [1, 11] },
  { name: 'refuse', mode: { kind: 'refuse' }, ms: 2000, firing: [15, 16, 17, 18, 19], resolved: [15, 8] },
];

const counts: FaultCounts = { sent: 0, stored: 0, posted: 0, faults: 0, executions: 0 };
const add = (c: FaultCounts) => {
  for (const k of Object.keys(counts) as Array<keyof FaultCounts>) counts[k] += c[k];
};
let slack: FakeSlack;
let proxy: FaultProxy;
let t: TestBot;

let routesDir: string;

beforeAll(async () => {
  slack = await startFakeSlack({ rateLimit: false });
  proxy = await startFaultProxy(slack.url);
  routesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-routes-'));
  fs.writeFileSync(path.join(routesDir, 'routes.yaml'), shardRoutes(SHARDS, 'C0OUT'));
  // A phase sends up to five notifications at once and reads each incident id from its answer,
  // so every one is recorded before its answer (not acknowledged into the inbox past four at once).
  t = await startTestBot({
    slack,
    runbooks: { 'outage.yaml': RUNBOOK },
    env: { SLACK_API_URL: proxy.url, ROUTES_FILE: path.join(routesDir, 'routes.yaml'), INGEST_QUEUE_ABOVE: '100' },
  });
});

afterAll(async () => {
  console.log(faultSummary('chat outage: 500, 429, hang, refuse, recovery', counts));
  await t?.stop();
  await proxy?.close();
  await slack?.close();
  if (routesDir) fs.rmSync(routesDir, { recursive: true, force: true });
});

const chatErrors = async () => metricValue(await (await fetch(`${t.url}/metrics`)).text(), 'chatops_chat_api_errors_total');

describe('a chat outage while notifications arrive', { timeout: 60_000 }, () => {
  it('delivers every card and thread message exactly once, in audit order, after recovery', async () => {
    const notifications = Array.from({ length: INCIDENTS }, (_, i) => ({
      firing: groupNotification({ service: `outage-${i}`, alertname: 'OutageDown', labels: { shard: `s${i % SHARDS}` } }),
      resolved: groupNotification({ service: `outage-${i}`, alertname: 'OutageDown', status: 'resolved', labels: { shard: `s${i % SHARDS}` } }),
    }));
    const incidentOf = new Map<number, number>();
    let refusedDeliveries = 0;
    const started = Date.now();

    for (const phase of PHASES) {
      const errorsBefore = phase.mode.kind === 'refuse' ? await chatErrors() : 0;
      await proxy.set(phase.mode);
      const phaseStart = Date.now();
      const answers = await Promise.all(phase.firing.map((i) => t.postWebhook(notifications[i]!.firing)));
      answers.forEach((a, k) => {
        expect(a.status, `firing ${phase.firing[k]} during the ${phase.name} phase`).toBe(200);
        expect(a.json.created).toBe(true);
        incidentOf.set(phase.firing[k]!, Number(a.json.incidentId));
      });
      await sleep(phase.ms / 3);
      for (const i of phase.resolved) {
        const a = await t.postWebhook(notifications[i]!.resolved);
        expect(a.status, `resolved ${i} during the ${phase.name} phase`).toBe(200);
        expect(a.json).toMatchObject({ status: 'stored', incidentId: incidentOf.get(i), created: false });
      }
      await sleep(Math.max(0, phase.ms - (Date.now() - phaseStart)));
      if (phase.mode.kind === 'refuse') refusedDeliveries = (await chatErrors()) - errorsBefore;
    }
    await proxy.set({ kind: 'pass' });
    const recoveredAt = Date.now();
    const shownBefore = proxy.requests.filter((r) => r.at < started + PHASES[0]!.ms && r.outcome === 'passed' && r.method === 'chat.postMessage').length;
    expect(shownBefore, 'cards and opening messages of incidents 0 and 1 posted before the outage').toBe(4);

    // Each fault really happened.
    const injected = (pred: (r: FaultProxy['requests'][number]) => boolean) => proxy.requests.filter(pred).length;
    expect(injected((r) => r.outcome === 'status' && r.status === 500), 'requests answered 500').toBeGreaterThan(0);
    expect(injected((r) => r.outcome === 'status' && r.status === 429), 'requests answered 429').toBeGreaterThan(0);
    expect(injected((r) => r.outcome === 'hung'), 'requests left hanging').toBeGreaterThan(0);
    expect(refusedDeliveries, 'deliveries failed on a refused connection').toBeGreaterThan(0);
    expect(slack.calls.filter((c) => c.at > started + PHASES[0]!.ms && c.at < recoveredAt).map((c) => c.method), 'nothing reached Slack during the outage').toEqual([]);
    expect(injected((r) => r.method === 'chat.update' && r.outcome !== 'passed'), 'card updates failed during the outage').toBeGreaterThan(0);

    await pollUntil(async () => (await t.bot.store.transaction((tx) => tx.countPendingOutbox())) === 0, 50_000, 'the outbox to drain after recovery');
    const drainedAt = Date.now();

    // --- exactly one card per incident, showing its final state ----------------------------------
    const ids = [...incidentOf.values()].sort((a, b) => a - b);
    const resolvedIds = new Set(PHASES.flatMap((p) => p.resolved).map((i) => incidentOf.get(i)!));
    const byId = allCardsByIncident(slack);
    expect([...byId.keys()].sort((a, b) => a - b), 'incidents with a card').toEqual(ids);
    const duplicates = [...byId.entries()].filter(([, ms]) => ms.length !== 1).map(([id, ms]) => ({ id, cards: ms.length }));
    expect(duplicates, 'incidents with more than one card').toEqual([]);
    const indexOf = new Map([...incidentOf].map(([i, id]) => [id, i]));
    for (const id of ids) {
      const card = byId.get(id)![0]!;
      expect(card.channel, `channel of #${id}`).toBe(channelOf(indexOf.get(id)!));
      expect(card.text.startsWith(resolvedIds.has(id) ? '[RESOLVED]' : '[FIRING]'), `card of #${id}: ${card.text}`).toBe(true);
      expect(cardIncidentId(card)).toBe(id);
    }

    // --- each thread = the audit trail (minus refusals), once each, in order ----------------------
    let threadMessages = 0;
    for (const id of ids) {
      const { status, body } = await getJson<{ events: AuditEvent[] }>(`${t.url}/incidents/${id}/audit`);
      expect(status).toBe(200);
      const expected = threadEvents(body.events).map((e) => slackEscaped(e.text));
      const card = byId.get(id)![0]!;
      const replies = slack.threadReplies(card.channel, card.ts).map((m) => m.text);
      // The seal posted after a resolution is about the trail, not a record of it: at most one, after it.
      const seals = replies.filter((text) => text.startsWith('Audit sealed:'));
      const thread = replies.filter((text) => !text.startsWith('Audit sealed:'));
      expect(seals.length, `seal posts in the thread of incident #${id}`).toBeLessThanOrEqual(resolvedIds.has(id) ? 1 : 0);
      if (seals.length > 0) expect(replies.at(-1)).toBe(seals[0]);
      expect(thread, `thread of incident #${id}`).toEqual(expected);
      expect(expected.length).toBe(resolvedIds.has(id) ? 2 : 1);
      threadMessages += replies.length;
    }

    // --- Retry-After was honoured: a call answered 429 was not repeated within the second ---------
    const early = proxy.requests
      .filter((r) => r.outcome === 'status' && r.status === 429)
      .map((limited) => ({ limited, retry: proxy.requests.find((r) => r.at > limited.at && r.digest === limited.digest) }))
      .filter(({ limited, retry }) => retry && retry.at - limited.at < 950)
      .map(({ limited, retry }) => `${limited.method} retried ${retry!.at - limited.at} ms after a 429 with Retry-After: 1`);
    expect(early).toEqual([]);

    // Nothing on Slack but the cards and their threads.
    expect(slack.allMessages()).toHaveLength(ids.length + threadMessages);

    const stored = readDb(t.dbFile, (db) => (db.prepare('SELECT count(*) AS n FROM incidents').get() as { n: number }).n);
    const mine: FaultCounts = {
      sent: incidentOf.size,
      stored,
      posted: slack.allMessages().filter((m) => m.thread_ts === undefined).length,
      faults: proxy.injected() + refusedDeliveries,
      executions: 0,
    };
    add(mine);
    console.log(
      `chat outage details: outage ${recoveredAt - started} ms; drained ${drainedAt - recoveredAt} ms after recovery; proxy failed ${proxy.injected()} requests ` +
        `(${injected((r) => r.status === 500)}×500, ${injected((r) => r.status === 429)}×429, ${injected((r) => r.outcome === 'hung')} hung), ${refusedDeliveries} deliveries refused; ` +
        `${threadMessages} thread messages; ${slack.callsTo('chat.update').length} card updates`,
    );
    expect(mine.sent).toBe(INCIDENTS);
    expect(mine.stored).toBe(mine.sent);
    expect(mine.posted).toBe(mine.stored);
  });

  it('posts the card and the thread message once when Slack did the work but its answer was lost', async () => {
    // The other half of a timeout: chat.postMessage succeeded on Slack and the answer never came
    // back (the proxy forwards, then resets the connection). Once for the card, once for the reply.
    const lossySlack = await startFakeSlack({ rateLimit: false });
    const dropped: string[] = [];
    const lossy = await startFaultProxy(lossySlack.url, {
      onUpstreamAnswer: (request, status) => {
        if (request.method !== 'chat.postMessage' || status !== 200) return 'relay';
        const kind = new URLSearchParams(request.body).has('thread_ts') ? 'reply' : 'card';
        if (dropped.includes(kind)) return 'relay';
        dropped.push(kind);
        return 'drop';
      },
    });
    const bot = await startTestBot({ slack: lossySlack, runbooks: { 'outage.yaml': RUNBOOK }, env: { SLACK_API_URL: lossy.url } });
    try {
      const answer = await bot.postWebhook(groupNotification({ service: 'outage-lost-answer', alertname: 'OutageDown' }));
      expect(answer.json).toMatchObject({ status: 'stored', incidentId: 1 });
      await pollUntil(async () => (await bot.bot.store.transaction((tx) => tx.countPendingOutbox())) === 0, 20_000, 'the outbox to drain');
      expect(dropped).toEqual(['card', 'reply']);

      const cards = lossySlack.topLevel(ALERT_CHANNEL);
      const ref = await bot.bot.store.transaction((tx) => tx.getCardMessage(1, 'slack', ALERT_CHANNEL));
      const thread = lossySlack.threadReplies(ALERT_CHANNEL, ref?.threadId ?? '').map((m) => m.text);
      const { body } = await getJson<{ events: AuditEvent[] }>(`${bot.url}/incidents/1/audit`);
      add({ sent: 1, stored: 1, posted: cards.length, faults: dropped.length, executions: 0 });
      console.log(
        `lost answer details: ${cards.length} card(s) for incident #1 (ts ${cards.map((c) => c.ts).join(', ')}; the bot kept ${ref?.messageId ?? 'none'}); ` +
          `thread of the kept card: ${thread.length} message(s); chat.postMessage calls that reached Slack: ${lossySlack.callsTo('chat.postMessage').length}`,
      );
      expect(cards.map((c) => c.ts), 'cards of incident #1 on Slack').toHaveLength(1);
      expect(thread, 'thread of incident #1').toEqual(threadEvents(body.events).map((e) => slackEscaped(e.text)));
    } finally {
      await bot.stop();
      await lossy.close();
      await lossySlack.close();
    }
  });
});
