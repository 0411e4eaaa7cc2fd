/**
 * Webhook ingest: notifications per second and latency to the 2xx, for the bot on SQLite and on
 * PostgreSQL, beside a bare Node server reading and parsing the same bodies (the ceiling). Each
 * column gets the maximum rate (closed loop) and a fixed offered rate (the target rate).
 */
import type { FakeSlack } from '../../test/fakes/slack-api.js';
import { BotStartError, makeDir, startBot, startBareServer } from '../bot.js';
import { closedLoop, fixedRate, type LoadResult } from '../load.js';
import { NotificationMix } from '../payloads.js';
import { botEnv, createPostgresDatabase, webhookTarget } from '../setup.js';

export interface IngestConfig {
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** The offered rate of the fixed-rate run (the target throughput). */
  fixedRate: number;
  /** Extra node flags for the bot (profiling). */
  nodeFlags?: string[];
}

export interface IngestColumn {
  name: 'bare Node (ceiling)' | 'bot on SQLite' | 'bot on PostgreSQL';
  /** Why the column has no numbers (e.g. the store is not in this build). */
  unavailable?: string;
  max?: LoadResult;
  fixed?: LoadResult;
  /** A fixed rate at half the column's own maximum: latency when the server is not saturated. */
  half?: LoadResult;
}

async function measure(url: string, seed: number, cfg: IngestConfig): Promise<Pick<IngestColumn, 'max' | 'fixed' | 'half'>> {
  const mix = new NotificationMix(seed, `ingest${seed}`);
  const target = webhookTarget(url, () => mix.next());
  const max = await closedLoop(target, { connections: cfg.connections, warmupMs: cfg.warmupMs, durationMs: cfg.durationMs });
  const fixed = await fixedRate(target, { rate: cfg.fixedRate, connections: cfg.connections, durationMs: cfg.durationMs });
  const half = await fixedRate(target, { rate: Math.max(1, Math.round(max.perSecond / 2)), connections: cfg.connections, durationMs: cfg.durationMs });
  return { max, fixed, half };
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
    return { name, ...(await measure(bot.url, seed, cfg)) };
  } finally {
    await bot.stop();
  }
}

export async function benchIngest(slack: FakeSlack, cfg: IngestConfig): Promise<IngestColumn[]> {
  const columns: IngestColumn[] = [];
  const bare = await startBareServer();
  try {
    columns.push({ name: 'bare Node (ceiling)', ...(await measure(bare.url, 1, cfg)) });
  } finally {
    await bare.stop();
  }
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
