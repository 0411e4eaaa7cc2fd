import { webApi } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildCard } from '../../../src/core/card-builder.js';
import type { CardButton } from '../../../src/core/card.js';
import type { DeliveryTarget } from '../../../src/core/events.js';
import { recordEvent, syncCard } from '../../../src/core/events.js';
import { recordRunEvent, runSubject } from '../../../src/core/run-thread.js';
import { recordNotification } from '../../../src/core/notifications.js';
import { offersFor } from '../../../src/core/offers.js';
import { deliveryKey, OutboxWorker } from '../../../src/core/outbox-worker.js';
import { SlackPlatform } from '../../../src/bot/slack/platform.js';
import type { ChatPacing } from '../../../src/core/ports/chat-platform.js';
import { createMetrics } from '../../../src/metrics.js';
import type { StoreTx } from '../../../src/core/ports/store.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import type { Leadership } from '../../../src/core/ports/leadership.js';
import { startFakeSlack, type FakeSlack, type RecordedCall } from '../../fakes/slack-api.js';
import { alert, gitcortexRunbook, manualClock, notification, silentLog, waitFor } from './factories.js';

const CHANNEL = 'C0ALERTS';
const SLACK: DeliveryTarget = { platform: 'slack', channel: CHANNEL };
const runbooks = [gitcortexRunbook()];

let slack: FakeSlack;
let store: SqliteStore;
let metrics: ReturnType<typeof createMetrics>;
let clock: ReturnType<typeof manualClock>;

const SECRET = 'hunter2-the-configured-secret';

/** The card as the engine renders it, from what the store holds. */
async function renderCard(tx: StoreTx, incidentId: number) {
  const incident = await tx.getIncident(incidentId);
  if (!incident) throw new Error(`incident ${incidentId} does not exist`);
  const { offers, unavailable } = offersFor(runbooks, incident.commonLabels);
  return buildCard({ incident, alerts: await tx.listAlerts(incidentId), runs: await tx.listStepRuns(incidentId), offers, unavailable });
}

