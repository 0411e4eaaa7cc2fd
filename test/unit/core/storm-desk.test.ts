import { webApi } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildCard } from '../../../src/core/card-builder.js';
import type { DeliveryTarget } from '../../../src/core/events.js';
import { recordNotification } from '../../../src/core/notifications.js';
import { offersFor } from '../../../src/core/offers.js';
import { OutboxWorker } from '../../../src/core/outbox-worker.js';
import type { StormSettings } from '../../../src/core/storm-desk.js';
import { SlackPlatform } from '../../../src/bot/slack/platform.js';
import { createMetrics } from '../../../src/metrics.js';
import type { StoreTx } from '../../../src/core/ports/store.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack-api.js';
import { alert, gitcortexRunbook, manualClock, notification, silentLog } from './factories.js';

/**
 * StormDesk through the outbox worker, on the fake Slack, paced to Slack's limits (one
 * chat.postMessage a second per channel, bursts of 3; chat.update 50 a minute) on a manual clock
 * (so the fake's own limiter, on the real clock, is off; the storm e2e runs with it):
 * when a storm opens, what its digest lists, the order of the cards that follow, the opening
 * messages folded into the cards, holding cards and "Post cards", and the end of the storm.
 */
const CHANNEL = 'C0ALERTS';
const SLACK: DeliveryTarget = { platform: 'slack', channel: CHANNEL };
const runbooks = [gitcortexRunbook()];

let slack: FakeSlack;
let store: SqliteStore;
let clock: ReturnType<typeof manualClock>;

async function renderCard(tx: StoreTx, incidentId: number) {
  const incident = await tx.getIncident(incidentId);
  if (!incident) throw new Error(`incident ${incidentId} does not exist`);
  const { offers, unavailable } = offersFor(runbooks, incident.commonLabels);
  return buildCard({ incident, alerts: await tx.listAlerts(incidentId), runs: await tx.listStepRuns(incidentId), offers, unavailable });
}

function makeWorker(storms: StormSettings): OutboxWorker {
  const client = new webApi.WebClient(slack.token, { slackApiUrl: slack.url, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, logLevel: webApi.LogLevel.ERROR });
  return new OutboxWorker({
    store,
    platforms: new Map([['slack', new SlackPlatform(client, {})]]),
    renderCard,
    clock: clock.now,
    log: silentLog,
    metrics: createMetrics(() => Promise.resolve(0)),
    redact: createRedactor([]),
    storms,
  });
}

/** Opens `n` incidents in the channel: the first `warnings` are warnings, the rest critical. Their ids. */
async function openIncidents(n: number, warnings: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const severity = i < warnings ? 'warning' : 'critical';
    const note = notification([alert(`storm-${i}:9100`, { severity, labels: { service: `svc-${i}` } })], { groupKey: `storm-${i}` });
    const { incidentId } = await store.transaction((tx) => recordNotification(tx, note, clock.now().toISOString(), [SLACK]));
    ids.push(incidentId);
  }
  return ids;
}

const isDigest = (json: string) => json.includes('Alert storm');
const idsIn = (text: string, pattern: RegExp): number[] => [...text.matchAll(pattern)].map((m) => Number(m[1]));
const topLevel = () => slack.topLevel(CHANNEL).map((m) => ({ ts: m.ts, json: JSON.stringify(m.blocks) }));
const cardIds = () => topLevel().filter((m) => !isDigest(m.json)).flatMap((m) => [...new Set(idsIn(m.json, /"ack:(\d+)"/g))]);
const openStorms = () => store.transaction((tx) => tx.storms.openStorms());

/** Ticks the worker on the manual clock, 100 ms apart, until `done` or `maxMs` of clock time. */
async function drive(worker: OutboxWorker, done: () => Promise<boolean>, maxMs = 120_000): Promise<void> {
  for (let t = 0; t <= maxMs; t += 100) {
    await worker.runOnce();
    if (await done()) return;
    clock.advance(100);
  }
  throw new Error(`not done after ${maxMs} ms of clock time`);
}

beforeEach(async () => {
  slack = await startFakeSlack({ channels: [CHANNEL], rateLimit: false });
  store = new SqliteStore(':memory:');
  clock = manualClock();
});

afterEach(async () => {
  await store.close();
  await slack.close();
});

describe('StormDesk', () => {
  it('lists a channel\'s queued cards in one digest posted first, cards critical first without opening messages, then ends the storm with every line pointing at its card', async () => {
    const ids = await openIncidents(12, 8);
    const worker = makeWorker({ digestAfterSeconds: 2, cardsPerMinute: 0 });

    await worker.runOnce();
    // 12 new cards is more than the burst of 3 and 2 s of one a second: a digest, before any card.
    const [first] = topLevel();
    expect(first && isDigest(first.json)).toBe(true);
    expect(new Set(idsIn(first!.json, /#(\d+) /g))).toEqual(new Set(ids));
    expect(first!.json).toContain('12 incidents (4 critical, 8 warning)');

    await drive(worker, async () => cardIds().length === 12 && (await openStorms()).length === 0);
    const order = cardIds();
    expect(new Set(order)).toEqual(new Set(ids));
    expect(order.length).toBe(12);
    // The critical ones (the last four opened) go first.
    expect(new Set(order.slice(0, 4))).toEqual(new Set(ids.slice(8)));
    // An incident listed in the digest gets no opening thread message: its card says it.
    expect(slack.allMessages().filter((m) => m.thread_ts !== undefined)).toEqual([]);
    // One digest, edited in place to say the storm is over, each line linking to its card.
    const digests = topLevel().filter((m) => isDigest(m.json));
    expect(digests).toHaveLength(1);
    const final = digests[0]!.json;
    expect(final).toContain('Alert storm over');
    for (const id of ids) expect(final).toMatch(new RegExp(`#${id} [^\\n]*\\|card>`));
  });

  it('opens no storm for a queue its pace posts within the set seconds: cards and opening messages as usual', async () => {
    await openIncidents(4, 4);
    const worker = makeWorker({ digestAfterSeconds: 2, cardsPerMinute: 0 });
    await drive(worker, async () => (await store.transaction((tx) => tx.countPendingOutbox())) === 0);
    expect(topLevel().some((m) => isDigest(m.json))).toBe(false);
    expect(cardIds()).toHaveLength(4);
    expect(slack.allMessages().filter((m) => m.thread_ts !== undefined)).toHaveLength(4);
  });

  it('holds cards to STORM_CARDS_PER_MINUTE behind a "Post cards" button; released, the rest follow at the channel\'s pace', async () => {
    await openIncidents(10, 5);
    const worker = makeWorker({ digestAfterSeconds: 2, cardsPerMinute: 6 });
    await worker.runOnce();
    const digest = topLevel()[0]!;
    expect(digest.json).toContain('Post cards');
    // 10 s of clock: about one card every 10 s, not ten.
    await drive(worker, () => Promise.resolve(false), 10_000).catch(() => undefined);
    const held = cardIds().length;
    expect(held).toBeLessThanOrEqual(2);

    const [storm] = await openStorms();
    expect(await store.transaction((tx) => tx.storms.releaseStorm(storm!.id))).toBe(true);
    const releasedAt = clock.ms();
    await drive(worker, async () => cardIds().length === 10 && (await openStorms()).length === 0, 60_000);
    // Released: the rest went at the channel's pace, not one per 10 s.
    expect(clock.ms() - releasedAt).toBeLessThan(20_000);
    const final = topLevel().find((m) => m.ts === digest.ts)!.json;
    expect(final).toContain('Alert storm over');
    expect(final).not.toContain('Post cards');
  });
});
