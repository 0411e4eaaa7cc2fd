/**
 * Alert storm into ONE channel, as most teams route alerts: `groups` groups of `alertsPerGroup`
 * alerts sent through the webhook as Alertmanager would (each group, then the same again from the
 * HA peer), all to the default Slack channel of a fake Slack that enforces Slack's limits (about
 * one chat.postMessage a second per channel, bursts of 3; 50 chat.update a minute). Times, from the
 * first send, when every incident is visible in the channel (carded, or listed in the storm
 * digest) and when every incident is carded; the latter is compared with the least time Slack's
 * pace allows for that many cards.
 */
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { makeDir, startBot } from '../bot.js';
import { firingAlerts, notification, randomGroup, seededRandom } from '../payloads.js';
import { DEFAULT_CHANNEL, botEnv, startSlack, webhookTarget } from '../setup.js';
import { sleep, waitUntil } from '../stats.js';

export interface StormOneChannelConfig {
  groups: number;
  alertsPerGroup: number;
  /** First notifications of the groups are spread over this window (Alertmanager sends a storm's groups within seconds). */
  spreadMs: number;
  drainTimeoutMs: number;
  slackLatencyMs: number;
}

export interface StormOneChannelResult {
  groups: number;
  alerts: number;
  slackLatencyMs: number;
  spreadS: number;
  /** The fake Slack's pace for one channel: what the least time is computed from. */
  postsPerSecond: number;
  burst: number;
  /** First send to every incident carded or listed in a digest, seconds (NaN: not within the timeout). */
  visibleS: number;
  /** First send to every incident carded, seconds (NaN: not within the timeout). */
  cardedS: number;
  /** The least time Slack's pace allows for `groups` cards in one channel: the burst at once, then one per 1/rate s. */
  leastCardedS: number;
  digestMessages: number;
  digestEdits: number;
  threadReplies: number;
  rateLimited429: number;
  lostAlerts: number;
}

const POSTS_PER_SECOND = 1;
const BURST = 3;

const idsIn = (text: string, pattern: RegExp): number[] => [...text.matchAll(pattern)].map((m) => Number(m[1]));
const isDigest = (json: string) => json.includes('Alert storm') || json.includes('Storm digest');

export async function benchStormOneChannel(cfg: StormOneChannelConfig): Promise<StormOneChannelResult> {
  const slack = await startSlack(cfg.slackLatencyMs);
  const dir = await makeDir('storm-one-channel');
  const bot = await startBot({ dir, env: botEnv(slack) });
  const db = new Database(bot.dbPath, { readonly: true, fileMustExist: true });
  try {
    const random = seededRandom(7);
    const startsAt = new Date().toISOString();
    const sends: Array<{ at: number; body: string }> = [];
    for (let g = 0; g < cfg.groups; g += 1) {
      const group = randomGroup(random, g);
      group.cluster = `one-channel-${g}`;
      const body = JSON.stringify(notification(group, firingAlerts(group, cfg.alertsPerGroup, startsAt)));
      const at = (g * cfg.spreadMs) / cfg.groups;
      sends.push({ at, body }, { at: at + 200, body });
    }
    sends.sort((a, b) => a.at - b.at);

    const incidents = db.prepare<[], { id: number }>('SELECT id FROM incidents');
    const seen = () => {
      const carded = new Set<number>();
      const listed = new Set<number>();
      for (const m of slack.topLevel(DEFAULT_CHANNEL)) {
        const json = JSON.stringify(m.blocks);
        if (isDigest(json)) for (const id of idsIn(json, /#(\d+) /g)) listed.add(id);
        else for (const id of idsIn(json, /"ack:(\d+)"/g)) carded.add(id);
      }
      return { carded, listed };
    };
    let visibleAt = Number.NaN;
    let cardedAt = Number.NaN;
    const started = performance.now();
    let done = false;
    // Watches the channel every 100 ms while the storm is sent and drained.
    const watcher = (async () => {
      while (!done && Number.isNaN(cardedAt)) {
        const ids = incidents.all().map((r) => r.id);
        if (ids.length >= cfg.groups) {
          const { carded, listed } = seen();
          const now = (performance.now() - started) / 1000;
          if (Number.isNaN(visibleAt) && ids.every((id) => carded.has(id) || listed.has(id))) visibleAt = now;
          if (ids.every((id) => carded.has(id))) cardedAt = now;
        }
        await sleep(100);
      }
    })();

    const target = webhookTarget(bot.url, () => '');
    const pool = new Pool(target.url, { connections: 8 });
    const inFlight: Array<Promise<void>> = [];
    for (const s of sends) {
      const wait = started + s.at - performance.now();
      if (wait > 0) await sleep(wait);
      inFlight.push(
        pool
          .request({ path: target.path, method: 'POST', headers: target.headers, body: s.body })
          .then((res) => res.body.dump())
          .catch(() => undefined),
      );
    }
    await Promise.all(inFlight);
    await pool.close();
    await waitUntil(() => !Number.isNaN(cardedAt), cfg.drainTimeoutMs, 250);
    done = true;
    await watcher;

    const digestTs = new Set(slack.topLevel(DEFAULT_CHANNEL).filter((m) => isDigest(JSON.stringify(m.blocks))).map((m) => m.ts));
    const alertsStored = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM alerts').get()?.n ?? 0;
    return {
      groups: cfg.groups,
      alerts: cfg.groups * cfg.alertsPerGroup,
      slackLatencyMs: cfg.slackLatencyMs,
      spreadS: cfg.spreadMs / 1000,
      postsPerSecond: POSTS_PER_SECOND,
      burst: BURST,
      visibleS: visibleAt,
      cardedS: cardedAt,
      leastCardedS: Math.max(0, cfg.groups - BURST) / POSTS_PER_SECOND,
      digestMessages: digestTs.size,
      digestEdits: slack.calls.filter((c) => c.method === 'chat.update' && c.status === 200 && digestTs.has(String(c.args.ts))).length,
      threadReplies: slack.calls.filter((c) => c.method === 'chat.postMessage' && c.status === 200 && c.args.thread_ts !== undefined).length,
      rateLimited429: slack.calls.filter((c) => c.status === 429).length,
      lostAlerts: cfg.groups * cfg.alertsPerGroup - alertsStored,
    };
  } finally {
    db.close();
    await bot.stop();
    await slack.close();
  }
}
