/**
 * HTTP load from the bench process with an undici pool. Two shapes:
 * - closed loop: `connections` workers send back to back for `durationMs` (the maximum rate;
 *   latency there is about connections / throughput, by Little's law);
 * - fixed rate: requests are scheduled at `rate` per second whatever the answers do, and latency
 *   counts from the scheduled time, so a stalled server is not hidden (no coordinated omission).
 */
import { Pool } from 'undici';
import { sleep, summarize, type LatencySummary } from './stats.js';

export interface LoadTarget {
  url: string;
  path: string;
  headers: Record<string, string>;
  /** The next request body. */
  body: () => string;
}

export interface LoadResult {
  /** Completed 2xx answers per second over the measured window. */
  perSecond: number;
  latency: LatencySummary;
  ok: number;
  /** Of the 2xx answers, those that were 202 (the bot stored the notification in its inbox, to record it right after). */
  accepted: number;
  errors: number;
  /** Status (or error name) → count, for everything that was not 2xx. */
  failures: Record<string, number>;
  seconds: number;
}

interface Recorder {
  samples: number[];
  ok: number;
  accepted: number;
  errors: number;
  failures: Record<string, number>;
}

const newRecorder = (): Recorder => ({ samples: [], ok: 0, accepted: 0, errors: 0, failures: {} });

async function send(pool: Pool, target: LoadTarget, since: number, rec: Recorder | undefined): Promise<void> {
  try {
    const res = await pool.request({ path: target.path, method: 'POST', headers: target.headers, body: target.body() });
    await res.body.dump();
    if (!rec) return;
    if (res.statusCode >= 200 && res.statusCode < 300) {
      rec.ok += 1;
      if (res.statusCode === 202) rec.accepted += 1;
      rec.samples.push(performance.now() - since);
    } else {
      rec.errors += 1;
      rec.failures[String(res.statusCode)] = (rec.failures[String(res.statusCode)] ?? 0) + 1;
    }
  } catch (error) {
    if (!rec) return;
    rec.errors += 1;
    const name = error instanceof Error ? error.name : 'error';
    rec.failures[name] = (rec.failures[name] ?? 0) + 1;
  }
}

function result(rec: Recorder, seconds: number): LoadResult {
  return { perSecond: rec.ok / seconds, latency: summarize(rec.samples), ok: rec.ok, accepted: rec.accepted, errors: rec.errors, failures: rec.failures, seconds };
}

/** Back-to-back requests on every connection: warm-up first (not recorded), then the measured window. */
export async function closedLoop(target: LoadTarget, o: { connections: number; warmupMs: number; durationMs: number }): Promise<LoadResult> {
  const pool = new Pool(target.url, { connections: o.connections, pipelining: 1 });
  try {
    const run = async (ms: number, rec: Recorder | undefined) => {
      const end = performance.now() + ms;
      await Promise.all(
        Array.from({ length: o.connections }, async () => {
          while (performance.now() < end) await send(pool, target, performance.now(), rec);
        }),
      );
    };
    await run(o.warmupMs, undefined);
    const rec = newRecorder();
    const started = performance.now();
    await run(o.durationMs, rec);
    return result(rec, (performance.now() - started) / 1000);
  } finally {
    await pool.close();
  }
}

/**
 * `rate` requests per second for `durationMs`, on at most `connections` connections (the rest wait
 * in the pool's queue, and that wait counts). A server that falls more than a second behind gets
 * no more requests until it catches up (they are counted as `skipped`, not sent), so a slow server
 * does not turn the run into minutes of backlog. Waits up to `drainMs` for late answers.
 */
export async function fixedRate(target: LoadTarget, o: { rate: number; connections: number; durationMs: number; drainMs?: number }): Promise<LoadResult> {
  const pool = new Pool(target.url, { connections: o.connections, pipelining: 1 });
  const rec = newRecorder();
  const inFlight = new Set<Promise<void>>();
  try {
    const maxBehind = Math.max(o.connections, Math.ceil(o.rate));
    let skipped = 0;
    const started = performance.now();
    let issued = 0;
    while (performance.now() - started < o.durationMs) {
      const due = Math.floor(((performance.now() - started) / 1000) * o.rate);
      for (; issued < due; issued += 1) {
        if (inFlight.size >= maxBehind) {
          skipped += 1;
          continue;
        }
        const scheduledAt = started + (issued / o.rate) * 1000;
        const p = send(pool, target, scheduledAt, rec).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await sleep(1);
    }
    const deadline = performance.now() + (o.drainMs ?? 10_000);
    while (inFlight.size > 0 && performance.now() < deadline) await Promise.race([...inFlight, sleep(100)]);
    const unanswered = inFlight.size;
    // A snapshot: requests cut off by destroying the pool below must not count twice.
    const final = { ...rec, failures: { ...rec.failures } };
    if (unanswered > 0) final.failures.unanswered = unanswered;
    if (skipped > 0) final.failures['skipped (server over a second behind)'] = skipped;
    final.errors += unanswered + skipped;
    // The rate achieved over the offered window: answers that came late still count, late.
    return result(final, o.durationMs / 1000);
  } finally {
    await pool.destroy();
  }
}
