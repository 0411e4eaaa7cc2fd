/**
 * Memory and start-up: the bot's resident memory with `incidents` open incidents (after a forced
 * garbage collection), and spawn-to-`/readyz` on an empty and on that populated database.
 */
import { Pool } from 'undici';
import { makeDir, startBot } from '../bot.js';
import { firingAlerts, notification, randomGroup, seededRandom } from '../payloads.js';
import { botEnv, startSlack, webhookTarget } from '../setup.js';
import { median, sleep } from '../stats.js';

export interface MemoryConfig {
  incidents: number;
  startups: number;
}

export interface MemoryResult {
  incidents: number;
  /** RSS after start-up, empty database, after a GC (MB). */
  idleRssMB: number;
  /** RSS with every incident open, after a GC (MB). */
  loadedRssMB: number;
  /** Peak RSS during the ingest (MB). */
  peakRssMB: number;
  ingestSeconds: number;
  startupEmptyMs: number[];
  startupPopulatedMs: number[];
  startupEmptyMedianMs: number;
  startupPopulatedMedianMs: number;
}

async function settle(gc: () => Promise<void>): Promise<void> {
  await gc();
  await sleep(1000);
  await gc();
}

export async function benchMemory(cfg: MemoryConfig): Promise<MemoryResult> {
  const slack = await startSlack();
  try {
    const startupEmptyMs: number[] = [];
    for (let i = 0; i < cfg.startups; i += 1) {
      const bot = await startBot({ dir: await makeDir('startup'), env: botEnv(slack) });
      startupEmptyMs.push(bot.startupMs);
      await bot.stop();
    }

    const dir = await makeDir('memory');
    const bot = await startBot({ dir, env: botEnv(slack), inspect: true });
    let idleRssMB: number;
    let loadedRssMB: number;
    let peakRssMB: number;
    let ingestSeconds: number;
    try {
      await settle(() => bot.collectGarbage());
      idleRssMB = bot.rssMB();
      const random = seededRandom(11);
      const startsAt = new Date().toISOString();
      let n = 0;
      const target = webhookTarget(bot.url, () => {
        n += 1;
        const group = randomGroup(random, n);
        group.cluster = `open-${n}`;
        return JSON.stringify(notification(group, firingAlerts(group, 1, startsAt)));
      });
      const pool = new Pool(bot.url, { connections: 16 });
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (n < cfg.incidents) {
            const res = await pool.request({ path: target.path, method: 'POST', headers: target.headers, body: target.body() });
            await res.body.dump();
          }
        }),
      );
      ingestSeconds = (performance.now() - started) / 1000;
      await pool.close();
      peakRssMB = bot.peakRssMB();
      await settle(() => bot.collectGarbage());
      loadedRssMB = bot.rssMB();
    } finally {
      await bot.stop();
    }

    const startupPopulatedMs: number[] = [];
    for (let i = 0; i < cfg.startups; i += 1) {
      const again = await startBot({ dir, env: botEnv(slack) });
      startupPopulatedMs.push(again.startupMs);
      await again.stop();
    }
    return {
      incidents: cfg.incidents,
      idleRssMB,
      loadedRssMB,
      peakRssMB,
      ingestSeconds,
      startupEmptyMs,
      startupPopulatedMs,
      startupEmptyMedianMs: median(startupEmptyMs),
      startupPopulatedMedianMs: median(startupPopulatedMs),
    };
  } finally {
    await slack.close();
  }
}
