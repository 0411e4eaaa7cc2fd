/**
 * Webhook ingest: notifications per second and latency to the 2xx, for the bot on SQLite and on
 * PostgreSQL, beside a bare Node server reading and parsing the same bodies (the ceiling) and a
 * minimal server that only validates and durably appends them (what durability alone costs). Each
 * column gets the maximum rate (closed loop) and a fixed offered rate (the target rate).
 */
import type { FakeSlack } from '../../test/fakes/slack-api.js';
import { metricValue } from '../../test/support/faults-kit.js';
import { BotStartError, makeDir, startBot, startBareServer, startDurableServer, type ReferenceServer } from '../bot.js';
import { closedLoop, fixedRate, type LoadResult } from '../load.js';
import { NotificationMix } from '../payloads.js';
import { WEBHOOK_TOKEN, botEnv, createPostgresDatabase, webhookTarget } from '../setup.js';
import { waitUntil } from '../stats.js';

export interface IngestConfig {
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** The offered rate of the fixed-rate run (the target throughput). */
  fixedRate: number;
  /** Extra node flags for the bot (profiling). */
  nodeFlags?: string[];
}

/**
 * What the bot's inbox did in one phase: how many notifications were recorded (those answered 202
 * after their answer), and how long recording went on once the load stopped.
 */
export interface InboxPhase {
  /** Recorded in the phase and its drain (stored + duplicates). */
  recorded: number;
  /** From the end of the load until nothing waited in the inbox, in s. */
  drainSeconds: number;
  /** Load time plus drain time, in s. */
  seconds: number;
}

type Phase = 'max' | 'fixed' | 'half';

export interface IngestColumn {
  name: 'bare Node (ceiling)' | 'minimal durable server' | 'bot on SQLite' | 'bot on PostgreSQL';
  /** Why the column has no numbers (e.g. the store is not in this build). */
  unavailable?: string;
  max?: LoadResult;
  fixed?: LoadResult;
  /** A fixed rate at half the column's own maximum: latency when the server is not saturated. */
  half?: LoadResult;
  /** The bot's inbox in each phase (bots only). */
  inbox?: Record<Phase, InboxPhase>;
}

/** The bot's notification counters, from /metrics. */
async function counters(url: string): Promise<{ recorded: number; waiting: number }> {
  const page = await (await fetch(`${url}/metrics`)).text();
  const received = (result: string) => metricValue(page, 'chatops_notifications_received_total', { result });
  return { recorded: received('stored') + received('duplicate'), waiting: metricValue(page, 'chatops_inbox_notifications', { state: 'waiting' }) };
}

/** Runs one phase against a bot, then waits until its inbox is empty, so the next phase starts clean. */
async function withInbox(url: string, run: () => Promise<LoadResult>, drainTimeoutMs: number): Promise<{ load: LoadResult; inbox: InboxPhase }> {
  const before = await counters(url);
  const began = performance.now();
  const load = await run();
  const loadEnded = performance.now();
  let after = before;
  // Not much more often than every 250 ms: every scrape is work for the bot too.
  const drained = await waitUntil(async () => (after = await counters(url)).waiting === 0, drainTimeoutMs, 250);
  if (!drained) throw new Error(`${after.waiting} notifications still waited in the inbox ${drainTimeoutMs / 1000} s after the load`);
  const ended = performance.now();
  return {
    load,
    inbox: { recorded: after.recorded - before.recorded, drainSeconds: (ended - loadEnded) / 1000, seconds: (ended - began) / 1000 },
  };
}

const DRAIN_TIMEOUT_MS = 180_000;

async function measure(url: string, seed: number, cfg: IngestConfig, bot: boolean): Promise<Pick<IngestColumn, 'max' | 'fixed' | 'half' | 'inbox'>> {
  const mix = new NotificationMix(seed, `ingest${seed}`);
  const target = webhookTarget(url, () => mix.next());
  const phase = async (run: () => Promise<LoadResult>) => (bot ? withInbox(url, run, DRAIN_TIMEOUT_MS) : { load: await run(), inbox: undefined });
  const max = await phase(() => closedLoop(target, { connections: cfg.connections, warmupMs: cfg.warmupMs, durationMs: cfg.durationMs }));
  const fixed = await phase(() => fixedRate(target, { rate: cfg.fixedRate, connections: cfg.connections, durationMs: cfg.durationMs }));
  const half = await phase(() => fixedRate(target, { rate: Math.max(1, Math.round(max.load.perSecond / 2)), connections: cfg.connections, durationMs: cfg.durationMs }));
  return {
    max: max.load,
    fixed: fixed.load,
    half: half.load,
    ...(max.inbox && fixed.inbox && half.inbox ? { inbox: { max: max.inbox, fixed: fixed.inbox, half: half.inbox } } : {}),
  };
}

async function botColumn(name: IngestColumn['name'], slack: FakeSlack, cfg: IngestConfig, seed: number, databaseUrl?: string): Promise<IngestColumn> {
  const dir = await makeDir('ingest');
  let bot;
  try {
    bot = await startBot({ dir, env: botEnv(slack, databaseUrl ? { DATABASE_URL: databaseUrl } : {}), ...(cfg.nodeFlags ? { nodeFlags: cfg.nodeFlags } : {}) });
  } catch (error) {
    if (!(error instanceof BotStartError)) throw error;
    const lines = error.message.split('\n').map((l) => l.replace(/^[\s-]+/, '').trim());
    const why = lines.find((l) => /DATABASE_URL|postgres/i.test(l)) ?? lines[0];
    return { name, unavailable: `the bot did not start${databaseUrl ? ' on PostgreSQL' : ''}: ${why}` };
  }
  try {
    return { name, ...(await measure(bot.url, seed, cfg, true)) };
  } finally {
    await bot.stop();
  }
}

/** A column of one of the bench's own servers (no inbox: they answer and are done). */
async function referenceColumn(name: IngestColumn['name'], start: () => Promise<ReferenceServer>, cfg: IngestConfig, seed: number): Promise<IngestColumn> {
  const server = await start();
  try {
    return { name, ...(await measure(server.url, seed, cfg, false)) };
  } finally {
    await server.stop();
  }
}

export async function benchIngest(slack: FakeSlack, cfg: IngestConfig): Promise<IngestColumn[]> {
  const columns: IngestColumn[] = [];
  columns.push(await referenceColumn('bare Node (ceiling)', startBareServer, cfg, 1));
  const durableDir = await makeDir('durable');
  columns.push(await referenceColumn('minimal durable server', () => startDurableServer(durableDir, WEBHOOK_TOKEN), cfg, 4));
  columns.push(await botColumn('bot on SQLite', slack, cfg, 2));
  let db;
  try {
    db = await createPostgresDatabase();
  } catch (error) {
    columns.push({ name: 'bot on PostgreSQL', unavailable: `PostgreSQL not reachable on 127.0.0.1:5432: ${(error as Error).message.split('\n')[0]}` });
    return columns;
  }
  try {
    columns.push(await botColumn('bot on PostgreSQL', slack, cfg, 3, db.url));
  } finally {
    await db.drop();
  }
  return columns;
}
