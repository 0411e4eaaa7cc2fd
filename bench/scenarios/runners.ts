/**
 * Button to result through a runner: the same read-only step (an `exec` of `echo`, no approval),
 * pressed on many incidents, once as the bot runs it and once with `runOn:` a runner process (the
 * built runner on loopback), the two kinds of press taking turns at a steady rate. Measures the
 * press to the "Started" thread message and to the result message arriving at the fake Slack.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { blockActionsBody, signSlackRequest } from '../../test/fakes/slack-signing.js';
import { makeDir, startBot } from '../bot.js';
import { firingAlerts, notification, randomGroup, seededRandom } from '../payloads.js';
import { startRunner } from '../runner.js';
import { SIGNING_SECRET, WEBHOOK_TOKEN, botEnv, startSlack, threadLine, writeRoutes } from '../setup.js';
import { sleep, summarize, waitUntil, type LatencySummary } from '../stats.js';

export interface RunnersConfig {
  /** Presses of each kind (local and on the runner), each on an incident and channel of its own. */
  pressesPerKind: number;
  /** Both kinds together. */
  pressesPerSecond: number;
}

export interface RunnerRow {
  where: 'in the bot' | 'on a runner';
  presses: number;
  started: LatencySummary;
  result: LatencySummary;
  /** Presses whose result never arrived within the wait. */
  missing: number;
  /** Results that were not successes (none expected). */
  failed: number;
}

export interface RunnersResult {
  pressesPerSecond: number;
  rows: RunnerRow[];
}

const RUNNER = 'bench-runner';
const RUNNER_TOKEN = 'bench-runner-token-0123456789abcdef';
const RUNBOOK = `
name: bench-remote
match: { service: bench-remote }
params:
  cluster: { fromLabel: cluster, pattern: '[a-z0-9-]+' }
steps:
  - id: local
    title: Check here
    action: exec
    run: [echo, checked, '{{cluster}}']
  - id: remote
    title: Check on the runner
    action: exec
    run: [echo, checked, '{{cluster}}']
    runOn: ${RUNNER}
`;

export async function benchRunners(cfg: RunnersConfig): Promise<RunnersResult> {
  const slack = await startSlack(0);
  const dir = await makeDir('runners');
  const runnerRunbooks = path.join(dir, 'runner-runbooks');
  await fsp.mkdir(runnerRunbooks);
  for (const folder of [path.join(dir, 'runbooks'), runnerRunbooks]) await fsp.writeFile(path.join(folder, 'bench-remote.yaml'), RUNBOOK);
  await fsp.writeFile(path.join(dir, 'runners.yaml'), `runners:\n  - name: ${RUNNER}\n    token: ${RUNNER_TOKEN}\n`);
  // A press on an unowned incident would also post "acknowledged": one more message over the
  // channel's burst of three, so the result would wait for Slack's pace instead of the step.
  await fsp.writeFile(path.join(dir, 'policy.yaml'), 'defaults: { acknowledgeOnRequest: false }\n');
  const incidents = cfg.pressesPerKind * 2;
  const channels = new Map(Array.from({ length: incidents }, (_, i) => [`ch-${i}`, `C0RUN${i}`]));
  const bot = await startBot({
    dir,
    env: botEnv(slack, {
      ROUTES_FILE: await writeRoutes(dir, 'bench_channel', channels),
      RUNBOOKS_DIR: path.join(dir, 'runbooks'),
      RUNNERS_FILE: path.join(dir, 'runners.yaml'),
      POLICY_FILE: path.join(dir, 'policy.yaml'),
    }),
  });
  const runner = await startRunner({ dir, botUrl: bot.url, name: RUNNER, token: RUNNER_TOKEN, runbooksDir: runnerRunbooks }).catch(async (error: unknown) => {
    await bot.stop();
    throw error;
  });
  const db = new Database(bot.dbPath, { readonly: true, fileMustExist: true });
  const pool = new Pool(bot.url, { connections: 8 });
  try {
    const random = seededRandom(11);
    const pressed: Array<{ id: number; channel: string; step: 'local' | 'remote'; at: number }> = [];
    for (const [value, channel] of channels) {
      const group = randomGroup(random, pressed.length, { bench_channel: value });
      group.service = 'bench-remote';
      group.cluster = value;
      const res = await pool.request({
        path: '/webhooks/alertmanager',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
        body: JSON.stringify(notification(group, firingAlerts(group, 1, new Date().toISOString()))),
      });
      const { incidentId } = (await res.body.json()) as { incidentId: number };
      pressed.push({ id: incidentId, channel, step: pressed.length % 2 === 0 ? 'local' : 'remote', at: 0 });
    }
    const pending = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM outbox WHERE state = 'pending'");
    await waitUntil(() => pending.get()?.n === 0, 60_000, 100);
    // Every channel's bucket full again, as between real incidents.
    await sleep(3500);

    const started = performance.now();
    for (const [i, p] of pressed.entries()) {
      const wait = started + (i * 1000) / cfg.pressesPerSecond - performance.now();
      if (wait > 0) await sleep(wait);
      const action = `run-step:${p.id}:bench-remote:${p.step}`;
      const body = blockActionsBody({ user: { id: 'U0CAROL', name: 'carol' }, channel: p.channel, messageTs: slack.topLevel(p.channel)[0]?.ts ?? '0', actionId: action, value: action });
      p.at = Date.now();
      const res = await pool.request({ path: '/slack/events', method: 'POST', headers: { ...signSlackRequest(SIGNING_SECRET, body) }, body });
      await res.body.dump();
    }

    const reply = (channel: string, pattern: RegExp) => threadLine(slack, channel, pattern);
    const ended = (channel: string) => reply(channel, /Check (here|on the runner)\*? (succeeded|failed|timed out|interrupted)/);
    await waitUntil(() => pressed.every((p) => ended(p.channel)), 60_000, 100);
    const rows: RunnerRow[] = (['local', 'remote'] as const).map((step) => {
      const mine = pressed.filter((p) => p.step === step);
      const startedMs = mine.flatMap((p) => {
        const call = reply(p.channel, /Started/);
        return call ? [call.at - p.at] : [];
      });
      const results = mine.flatMap((p) => {
        const call = ended(p.channel);
        return call ? [{ ms: call.at - p.at, ok: /succeeded/.test(String(call.args.text)) }] : [];
      });
      return {
        where: step === 'local' ? 'in the bot' : 'on a runner',
        presses: mine.length,
        started: summarize(startedMs),
        result: summarize(results.map((r) => r.ms)),
        missing: mine.length - results.length,
        failed: results.filter((r) => !r.ok).length,
      };
    });
    return { pressesPerSecond: cfg.pressesPerSecond, rows };
  } finally {
    await pool.close();
    db.close();
    await runner.stop();
    await bot.stop();
    await slack.close();
  }
}
