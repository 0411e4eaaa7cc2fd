/**
 * Button to result: signed Slack presses of a read-only step (no approval) on many incidents, each
 * in its own channel so the per-channel pace does not hide the bot's own latency. Measures the
 * HTTP ack, and the press to the "Started" thread message arriving at the fake Slack.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { blockActionsBody, signSlackRequest } from '../../test/fakes/slack-signing.js';
import { makeDir, startBot } from '../bot.js';
import { firingAlerts, notification, randomGroup, seededRandom } from '../payloads.js';
import { SIGNING_SECRET, WEBHOOK_TOKEN, botEnv, startSlack, threadLine, writeRoutes } from '../setup.js';
import { sleep, summarize, waitUntil, type LatencySummary } from '../stats.js';

export interface ButtonsConfig {
  incidents: number;
  pressesPerSecond: number;
  /** Round trip of every Slack API call (0: loopback). */
  slackLatencyMs: number;
}

export interface ButtonsResult {
  slackLatencyMs: number;
  presses: number;
  pressesPerSecond: number;
  ack: LatencySummary;
  ackFailures: number;
  started: LatencySummary;
  /** Presses whose "Started" message never arrived within the wait. */
  startedMissing: number;
  /** Private answers (refusals, errors) the bot sent: none expected. */
  privateAnswers: number;
}

const RUNBOOK = `
name: bench-shop
match: { service: bench-shop }
params:
  cluster: { fromLabel: cluster, pattern: '[a-z0-9-]+' }
steps:
  - id: check
    title: Check shop
    action: exec
    run: [echo, checked, '{{cluster}}']
`;

export async function benchButtons(cfg: ButtonsConfig): Promise<ButtonsResult> {
  const slack = await startSlack(cfg.slackLatencyMs);
  const dir = await makeDir('buttons');
  await fsp.writeFile(path.join(dir, 'runbooks', 'bench-shop.yaml'), RUNBOOK);
  const channels = new Map(Array.from({ length: cfg.incidents }, (_, i) => [`ch-${i}`, `C0PRESS${i}`]));
  const bot = await startBot({ dir, env: botEnv(slack, { ROUTES_FILE: await writeRoutes(dir, 'bench_channel', channels), RUNBOOKS_DIR: path.join(dir, 'runbooks') }) });
  const db = new Database(bot.dbPath, { readonly: true, fileMustExist: true });
  const pool = new Pool(bot.url, { connections: 16 });
  try {
    const random = seededRandom(7);
    const incidents: Array<{ id: number; channel: string }> = [];
    for (const [value, channel] of channels) {
      const group = randomGroup(random, incidents.length, { bench_channel: value });
      group.service = 'bench-shop';
      group.cluster = value;
      const res = await pool.request({
        path: '/webhooks/alertmanager',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
        body: JSON.stringify(notification(group, firingAlerts(group, 1, new Date().toISOString()))),
      });
      const { incidentId } = (await res.body.json()) as { incidentId: number };
      incidents.push({ id: incidentId, channel });
    }
    const pending = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM outbox WHERE state = 'pending'");
    await waitUntil(() => pending.get()?.n === 0, 60_000, 100);
    // Let every channel's bucket fill again, as it would between real incidents.
    await sleep(3500);

    const acks: number[] = [];
    let ackFailures = 0;
    const pressedAt = new Map<string, number>();
    const presses: Array<Promise<void>> = [];
    const started = performance.now();
    for (const [i, incident] of incidents.entries()) {
      const wait = started + (i * 1000) / cfg.pressesPerSecond - performance.now();
      if (wait > 0) await sleep(wait);
      const cardTs = slack.topLevel(incident.channel)[0]?.ts ?? '0';
      const body = blockActionsBody({ user: { id: 'U0CAROL', name: 'carol' }, channel: incident.channel, messageTs: cardTs, actionId: `run-step:${incident.id}:bench-shop:check`, value: `run-step:${incident.id}:bench-shop:check` });
      pressedAt.set(incident.channel, Date.now());
      const t0 = performance.now();
      presses.push(
        pool
          .request({ path: '/slack/events', method: 'POST', headers: { ...signSlackRequest(SIGNING_SECRET, body) }, body })
          .then(async (res) => {
            await res.body.dump();
            if (res.statusCode === 200) acks.push(performance.now() - t0);
            else ackFailures += 1;
          })
          .catch(() => void (ackFailures += 1)),
      );
    }
    await Promise.all(presses);

    const startedCall = (channel: string) => threadLine(slack, channel, /Started/);
    await waitUntil(() => incidents.every((i) => startedCall(i.channel)), 90_000, 100);
    const startedMs: number[] = [];
    for (const incident of incidents) {
      const call = startedCall(incident.channel);
      const at = pressedAt.get(incident.channel);
      if (call && at !== undefined) startedMs.push(call.at - at);
    }
    return {
      slackLatencyMs: cfg.slackLatencyMs,
      presses: incidents.length,
      pressesPerSecond: cfg.pressesPerSecond,
      ack: summarize(acks),
      ackFailures,
      started: summarize(startedMs),
      startedMissing: incidents.length - startedMs.length,
      privateAnswers: slack.ephemerals.length,
    };
  } finally {
    await pool.close();
    db.close();
    await bot.stop();
    await slack.close();
  }
}