function makeWorker(
  options: { clock?: () => Date; pollMs?: number; fetch?: webApi.FetchFunction; warn?: (...args: unknown[]) => void; leadership?: Leadership; pacing?: ChatPacing } = {},
): OutboxWorker {
  const client = new webApi.WebClient(slack.token, {
    slackApiUrl: slack.url,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    logLevel: webApi.LogLevel.ERROR,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const log = options.warn ? { warn: options.warn } : undefined;
  return new OutboxWorker({
    store,
    platforms: new Map([['slack', new SlackPlatform(client, { log, pacing: options.pacing })]]),
    renderCard,
    clock: options.clock ?? clock.now,
    log: silentLog,
    metrics,
    redact: createRedactor([SECRET]),
    ...(options.pollMs ? { pollMs: options.pollMs } : {}),
    ...(options.leadership ? { leadership: options.leadership } : {}),
  });
}

/** Opens an incident for `groupKey` (queues its card and first reply), then queues `texts` as further thread events. */
async function openIncident(groupKey: string, texts: string[], targets: readonly DeliveryTarget[] = [SLACK]): Promise<{ incidentId: number; texts: string[] }> {
  const n = notification([alert(`${groupKey}-1:3001`)], { groupKey });
  const { incidentId } = await store.transaction((tx) => recordNotification(tx, n, clock.now().toISOString(), targets));
  for (const text of texts) {
    await store.transaction((tx) => recordEvent(tx, { at: clock.now().toISOString(), incidentId, actor: 'system', kind: 'test.note', text, data: {} }));
  }
  const first = (await store.transaction((tx) => tx.listAudit(incidentId)))[0]?.text ?? '';
  return { incidentId, texts: [first, ...texts] };
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const pending = () => store.transaction((tx) => tx.countPendingOutbox());
const posts = () => slack.callsTo('chat.postMessage');

/**
 * Runs the worker tick by tick on the manual clock, `stepMs` apart, until nothing is pending.
 * Returns each chat.postMessage call with the manual-clock time of the tick that made it.
 */
async function drive(worker: OutboxWorker, stepMs = 100, maxTicks = 500): Promise<Array<{ t: number; call: RecordedCall }>> {
  const timeline: Array<{ t: number; call: RecordedCall }> = [];
  const start = clock.ms();
  for (let tick = 0; tick < maxTicks; tick += 1) {
    const seen = posts().length;
    await worker.runOnce();
    for (const call of posts().slice(seen)) timeline.push({ t: clock.ms() - start, call });
    if ((await pending()) === 0) return timeline;
    clock.advance(stepMs);
  }
  throw new Error(`outbox not drained after ${maxTicks} ticks; ${await pending()} pending`);
}

/**
 * A fetch under the WebClient that lets Slack do the call and then loses the answer (a reset
 * connection) for the calls `drop` picks: what a timeout after Slack took a message looks like.
 */
function losingAnswers(drop: (method: string, args: URLSearchParams) => boolean): webApi.FetchFunction {
  return async (url, init) => {
    const response = await fetch(url, init);
    const method = String(url).split('/').pop() ?? '';
    if (!drop(method, new URLSearchParams(typeof init?.body === 'string' ? init.body : ''))) return response;
    await response.text();
    throw new TypeError('fetch failed: other side closed');
  };
}

/** Drops the answer of the first `chat.postMessage` that is a card (or a reply, with `reply`). */
function dropFirstPost(kind: 'card' | 'reply'): { fetch: webApi.FetchFunction; dropped: () => number } {
  let dropped = 0;
  const fetch = losingAnswers((method, args) => {
    if (method !== 'chat.postMessage' || args.has('thread_ts') !== (kind === 'reply') || dropped > 0) return false;
    dropped += 1;
    return true;
  });
  return { fetch, dropped: () => dropped };
}

async function apiErrors(): Promise<Record<string, number>> {
  const metric = await metrics.chatApiErrors.get();
  return Object.fromEntries(metric.values.map((v) => [`${v.labels.platform}/${v.labels.operation}`, v.value]));
}

beforeEach(async () => {
  slack = await startFakeSlack({ rateLimit: false, channels: [CHANNEL] });
  store = new SqliteStore(':memory:');
  metrics = createMetrics(() => Promise.resolve(0));
  clock = manualClock();
});

afterEach(async () => {
  await store.close();
  await slack.close();
});

describe('OutboxWorker with SlackPlatform and the real WebClient', () => {
  it('sends nothing while another replica leads, and everything once this one leads', async () => {
    await openIncident('g1', ['update 2']);
    let leading = false;
    const worker = makeWorker({ leadership: { isLeader: () => leading, start: () => Promise.resolve(), stop: () => Promise.resolve() } });
    await worker.runOnce();
    await worker.runOnce();
    expect(posts()).toHaveLength(0);
    expect(await pending()).toBe(3);
    leading = true;
    await drive(worker);
    expect(posts()).toHaveLength(3);
  });

  it('delivers a card and its replies exactly once and in order through 500s and a 429, honouring Retry-After', async () => {
    const { texts } = await openIncident('g1', ['update 2', 'update 3 <!channel> & <@U123>', 'update 4', 'update 5']);
    expect(texts).toHaveLength(5);
    expect(await pending()).toBe(6);
    slack.failNext('chat.postMessage', 2, { status: 500 });
    slack.failNext('chat.postMessage', 1, { status: 429, retryAfter: 1 });

    const timeline = await drive(makeWorker());

    // The card: 500 (backoff 1 s), 500 (backoff 2 s), 429 (Retry-After 1 s), then posted; replies
    // behind it, paced to Slack's per-channel rate (1/s after a burst of 3; failed calls count too).
    const shape = timeline.map(({ t, call }) => [t, call.status, call.args.thread_ts === undefined ? 'card' : 'reply'] as const);
    expect(shape.slice(0, 4)).toEqual([
      [0, 500, 'card'],
      [1000, 500, 'card'],
      [3000, 429, 'card'],
      [4000, 200, 'card'],
    ]);
    const replyTimes = shape.slice(4).map(([t, status, kind]) => {
      expect([status, kind]).toEqual([200, 'reply']);
      return t;
    });
    expect(replyTimes).toHaveLength(texts.length);
    expect(replyTimes.every((t) => t >= 4000)).toBe(true);
    for (let i = 0; i < shape.length; i += 1) {
      const inWindow = shape.filter(([t]) => t >= shape[i]![0] && t < shape[i]![0] + 1000).length;
      expect(inWindow, `posts in the second from ${shape[i]![0]} ms`).toBeLessThanOrEqual(3);
    }
    const rateLimitedAt = timeline[2]!.t;
    const retriedAt = timeline[3]!.t;
    expect(retriedAt - rateLimitedAt).toBeGreaterThanOrEqual(1000);

    const [card, ...others] = slack.topLevel(CHANNEL);
    expect(others).toEqual([]);
    expect(card?.blocks[0]).toMatchObject({ type: 'header' });
    expect(slack.threadReplies(CHANNEL, card!.ts).map((m) => m.text)).toEqual(texts.map(escape));
    expect(slack.allMessages()).toHaveLength(6);

    expect(await apiErrors()).toEqual({ 'slack/card': 3 });
    expect(await metrics.registry.getSingleMetricAsString('chatops_chat_api_errors_total')).toContain('chatops_chat_api_errors_total{platform="slack",operation="card"} 3');
    const ref = await store.transaction((tx) => tx.getCardMessage(1, 'slack', CHANNEL));
    expect(ref).toEqual({ incidentId: 1, platform: 'slack', channel: CHANNEL, messageId: card!.ts, threadId: card!.ts });
  });

  it('updates the posted card instead of posting a second one', async () => {
    const { incidentId } = await openIncident('g1', []);
    await drive(makeWorker());
    clock.advance(60_000);
    await store.transaction((tx) => recordEvent(tx, { at: clock.now().toISOString(), incidentId, actor: 'system', kind: 'test.note', text: 'later', data: {} }, { refreshCard: true }));
    await drive(makeWorker());
    expect(slack.topLevel(CHANNEL)).toHaveLength(1);
    expect(slack.callsTo('chat.update')).toHaveLength(1);
    expect(slack.threadReplies(CHANNEL, slack.topLevel(CHANNEL)[0]!.ts).map((m) => m.text)).toHaveLength(2);
  });

  it('sends a change recorded while an update of the card is on its way: the card never stays stale', async () => {
    const { incidentId } = await openIncident('g1', []);
    await drive(makeWorker());
    const retitle = (title: string) =>
      store.transaction(async (tx) => {
        await tx.updateIncident(incidentId, { title });
        await syncCard(tx, incidentId, clock.now().toISOString());
      });
    await retitle('First change');
    // While Slack handles the update of "First change", a second change is recorded.
    let hooked = false;
    const fetchDuringUpdate: webApi.FetchFunction = async (url, init) => {
      if (!hooked && String(url).endsWith('/chat.update')) {
        hooked = true;
        await retitle('Second change');
      }
      return fetch(url, init);
    };
    await drive(makeWorker({ fetch: fetchDuringUpdate }));
    expect(hooked).toBe(true);
    expect(slack.callsTo('chat.update')).toHaveLength(2);
    expect(slack.topLevel(CHANNEL)[0]?.text).toContain('Second change');
  });

  it('posts the card again, with a new thread, when the posted card was deleted', async () => {
    const { incidentId } = await openIncident('g1', []);
    await drive(makeWorker());
    const [original] = slack.topLevel(CHANNEL);
    slack.failNext('chat.update', 1, { status: 200, body: { ok: false, error: 'message_not_found' } });
    clock.advance(1000);
    await store.transaction((tx) => recordEvent(tx, { at: clock.now().toISOString(), incidentId, actor: 'system', kind: 'test.note', text: 'after delete', data: {} }, { refreshCard: true }));
    await drive(makeWorker());
    const cards = slack.topLevel(CHANNEL);
    expect(cards).toHaveLength(2);
    const reposted = cards[1]!;
    expect(reposted.ts).not.toBe(original!.ts);
    const ref = await store.transaction((tx) => tx.getCardMessage(incidentId, 'slack', CHANNEL));
    expect(ref?.threadId).toBe(reposted.ts);
    expect(slack.threadReplies(CHANNEL, reposted.ts).map((m) => m.text)).toEqual(['after delete']);
  });

  it('holds the replies of an incident whose card keeps failing, without holding other incidents', async () => {
    const b = await openIncident('b', ['b2', 'b3']);
    const c = await openIncident('c', ['c2']);
    const worker = makeWorker();

    for (let round = 0; round < 4; round += 1) {
      // B's card is the oldest message, so it takes the injected failure each round.
      slack.failNext('chat.postMessage', 1, { status: 500 });
      await worker.runOnce();
      clock.advance(10 * 60_000);
    }
    const bCalls = posts().filter((call) => call.injected);
    expect(bCalls).toHaveLength(4);
    expect(bCalls.every((call) => call.args.thread_ts === undefined)).toBe(true);
    // Nothing of B reached Slack; C went through in full on the first round.
    const cCard = slack.topLevel(CHANNEL);
    expect(cCard).toHaveLength(1);
    expect(slack.threadReplies(CHANNEL, cCard[0]!.ts).map((m) => m.text)).toEqual(c.texts);
    expect(slack.allMessages().some((m) => /b2|b3|#1/.test(m.text))).toBe(false);
    expect(await pending()).toBe(4);

    // B's card finally goes through; its replies follow in order, after it.
    await drive(worker);
    const [, bCard] = slack.topLevel(CHANNEL);
    expect(bCard?.text).toMatch(/#1/);
    expect(slack.threadReplies(CHANNEL, bCard!.ts).map((m) => m.text)).toEqual(b.texts);
    expect(slack.allMessages()).toHaveLength(4 + 3);
    expect(await apiErrors()).toEqual({ 'slack/card': 4 });
  });

  it('does not let undeliverable messages of one channel starve the others (more than one batch of them)', async () => {
    // A second target whose channel Slack does not know: every post there fails with channel_not_found.
    const dead: DeliveryTarget = { platform: 'slack', channel: 'C0GONE' };
    for (let i = 0; i < 100; i += 1) await openIncident(`dead-${i}`, [], [dead]);
    expect(await pending()).toBe(200);
    const worker = makeWorker();
    await worker.runOnce();

    const healthy = await openIncident('healthy', []);
    for (let tick = 0; tick < 3; tick += 1) {
      clock.advance(1000);
      await worker.runOnce();
    }
    // Expected: the healthy channel's card and reply were delivered despite the dead channel's backlog.
    const card = slack.topLevel(CHANNEL)[0];
    expect(card, 'card of the healthy incident posted').toBeDefined();
    expect(slack.threadReplies(CHANNEL, card!.ts).map((m) => m.text)).toEqual(healthy.texts);
  });

  it('sends to several channels at once, one message at a time per channel, each thread in order', async () => {
    const channels = ['C0TEAM1', 'C0TEAM2', 'C0TEAM3', 'C0TEAM4'];
    await slack.close();
    // Every call takes 50 ms, as from a well-connected region: sent one by one, these 16 messages take 0.8 s.
    slack = await startFakeSlack({ rateLimit: false, channels, latencyMs: 50 });
    const opened = [];
    for (const [i, channel] of channels.entries()) opened.push(await openIncident(`team-${i}`, ['second', 'third'], [{ platform: 'slack', channel }]));

    let inFlight = 0;
    let mostInFlight = 0;
    const perChannel = new Map<string, number>();
    let mostInOneChannel = 0;
    const counting: webApi.FetchFunction = async (url, init) => {
      const channel = new URLSearchParams(typeof init?.body === 'string' ? init.body : '').get('channel') ?? '';
      inFlight += 1;
      perChannel.set(channel, (perChannel.get(channel) ?? 0) + 1);
      mostInFlight = Math.max(mostInFlight, inFlight);
      mostInOneChannel = Math.max(mostInOneChannel, perChannel.get(channel) ?? 0);
      try {
        return await fetch(url, init);
      } finally {
        inFlight -= 1;
        perChannel.set(channel, (perChannel.get(channel) ?? 1) - 1);
      }
    };
    await drive(makeWorker({ fetch: counting }));

    expect(mostInFlight).toBeGreaterThan(1);
    expect(mostInOneChannel).toBe(1);
    for (const [i, channel] of channels.entries()) {
      const cards = slack.topLevel(channel);
      expect(cards, `one card in ${channel}`).toHaveLength(1);
      expect(slack.threadReplies(channel, cards[0]!.ts).map((m) => m.text)).toEqual(opened[i]!.texts);
    }
    expect(posts().every((call) => call.status === 200)).toBe(true);
  });

  it('honours a Retry-After for the whole channel: none of its other messages goes until it has passed', async () => {
    for (let i = 0; i < 4; i += 1) await openIncident(`pause-${i}`, []);
    slack.failNext('chat.postMessage', 1, { status: 429, retryAfter: 3 });

    const timeline = await drive(makeWorker());

    const [limited, ...rest] = timeline;
    expect(limited).toMatchObject({ t: 0, call: { status: 429 } });
    // Before, only the refused card waited: the other incidents' cards went out in the same tick.
    expect(rest.length).toBe(8);
    expect(rest.every(({ t, call }) => t >= 3000 && call.status === 200)).toBe(true);
    // After the pause, one message at a time at the sustained rate (the platform's bucket has just a token).
    expect(rest[1]!.t - rest[0]!.t).toBeGreaterThanOrEqual(1000);
    expect(slack.topLevel(CHANNEL)).toHaveLength(4);
  });

  it('pauses every card update on a 429 for chat.update, while the channel\'s posts go on', async () => {
    const first = await openIncident('upd-1', []);
    const second = await openIncident('upd-2', []);
    await drive(makeWorker());
    const worker = makeWorker();
    for (const { incidentId } of [first, second]) {
      await store.transaction((tx) => recordEvent(tx, { at: clock.now().toISOString(), incidentId, actor: 'system', kind: 'test.note', text: 'later', data: {} }, { refreshCard: true }));
    }
    await openIncident('posted-meanwhile', []);
    slack.failNext('chat.update', 1, { status: 429, retryAfter: 2 });
    const start = clock.ms();
    const calls: Array<{ t: number; method: string; status: number }> = [];
    const seen = slack.calls.length;
    // A put-off update leaves the outbox until the pace allows it (deferCardUpdate): wait for both.
    const updated = () => calls.filter((c) => c.method === 'chat.update' && c.status === 200).length;
    for (let tick = 0; tick < 100 && ((await pending()) > 0 || updated() < 2); tick += 1) {
      const before = slack.calls.length;
      await worker.runOnce();
      for (const call of slack.calls.slice(Math.max(before, seen))) calls.push({ t: clock.ms() - start, method: call.method, status: call.status });
      clock.advance(100);
    }
    expect(await pending()).toBe(0);
    const updates = calls.filter((c) => c.method === 'chat.update');
    expect(updates.map((c) => c.status)).toEqual([429, 200, 200]);
    // The other card's update waited for the Retry-After too, not only the refused one.
    expect(updates.slice(1).every((c) => c.t >= updates[0]!.t + 2000)).toBe(true);
    // Posts are another bucket: the new card went out during the pause.
    const newCard = calls.find((c) => c.method === 'chat.postMessage');
    expect(newCard!.t).toBeLessThan(updates[0]!.t + 2000);
  });

  it('honours Retry-After with the loop running on the real clock', async () => {
    await openIncident('g1', ['second']);
    slack.failNext('chat.postMessage', 1, { status: 429, retryAfter: 1 });
    const worker = makeWorker({ clock: () => new Date(), pollMs: 20 });
    worker.start();
    try {
      await waitFor(async () => (await pending()) === 0, 5000, 'the outbox to drain');
    } finally {
      await worker.stop();
    }
    const [limited, retried] = posts();
    expect(posts().map((call) => call.status)).toEqual([429, 200, 200, 200]);
    expect(retried!.at - limited!.at).toBeGreaterThanOrEqual(990);
    expect(slack.allMessages()).toHaveLength(3);
  });

  it('paces one channel to Slack\'s rate, so a burst of incidents draws no 429 from a rate-limited Slack', async () => {
    slack.setRateLimit({ postsPerSecondPerChannel: 1, burst: 3 });
    for (let i = 0; i < 4; i += 1) await openIncident(`storm-${i}`, []);
    const worker = makeWorker({ clock: () => new Date(), pollMs: 20 });
    worker.start();
    try {
      await waitFor(async () => (await pending()) === 0, 15_000, 'the outbox to drain');
    } finally {
      await worker.stop();
    }
    expect(slack.rateLimited).toBe(0);
    expect(posts().every((call) => call.status === 200)).toBe(true);
    expect(slack.topLevel(CHANNEL)).toHaveLength(4);
    expect(slack.allMessages()).toHaveLength(8);
  }, 20_000);

  it('runs no tick for a nudge whose channels are over their pace, and sends again as soon as a token is back', async () => {
    for (let i = 0; i < 3; i += 1) await openIncident(`paced-${i}`, []);
    // Count the worker's store transactions: each tick opens one for the heads query.
    let transactions = 0;
    const real = store;
    store = { transaction: (work) => ((transactions += 1), real.transaction(work)), ping: () => real.ping(), close: () => real.close() } as SqliteStore;
    const worker = makeWorker({ clock: () => new Date(), pollMs: 60_000 });
    try {
      worker.start();
      // The burst of 3 goes out; the channel is then over its pace.
      await waitFor(() => Promise.resolve(posts().length === 3), 5_000, 'the burst');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const before = transactions;
      for (let i = 0; i < 20; i += 1) worker.nudge([SLACK]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(transactions).toBe(before);
      expect(posts()).toHaveLength(3);
      // No poll for a minute and no nudge: the tick set for the next token sends the fourth message.
      await waitFor(() => Promise.resolve(posts().length === 4), 3_000, 'the message after the next token');
    } finally {
      await worker.stop();
      store = real;
    }
  }, 10_000);

  it('paces card updates to the workspace limit apart from posts: no 429, replies never wait behind a put-off update, every card ends current', async () => {
    // Scaled down from Slack's (chat.update: ~50 a minute for the workspace) so it shows in seconds.
    slack.setRateLimit({ postsPerSecondPerChannel: 50, burst: 50, updatesPerMinute: 120, updateBurst: 2 });
    const pacing: ChatPacing = { messagesPerSecond: 50, burst: 50, updates: { perMinute: 120, burst: 2 } };
    const groups = Array.from({ length: 6 }, (_, i) => `upd-${i}`);
    const ids: number[] = [];
    for (const g of groups) ids.push((await openIncident(g, [])).incidentId);
    let worker = makeWorker({ clock: () => new Date(), pollMs: 20, pacing });
    worker.start();
    try {
      await waitFor(async () => (await pending()) === 0, 5_000, 'the cards and first replies');
    } finally {
      await worker.stop();
    }
    expect(slack.callsTo('chat.update')).toHaveLength(0);

    // Each incident changes (a second alert joins: a card update), then gets a thread reply.
    for (const [i, g] of groups.entries()) {
      const n = notification([alert(`${g}-1:3001`), alert(`${g}-2:3002`)], { groupKey: g });
      await store.transaction((tx) => recordNotification(tx, n, new Date().toISOString(), [SLACK]));
      await store.transaction((tx) => recordEvent(tx, { at: new Date().toISOString(), incidentId: ids[i]!, actor: 'system', kind: 'test.note', text: `after the change ${i}`, data: {} }));
    }
    const started = Date.now();
    worker = makeWorker({ clock: () => new Date(), pollMs: 20, pacing });
    worker.start();
    try {
      const current = () => slack.topLevel(CHANNEL).filter((card) => JSON.stringify(card.blocks).includes('-2:3002')).length;
      await waitFor(async () => (await pending()) === 0 && current() === groups.length, 15_000, 'every card brought up to date');
    } finally {
      await worker.stop();
    }
    const updates = slack.callsTo('chat.update');
    const replies = posts().filter((c) => typeof c.args.text === 'string' && c.args.text.startsWith('after the change'));
    expect(slack.rateLimited).toBe(0);
    expect(updates.every((c) => c.status === 200)).toBe(true);
    expect(replies).toHaveLength(groups.length);
    // 6 updates at 2 back to back, then under 2 a second: the last is seconds in; the replies
    // queued behind the updates went out at once instead of waiting for them.
    const lastUpdate = Math.max(...updates.map((c) => c.at));
    expect(lastUpdate - started).toBeGreaterThan(1500);
    expect(Math.max(...replies.map((c) => c.at))).toBeLessThan(lastUpdate - 1000);
    // Nothing left marked or queued, and each card was updated, not posted again.
    expect(await store.transaction((tx) => tx.cardsWantingRefresh('slack', 10))).toEqual([]);
    expect(slack.topLevel(CHANNEL)).toHaveLength(groups.length);
  }, 25_000);

  it('redacts secrets from thread messages and cards before they leave', async () => {
    const { incidentId } = await openIncident('g-secret', [`output: token=${SECRET} and xoxb-1234567890-abcdefghij`]);
    await drive(makeWorker());
    const [card] = slack.topLevel(CHANNEL);
    const texts = slack.threadReplies(CHANNEL, card!.ts).map((m) => m.text);
    expect(texts.join('\n')).not.toContain(SECRET);
    expect(texts.join('\n')).not.toContain('xoxb-1234567890');
    expect(texts.at(-1)).toContain('[REDACTED]');
    // The stored audit keeps what happened; only what leaves is redacted.
    expect((await store.transaction((tx) => tx.listAudit(incidentId))).at(-1)?.text).toContain(SECRET);
  });
});

describe('OutboxWorker when an attempt may have reached Slack', () => {
  // Slack's ts is the wall clock, and the look-up reads history from the queue time on.
  beforeEach(() => clock.set(Date.now()));
  const cardPosts = () => posts().filter((call) => call.args.thread_ts === undefined);
  const replyPosts = () => posts().filter((call) => call.args.thread_ts !== undefined);

  it('adopts the card an earlier attempt posted when the answer was lost, instead of posting it again', async () => {
    const { incidentId, texts } = await openIncident('lost-card', ['second']);
    const [cardRow] = await store.transaction((tx) => tx.pendingOutbox(1));
    const lossy = dropFirstPost('card');
    const worker = makeWorker({ fetch: lossy.fetch });

    await worker.runOnce();
    expect(lossy.dropped()).toBe(1);
    // The post went through on Slack; the worker only knows it may have.
    expect(slack.topLevel(CHANNEL)).toHaveLength(1);
    const [inDoubt] = await store.transaction((tx) => tx.pendingOutbox(1));
    expect(inDoubt).toMatchObject({ id: cardRow!.id, attempts: 1, sendingSince: expect.any(String) as unknown });

    await drive(worker);
    const [card, ...others] = slack.topLevel(CHANNEL);
    expect(others, 'a second card').toEqual([]);
    expect(cardPosts()).toHaveLength(1);
    expect(card!.metadata).toEqual({ event_type: 'chatops_delivery', event_payload: { key: deliveryKey(cardRow!) } });
    const lookups = slack.callsTo('conversations.history');
    expect(lookups).toHaveLength(1);
    expect(lookups[0]!.args).toMatchObject({ channel: CHANNEL, include_all_metadata: 'true' });
    // Looked up from a minute before the message was queued (Slack's clock may differ from ours).
    expect(Number(lookups[0]!.args.oldest)).toBeCloseTo((Date.parse(cardRow!.createdAt) - 60_000) / 1000, 3);

    const ref = await store.transaction((tx) => tx.getCardMessage(incidentId, 'slack', CHANNEL));
    expect(ref).toEqual({ incidentId, platform: 'slack', channel: CHANNEL, messageId: card!.ts, threadId: card!.ts });
    // The adopted card shows what was rendered back then: it is brought up to date once.
    expect(slack.callsTo('chat.update')).toHaveLength(1);
    expect(slack.threadReplies(CHANNEL, card!.ts).map((m) => m.text)).toEqual(texts);
    expect(await apiErrors()).toEqual({ 'slack/card': 1 });
  });

  it('adopts a thread reply an earlier attempt posted, and keeps the thread in order', async () => {
    const { texts } = await openIncident('lost-reply', ['second', 'third']);
    const lossy = dropFirstPost('reply');
    await drive(makeWorker({ fetch: lossy.fetch }));

    expect(lossy.dropped()).toBe(1);
    const [card] = slack.topLevel(CHANNEL);
    expect(slack.threadReplies(CHANNEL, card!.ts).map((m) => m.text)).toEqual(texts);
    expect(replyPosts()).toHaveLength(texts.length);
    const lookups = slack.callsTo('conversations.replies');
    expect(lookups).toHaveLength(1);
    expect(lookups[0]!.args).toMatchObject({ channel: CHANNEL, ts: card!.ts, include_all_metadata: 'true' });
    expect(slack.callsTo('conversations.history')).toHaveLength(0);
    expect(await pending()).toBe(0);
  });

  it('does not look up a post Slack refused (invalid_blocks): it certainly is not there', async () => {
    await openIncident('refused', []);
    slack.failNext('chat.postMessage', 1, { status: 200, body: { ok: false, error: 'invalid_blocks' } });
    const worker = makeWorker();
    await worker.runOnce();
    const [row] = await store.transaction((tx) => tx.pendingOutbox(1));
    expect(row).toMatchObject({ attempts: 1, lastError: 'Slack chat.postMessage: invalid_blocks' });
    expect(row!.sendingSince).toBeUndefined();

    await drive(worker);
    expect(slack.callsTo('conversations.history')).toHaveLength(0);
    expect(slack.callsTo('conversations.replies')).toHaveLength(0);
    expect(slack.topLevel(CHANNEL)).toHaveLength(1);
  });

  it('looks up a post answered 500 (Slack may have taken it), finds nothing, and posts it once', async () => {
    await openIncident('five-hundred', []);
    slack.failNext('chat.postMessage', 1, { status: 500 });
    await drive(makeWorker());
    expect(slack.callsTo('conversations.history')).toHaveLength(1);
    expect(cardPosts().map((call) => call.status)).toEqual([500, 200]);
    expect(slack.topLevel(CHANNEL)).toHaveLength(1);
  });

  it('looks up a message the process was sending when it died, and posts it when Slack does not have it', async () => {
    const { texts } = await openIncident('crashed', []);
    // Intent recorded, then the process died before the request left.
    const [row] = await store.transaction((tx) => tx.pendingOutbox(1));
    await store.transaction((tx) => tx.markSending(row!.id, clock.now().toISOString()));
    await drive(makeWorker());
    expect(slack.callsTo('conversations.history')).toHaveLength(1);
    const [card, ...others] = slack.topLevel(CHANNEL);
    expect(others).toEqual([]);
    expect(slack.threadReplies(CHANNEL, card!.ts).map((m) => m.text)).toEqual(texts);
  });

  it('keeps a message in doubt while the look-up itself fails, and never posts it blind', async () => {
    await openIncident('lookup-fails', []);
    const lossy = dropFirstPost('card');
    slack.failNext('conversations.history', 2, { status: 503 });
    const worker = makeWorker({ fetch: lossy.fetch });
    await drive(worker);
    expect(slack.callsTo('conversations.history').map((call) => call.status)).toEqual([503, 503, 200]);
    expect(cardPosts()).toHaveLength(1);
    expect(slack.topLevel(CHANNEL)).toHaveLength(1);
  });

  it('finds a card further back than the first page of the channel history', async () => {
    const { incidentId } = await openIncident('busy-channel', []);
    const lossy = dropFirstPost('card');
    const worker = makeWorker({ fetch: lossy.fetch });
    await worker.runOnce();
    // The channel gets busy before the retry: the card is now behind 150 newer messages.
    const other = new webApi.WebClient(slack.token, { slackApiUrl: slack.url, retryConfig: { retries: 0 }, logLevel: webApi.LogLevel.ERROR });
    for (let i = 0; i < 150; i += 1) await other.chat.postMessage({ channel: CHANNEL, text: `chatter ${i}` });
    await drive(worker);
    expect(slack.callsTo('conversations.history').length).toBeGreaterThan(1);
    const ref = await store.transaction((tx) => tx.getCardMessage(incidentId, 'slack', CHANNEL));
    expect(ref?.messageId).toBe(slack.topLevel(CHANNEL)[0]!.ts);
    expect(slack.topLevel(CHANNEL).filter((m) => m.metadata !== undefined), 'cards posted').toHaveLength(1);
  });

  it('without the history scopes it cannot look, warns once, and posts again (at-least-once)', async () => {
    await slack.close();
    slack = await startFakeSlack({ rateLimit: false, channels: [CHANNEL], missingScopes: ['channels:history'] });
    await openIncident('no-scope-1', []);
    await openIncident('no-scope-2', []);
    const warnings: unknown[][] = [];
    let dropped = 0;
    const worker = makeWorker({
      warn: (...args) => warnings.push(args),
      // Both cards' first answers are lost.
      fetch: losingAnswers((method, args) => method === 'chat.postMessage' && !args.has('thread_ts') && dropped++ < 2),
    });
    await drive(worker);
    expect(slack.callsTo('conversations.history').map((call) => call.response.error)).toEqual(['missing_scope', 'missing_scope']);
    expect(slack.topLevel(CHANNEL)).toHaveLength(4);
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0])).toContain('channels:history');
  });
});

describe('OutboxWorker: channel posts without an incident', () => {
  it('posts a channel message once, top-level, redacted, beside incident threads, even when its answer is lost', async () => {
    await openIncident('g1', ['update 2']);
    const { fetch, dropped } = dropFirstPostOfChannel();
    await store.transaction((tx) => tx.enqueueOutbox({ ...SLACK, incidentId: null, kind: 'post', payload: { text: `🗓️ nightly backup done ${SECRET}` }, at: clock.now().toISOString() }));
    await drive(makeWorker({ fetch }));
    expect(dropped()).toBe(1);
    const top = slack.topLevel(CHANNEL).filter((m) => m.text.startsWith('🗓️'));
    expect(top).toHaveLength(1);
    expect(top[0]!.text).toBe('🗓️ nightly backup done [REDACTED]');
    expect(top[0]!.thread_ts).toBeUndefined();
    // The incident's card and its thread were delivered as before.
    expect(slack.topLevel(CHANNEL).filter((m) => !m.text.startsWith('🗓️'))).toHaveLength(1);
  });

  it('refuses a post with an incident, and a card or reply without one, in the store', async () => {
    const { incidentId } = await openIncident('g1', []);
    const now = clock.now().toISOString();
    await expect(store.transaction((tx) => tx.enqueueOutbox({ ...SLACK, incidentId, kind: 'post', payload: { text: 'x' }, at: now }))).rejects.toThrow(/CHECK constraint/);
    await expect(store.transaction((tx) => tx.enqueueOutbox({ ...SLACK, incidentId: null, kind: 'reply', payload: { text: 'x' }, at: now }))).rejects.toThrow(/CHECK constraint/);
  });
});

/** Drops the answer of the first top-level chat.postMessage that is a channel post (text, no blocks, no thread). */
function dropFirstPostOfChannel(): { fetch: webApi.FetchFunction; dropped: () => number } {
  let dropped = 0;
  const fetch = losingAnswers((method, args) => {
    if (method !== 'chat.postMessage' || args.has('thread_ts') || !(args.get('text') ?? '').startsWith('🗓️') || dropped > 0) return false;
    dropped += 1;
    return true;
  });
  return { fetch, dropped: () => dropped };
}

describe('OutboxWorker: edits of a run\'s message', () => {
  beforeEach(() => clock.set(Date.now()));
  const APPROVE: CardButton[] = [{ action: 'approve', id: 'approve:7', label: 'Approve', value: 'approve:7' }];
  /** Queues a request with buttons (subject run:7) in the incident's thread. */
  const ask = (incidentId: number, text = 'alice asks to run Restart') =>
    store.transaction((tx) =>
      recordEvent(tx, { at: clock.now().toISOString(), incidentId, actor: 'slack:U1', kind: 'step.requested', text, data: {} }, { buttons: APPROVE, subject: runSubject(7) }),
    );
  /** Adds a line to run 7's message (its buttons go), as deciding, starting or finishing the run does. */
  const settle = (incidentId: number, outcome: string, details?: string) =>
    store.transaction((tx) =>
      recordRunEvent(tx, { at: clock.now().toISOString(), incidentId, actor: 'system', kind: 'step.note', text: outcome, data: { runId: 7 } }, { id: 7, stepTitle: 'Restart' }, { line: `→ ${outcome}`, details }),
    );
  const requestOf = (ts: string) => slack.threadReplies(CHANNEL, ts).filter((m) => m.text.startsWith('alice asks'));

  it('posts a request settled before it went out once, with its buttons, and edits it right after', async () => {
    const { incidentId } = await openIncident('settled-early', []);
    await ask(incidentId);
    await settle(incidentId, 'approved by bob 11:01:45 UTC');
    await drive(makeWorker());

    const [card] = slack.topLevel(CHANNEL);
    const [request] = requestOf(card!.ts);
    expect(requestOf(card!.ts)).toHaveLength(1);
    expect(request).toMatchObject({ text: 'alice asks to run Restart\n→ approved by bob 11:01:45 UTC', blocks: [] });
    expect(request!.history).toHaveLength(1);
    expect(slack.callsTo('chat.update').filter((c) => c.args.ts === request!.ts)).toHaveLength(1);
  });

  it('edits the request an earlier attempt posted when its answer was lost: adopted, not posted again', async () => {
    const { incidentId } = await openIncident('settled-lost', []);
    await ask(incidentId);
    let dropped = 0;
    const fetch = losingAnswers((method, args) => method === 'chat.postMessage' && (args.get('text') ?? '').startsWith('alice asks') && dropped++ === 0);
    await settle(incidentId, 'denied by carol');
    await drive(makeWorker({ fetch }));

    expect(dropped).toBeGreaterThan(0);
    const [card] = slack.topLevel(CHANNEL);
    expect(requestOf(card!.ts)).toHaveLength(1);
    expect(requestOf(card!.ts)[0]).toMatchObject({ text: 'alice asks to run Restart\n→ denied by carol', blocks: [] });
  });

  it('paces edits with card updates under the workspace chat.update limit: no 429, every request edited', async () => {
    slack.setRateLimit({ postsPerSecondPerChannel: 50, burst: 50, updatesPerMinute: 120, updateBurst: 2 });
    const pacing: ChatPacing = { messagesPerSecond: 50, burst: 50, updates: { perMinute: 120, burst: 2 } };
    const ids: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const { incidentId } = await openIncident(`paced-edit-${i}`, []);
      await ask(incidentId);
      ids.push(incidentId);
    }
    let worker = makeWorker({ clock: () => new Date(), pollMs: 20, pacing });
    worker.start();
    try {
      await waitFor(async () => (await pending()) === 0, 5_000, 'the cards and requests');
    } finally {
      await worker.stop();
    }
    for (const id of ids) await settle(id, 'expired: the incident was resolved');
    const started = Date.now();
    worker = makeWorker({ clock: () => new Date(), pollMs: 20, pacing });
    worker.start();
    try {
      await waitFor(async () => (await pending()) === 0, 10_000, 'every edit');
    } finally {
      await worker.stop();
    }
    const edits = slack.callsTo('chat.update');
    expect(slack.rateLimited).toBe(0);
    expect(edits).toHaveLength(ids.length);
    // 5 edits at 2 back to back, then under 2 a second.
    expect(Math.max(...edits.map((c) => c.at)) - started).toBeGreaterThan(1000);
    for (const card of slack.topLevel(CHANNEL)) {
      expect(requestOf(card.ts)).toMatchObject([{ text: 'alice asks to run Restart\n→ expired: the incident was resolved', blocks: [] }]);
    }
  }, 20_000);

  /** Deletes a message of the fake Slack as chat.delete does (a person removing it in the client). */
  const deleteMessage = async (ts: string) => {
    const res = await fetch(`${slack.url}chat.delete`, { method: 'POST', headers: { authorization: `Bearer ${slack.token}`, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ channel: CHANNEL, ts }) });
    expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
  };

  it('posts an edit anew when its message was deleted, and edits the new one after that: nothing is lost', async () => {
    const { incidentId } = await openIncident('edit-deleted', []);
    await ask(incidentId);
    await drive(makeWorker());
    const [card] = slack.topLevel(CHANNEL);
    const [request] = requestOf(card!.ts);
    await deleteMessage(request!.ts);
    expect(requestOf(card!.ts)).toHaveLength(0);

    await settle(incidentId, 'approved by bob');
    await drive(makeWorker());
    const [reposted] = requestOf(card!.ts);
    expect(requestOf(card!.ts)).toHaveLength(1);
    expect(reposted).toMatchObject({ text: 'alice asks to run Restart\n→ approved by bob', blocks: [] });
    expect(reposted!.ts).not.toBe(request!.ts);

    await settle(incidentId, 'succeeded: exit 0');
    await drive(makeWorker());
    expect(requestOf(card!.ts)).toMatchObject([{ ts: reposted!.ts, text: 'alice asks to run Restart\n→ approved by bob\n→ succeeded: exit 0' }]);
    expect(await store.transaction((tx) => tx.postedReply('slack', CHANNEL, incidentId, runSubject(7)))).toMatchObject({ messageId: reposted!.ts });
  });

  it('posts an edit anew when the platform refuses to edit the message for good (cant_update_message)', async () => {
    const { incidentId } = await openIncident('edit-refused', []);
    await ask(incidentId);
    await drive(makeWorker());
    const [card] = slack.topLevel(CHANNEL);
    const [request] = requestOf(card!.ts);
    slack.failNext('chat.update', 1, { status: 200, body: { ok: false, error: 'cant_update_message' } });
    await settle(incidentId, 'denied by carol');
    await drive(makeWorker());
    // The original stays as it was; the new text is in the thread once, as a message of its own, without buttons.
    expect(requestOf(card!.ts).map((m) => [m.ts === request!.ts, m.text])).toEqual([
      [true, 'alice asks to run Restart'],
      [false, 'alice asks to run Restart\n→ denied by carol'],
    ]);
    expect(requestOf(card!.ts)[1]?.blocks).toEqual([]);
  });

  it('redacts every edit, and moves details that would not fit below the message instead of losing them', async () => {
    const { incidentId } = await openIncident('edit-redacted', []);
    await ask(incidentId);
    await settle(incidentId, `started: deploy --token ${SECRET}`);
    const output = `\n\`\`\`\n${'x'.repeat(1900)}\nlast line ${SECRET}\n\`\`\``;
    await settle(incidentId, 'failed: exit 1', output);
    await drive(makeWorker());

    const [card] = slack.topLevel(CHANNEL);
    const thread = slack.threadReplies(CHANNEL, card!.ts);
    const [request] = requestOf(card!.ts);
    const everything = JSON.stringify([...slack.callsTo('chat.update'), ...posts()].map((c) => c.args));
    expect(everything).not.toContain(SECRET);
    expect(request!.text).toBe('alice asks to run Restart\n→ started: deploy --token [REDACTED]\n→ failed: exit 1 (details below)');
    const details = thread.at(-1)!;
    expect(details.text).toContain('Restart');
    expect(details.text).toContain('last line [REDACTED]');
  });
});
