import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { REST } from '@discordjs/rest';
import { buildCard } from '../../../src/core/card-builder.js';
import type { DeliveryTarget } from '../../../src/core/events.js';
import { recordNotification } from '../../../src/core/notifications.js';
import { offersFor } from '../../../src/core/offers.js';
import { OutboxWorker } from '../../../src/core/outbox-worker.js';
import { createDiscordRest, DiscordPlatform } from '../../../src/bot/discord/platform.js';
import type { StoreTx } from '../../../src/core/ports/store.js';
import { createMetrics } from '../../../src/metrics.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { startFakeDiscord, type FakeDiscord } from '../../fakes/discord-api.js';
import { alert, gitcortexRunbook, notification, silentLog } from './factories.js';

/*
 * Discord's global rate limit (a 429 with `global: true`) holds the whole bot, not one channel:
 * while it lasts, no channel may be sent to, or each further call draws another global 429 and
 * Discord may ban the bot's address for a while (topics/rate-limits, "invalid request limit").
 * The REST client keeps the global reset and refuses every call until it (rejectOnRateLimit), and
 * the outbox pauses each channel it is refused for: together, nothing is sent. Real time here,
 * since the REST client keeps its reset on the wall clock.
 */
const CHANNELS = ['1100000000000000011', '1100000000000000012', '1100000000000000013'];
const runbooks = [gitcortexRunbook()];

let discord: FakeDiscord;
let rest: REST;
let store: SqliteStore;

async function renderCard(tx: StoreTx, incidentId: number) {
  const incident = await tx.getIncident(incidentId);
  if (!incident) throw new Error(`incident ${incidentId} does not exist`);
  const { offers, unavailable } = offersFor(runbooks, incident.commonLabels);
  return buildCard({ incident, alerts: await tx.listAlerts(incidentId), runs: await tx.listStepRuns(incidentId), offers, unavailable });
}

beforeEach(async () => {
  discord = await startFakeDiscord({ channels: CHANNELS, rateLimit: false });
  rest = createDiscordRest({ botToken: discord.token, apiUrl: discord.url });
  store = new SqliteStore(':memory:');
});

afterEach(async () => {
  rest.clearHashSweeper();
  rest.clearHandlerSweeper();
  await store.close();
  await discord.close();
});

describe('a global rate limit from Discord', () => {
  it('pauses every channel until its Retry-After has passed, then every card goes out once', async () => {
    const open = async (i: number) => {
      const target: DeliveryTarget = { platform: 'discord', channel: CHANNELS[i] ?? '' };
      await store.transaction((tx) => recordNotification(tx, notification([alert(`global-${i}:3001`)], { groupKey: `global-${i}` }), new Date().toISOString(), [target]));
    };
    // The first channel's card draws the global 429; the other incidents open after it.
    await open(0);
    discord.failNext('POST /channels/:id/messages', 1, { status: 429, retryAfter: 3, global: true });
    const worker = new OutboxWorker({
      store,
      platforms: new Map([['discord', new DiscordPlatform(rest, { guildId: discord.guildId })]]),
      renderCard,
      clock: () => new Date(),
      log: silentLog,
      metrics: createMetrics(() => Promise.resolve(0)),
      redact: createRedactor([]),
    });

    const sent: Array<{ t: number; status: number; channel: string }> = [];
    const start = Date.now();
    const posts = () => discord.calls.filter((c) => c.method === 'POST' && /^\/channels\/\d+\/messages$/.test(c.path));
    for (let tick = 0; tick < 100; tick += 1) {
      const seen = posts().length;
      await worker.runOnce();
      for (const c of posts().slice(seen)) sent.push({ t: Date.now() - start, status: c.status, channel: c.path.split('/')[2] ?? '' });
      if (tick === 0) for (let i = 1; i < CHANNELS.length; i += 1) await open(i);
      if ((await store.transaction((tx) => tx.countPendingOutbox())) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const [limited, ...rest_] = sent;
    expect(limited).toMatchObject({ status: 429 });
    expect(limited!.t).toBeLessThan(500);
    // No channel was sent to while the limit lasted: not the refused one, not the others.
    expect(rest_.filter((s) => s.t < 2900)).toEqual([]);
    expect(rest_.every((s) => s.status === 200)).toBe(true);
    for (const channel of CHANNELS) expect(discord.messages(channel).filter((m) => m.embeds.length > 0), `one card in ${channel}`).toHaveLength(1);
  });
});
