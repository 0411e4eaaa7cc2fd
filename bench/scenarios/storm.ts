/**
 * Alert storm: `groups` groups of `alertsPerGroup` alerts sent through the webhook as Alertmanager
 * would (a first notification with half the group, the whole group a little later, and that one
 * again from the HA peer), routed by team to `channels` Slack channels on a fake Slack that
 * enforces Slack's per-channel rate for posts and its workspace rate for updates. Counts cards,
 * updates, replies and 429s, times the last card, and checks every alert is in the store.
 */
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { makeDir, startBot } from '../bot.js';
import { firingAlerts, notification, randomGroup, seededRandom } from '../payloads.js';
import { botEnv, startSlack, webhookTarget, writeRoutes } from '../setup.js';
import { busiestWindow, sleep, waitUntil } from '../stats.js';

export interface StormConfig {
  groups: number;
  alertsPerGroup: number;
  channels: number;
  /** First notifications of the groups are spread over this window. */
  spreadMs: number;
  /** The whole group follows its first notification after this long (Alertmanager's group_interval, shortened). */
  followUpMs: number;
  drainTimeoutMs: number;
  /** Round trip of every Slack API call. */
  slackLatencyMs: number;
}

export interface StormResult {
  slackLatencyMs: number;
  groups: number;
  alerts: number;
  channels: number;
  notificationsSent: number;
  webhookFailures: number;
  /** Notifications answered 202 (stored in the inbox and recorded after the answer). */
  webhookAccepted: number;
  /** Last webhook answer, seconds after the first send. */
  sentWithinS: number;
  cardsPosted: number;
  threadReplies: number;
  cardUpdates: number;
  /** The most chat.update calls in any 60 s (Slack counts that method per workspace, tier 3: about 50 a minute). */
  busiestMinuteOfUpdates: number;
  /** Cards whose update was put off for the update pace and had not gone yet when the outbox was empty. */
  updatesStillPutOff: number;
  rateLimited429: number;
  /** First send to the last card posted, seconds. */
  lastCardS: number;
  /** First send to an empty outbox, seconds (NaN if it did not drain in time). */
  drainedS: number;
  incidentsStored: number;
  alertsStored: number;
  lostAlerts: number;
}

interface Scheduled {
  at: number;
  body: string;
}

function plan(cfg: StormConfig): { sends: Scheduled[]; teams: Map<string, string> } {
  const random = seededRandom(42);
  const teams = new Map(Array.from({ length: cfg.channels }, (_, i) => [`team-${String(i + 1).padStart(2, '0')}`, `C0TEAM${String(i + 1).padStart(2, '0')}`]));
  const teamNames = [...teams.keys()];
  const sends: Scheduled[] = [];
  const startsAt = new Date().toISOString();
  for (let g = 0; g < cfg.groups; g += 1) {
    const group = randomGroup(random, g, { team: teamNames[g % teamNames.length] ?? 'team-01' });
    group.cluster = `storm-${g}`;
    const alerts = firingAlerts(group, cfg.alertsPerGroup, startsAt);
    const first = (g * cfg.spreadMs) / cfg.groups;
    const whole = JSON.stringify(notification(group, alerts));
    sends.push({ at: first, body: JSON.stringify(notification(group, alerts.slice(0, Math.ceil(alerts.length / 2)))) });
    sends.push({ at: first + cfg.followUpMs, body: whole });
    sends.push({ at: first + cfg.followUpMs + 200, body: whole });
  }
  return { sends: sends.sort((a, b) => a.at - b.at), teams };
}

export async function benchStorm(cfg: StormConfig): Promise<StormResult> {
  const slack = await startSlack(cfg.slackLatencyMs);
  const dir = await makeDir('storm');
  const { sends, teams } = plan(cfg);
  const routes = await writeRoutes(dir, 'team', teams);
  const bot = await startBot({ dir, env: botEnv(slack, { ROUTES_FILE: routes }) });
  const db = new Database(bot.dbPath, { readonly: true, fileMustExist: true });
  try {
    const target = webhookTarget(bot.url, () => '');
    const pool = new Pool(target.url, { connections: 16 });
    let failures = 0;
    let accepted = 0;
    let lastAnswer = 0;
    const started = performance.now();
    const startedWall = Date.now();
    const inFlight: Array<Promise<void>> = [];
    for (const s of sends) {
      const wait = started + s.at - performance.now();
      if (wait > 0) await sleep(wait);
      inFlight.push(
        pool
          .request({ path: target.path, method: 'POST', headers: target.headers, body: s.body })
          .then(async (res) => {
            await res.body.dump();
            // 202: stored in the bot's inbox, recorded right after (counted below, from the store).
            if (res.statusCode !== 200 && res.statusCode !== 202) failures += 1;
            if (res.statusCode === 202) accepted += 1;
          })
          .catch(() => void (failures += 1))
          .finally(() => void (lastAnswer = performance.now())),
      );
    }
    await Promise.all(inFlight);
    await pool.close();

    const pending = db.prepare<[], { n: number }>("SELECT (SELECT count(*) FROM outbox WHERE state = 'pending') + (SELECT count(*) FROM inbox) AS n");
    const cards = () => slack.calls.filter((c) => c.method === 'chat.postMessage' && c.status === 200 && c.args.thread_ts === undefined);
    const drained = await waitUntil(() => cards().length >= cfg.groups && pending.get()?.n === 0, cfg.drainTimeoutMs, 250);
    const drainedS = drained ? (performance.now() - started) / 1000 : Number.NaN;
    await sleep(500);

    const posted = cards();
    const count = (sql: string) => db.prepare<[], { n: number }>(sql).get()?.n ?? 0;
    const alertsStored = count('SELECT count(*) AS n FROM alerts');
    const alerts = cfg.groups * cfg.alertsPerGroup;
    return {
      slackLatencyMs: cfg.slackLatencyMs,
      groups: cfg.groups,
      alerts,
      channels: cfg.channels,
      notificationsSent: sends.length,
      webhookFailures: failures,
      webhookAccepted: accepted,
      sentWithinS: (lastAnswer - started) / 1000,
      cardsPosted: posted.length,
      threadReplies: slack.calls.filter((c) => c.method === 'chat.postMessage' && c.status === 200 && c.args.thread_ts !== undefined).length,
      cardUpdates: slack.calls.filter((c) => c.method === 'chat.update' && c.status === 200).length,
      busiestMinuteOfUpdates: busiestWindow(slack.calls.filter((c) => c.method === 'chat.update').map((c) => c.at), 60_000),
      rateLimited429: slack.calls.filter((c) => c.status === 429).length,
      lastCardS: posted.length > 0 ? (Math.max(...posted.map((c) => c.at)) - startedWall) / 1000 : Number.NaN,
      drainedS,
      updatesStillPutOff: count('SELECT count(*) AS n FROM card_messages WHERE refresh_wanted_at IS NOT NULL'),
      incidentsStored: count('SELECT count(*) AS n FROM incidents'),
      alertsStored,
      lostAlerts: alerts - alertsStored,
    };
  } finally {
    db.close();
    await bot.stop();
    await slack.close();
  }
}

