import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/core/policy.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';
import { blockActionsBody, signSlackRequest } from '../fakes/slack-signing.js';
import { ALERT_CHANNEL, SIGNING_SECRET, slackEnv, startTestBot, type TestBot } from '../support/bot-harness.js';
import { botFolder, pollUntil, postWebhook, startBotProcess } from '../support/bot-process.js';
import { loadFixture } from '../support/fixtures.js';

/**
 * Graceful stop and crash recovery. Webhook ingestion and crash recovery use the real process
 * (signals, exit codes, a SIGKILL); the step grace period uses the in-process bot, because a step
 * can only be requested through chat and there is no HTTP route for it without a platform.
 */

/** Appends "x" to `<prefix>.started`, sleeps `ms`, then writes `<prefix>.done`. */
const SLEEPER = 'const fs=require("fs");const p=process.argv[1];fs.appendFileSync(p+".started","x");setTimeout(()=>fs.writeFileSync(p+".done","ok"),Number(process.argv[2]))';

const RUNBOOK = `
name: slow
match: { service: gitcortex }
steps:
  - id: short
    title: Short sleep
    action: exec
    run: [node, -e, '${SLEEPER}', '{{DIR}}/short', '1000']
  - id: long
    title: Long sleep
    action: exec
    run: [node, -e, '${SLEEPER}', '{{DIR}}/long', '20000']
  - id: crash
    title: Crash sleep
    action: exec
    run: [node, -e, '${SLEEPER}', '{{DIR}}/crash', '2500']
`;

const TOKEN = 'shutdown-test-webhook-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const ALICE: Actor = { platform: 'slack', id: 'U0ALICE', name: 'alice', groups: [] };

interface FixtureAlert {
  labels: Record<string, string>;
  fingerprint: string;
  [key: string]: unknown;
}
interface FixtureNotification {
  groupKey: string;
  alerts: FixtureAlert[];
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  [key: string]: unknown;
}

/** The recorded single-alert notification, moved to its own group (service `svc-<i>`). */
function notificationFor(i: number): FixtureNotification {
  const n = loadFixture<FixtureNotification>('firing-single.json');
  const service = `svc-${i}`;
  n.groupKey = `{}:{alertname="GitCortexDown", service="${service}"}`;
  n.groupLabels = { ...n.groupLabels, service };
  n.commonLabels = { ...n.commonLabels, service };
  n.alerts = n.alerts.map((a) => ({ ...a, labels: { ...a.labels, service }, fingerprint: `${i.toString(16).padStart(4, '0')}c30604636a2b` }));
  return n;
}

function readDb<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

interface StepRunRow {
  id: number;
  step: string;
  state: string;
  result: string | null;
}
const stepRuns = (file: string) => readDb(file, (db) => db.prepare('SELECT id, step, state, result FROM step_runs ORDER BY id').all() as StepRunRow[]);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('graceful shutdown of the bot process', { timeout: 30_000 }, () => {
  it('stores every acknowledged webhook when SIGTERM arrives while 50 are in flight, then exits 0', async () => {
    const bot = await startBotProcess({ runbooks: { 'slow.yaml': RUNBOOK }, env: { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN } });
    cleanups.push(() => bot.dispose({ removeDir: true }));

    let signalled = false;
    const sigterm = () => {
      if (signalled) return;
      signalled = true;
      bot.kill('SIGTERM');
    };
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const body = notificationFor(i);
        try {
          const res = await postWebhook(bot.url, body, AUTH);
          sigterm();
          return { i, groupKey: body.groupKey, status: res.status, json: res.json };
        } catch (error) {
          sigterm();
          return { i, groupKey: body.groupKey, status: 0, json: { error: String(error) } };
        }
      }),
    );
    const exit = await bot.waitForExit();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(bot.logRecords().some((r) => r.msg === 'shutting down' && r.signal === 'SIGTERM')).toBe(true);
    expect(bot.logRecords().some((r) => r.msg === 'stopped')).toBe(true);

    const acknowledged = results.filter((r) => r.status >= 200 && r.status < 300);
    expect(acknowledged.length).toBeGreaterThan(0);
    // Anything else must be a refusal Alertmanager retries (5xx, or no answer at all), never a 4xx.
    for (const r of results.filter((x) => !(x.status >= 200 && x.status < 300))) expect(r.status === 0 || r.status >= 500, JSON.stringify(r)).toBe(true);

    const stored = readDb(bot.dbPath, (db) => ({
      incidents: db.prepare('SELECT id, group_key AS groupKey FROM incidents').all() as Array<{ id: number; groupKey: string }>,
      notifications: (db.prepare('SELECT count(*) AS n FROM notifications').get() as { n: number }).n,
      received: (db.prepare("SELECT count(*) AS n FROM audit_events WHERE kind = 'alert.received'").get() as { n: number }).n,
      inbox: (db.prepare('SELECT count(*) AS n FROM inbox').get() as { n: number }).n,
    }));
    const byGroup = new Map(stored.incidents.map((row) => [row.groupKey, row.id]));
    for (const r of acknowledged) {
      // Recorded before the answer (200), or acknowledged into the inbox (202) and recorded before the bot stopped.
      if (r.status === 200) {
        expect(r.json.status).toBe('stored');
        expect(byGroup.get(r.groupKey), `incident of acknowledged notification ${r.i}`).toBe(r.json.incidentId);
      } else {
        expect([r.status, r.json.status]).toEqual([202, 'queued']);
        expect(byGroup.has(r.groupKey), `incident of queued notification ${r.i}`).toBe(true);
      }
    }
    expect(stored.inbox, 'notifications left in the inbox after a graceful stop').toBe(0);
    expect(stored.incidents.length).toBeGreaterThanOrEqual(acknowledged.length);
    expect(stored.notifications).toBe(stored.incidents.length);
    expect(stored.received).toBe(stored.incidents.length);
  });
});

describe('graceful shutdown with a running step (in-process bot)', { timeout: 30_000 }, () => {
  let slack: FakeSlack;
  let t: TestBot;

  async function startWithIncident(env: Record<string, string> = {}) {
    slack = await startFakeSlack({ rateLimit: false });
    t = await startTestBot({ slack, runbooks: { 'slow.yaml': RUNBOOK }, env });
    cleanups.push(async () => {
      await t.stop();
      await slack.close();
    });
    const res = await t.postWebhook(loadFixture<object>('firing-single.json'));
    expect(res.json).toMatchObject({ status: 'stored', incidentId: 1 });
  }

  it('waits for a running step to finish before stopping', async () => {
    await startWithIncident();
    const run = (await t.bot.engine.requestStep(ALICE, 1, 'slow', 'short'))!;
    expect(run.state).toBe('approved');
    await pollUntil(() => fs.existsSync(path.join(t.dir, 'short.started')), 10_000, 'the step to start');

    const started = performance.now();
    await t.bot.stop();
    const took = performance.now() - started;

    expect(fs.readFileSync(path.join(t.dir, 'short.done'), 'utf8')).toBe('ok');
    expect(took).toBeLessThan(5_000);
    const [row] = stepRuns(path.join(t.dir, 'bot.db'));
    expect(row).toMatchObject({ id: run.id, step: 'short', state: 'succeeded' });
    expect(JSON.parse(row?.result ?? '{}')).toMatchObject({ status: 'succeeded', exitCode: 0 });
  });

  it('cancels a step that outlasts SHUTDOWN_TIMEOUT_MS, and records it as failed', async () => {
    await startWithIncident({ SHUTDOWN_TIMEOUT_MS: '300' });
    expect(t.config.shutdownTimeoutMs).toBe(300);
    const run = (await t.bot.engine.requestStep(ALICE, 1, 'slow', 'long'))!;
    await pollUntil(() => fs.existsSync(path.join(t.dir, 'long.started')), 10_000, 'the step to start');

    const started = performance.now();
    await t.bot.stop();
    const took = performance.now() - started;

    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(5_000);
    const [row] = stepRuns(path.join(t.dir, 'bot.db'));
    expect(row).toMatchObject({ id: run.id, step: 'long', state: 'failed' });
    expect(JSON.parse(row?.result ?? '{}')).toMatchObject({ status: 'failed', summary: expect.stringMatching(/cancelled/) as unknown });
    const kinds = readDb(path.join(t.dir, 'bot.db'), (db) => (db.prepare('SELECT kind FROM audit_events ORDER BY seq').all() as Array<{ kind: string }>).map((r) => r.kind));
    expect(kinds).toEqual(['alert.received', 'incident.ack', 'step.requested', 'step.started', 'step.finished']);
    // The cancelled program is gone: it never gets to write its file.
    await new Promise((r) => setTimeout(r, 200));
    expect(fs.existsSync(path.join(t.dir, 'long.done'))).toBe(false);
  });
});

describe('crash recovery of the bot process', { timeout: 30_000 }, () => {
  it('marks a step running at a SIGKILL as interrupted on restart, does not re-run it, and says so in the thread', async () => {
    const slack = await startFakeSlack({ rateLimit: false });
    cleanups.push(() => slack.close());
    const folder = await botFolder({ 'slow.yaml': RUNBOOK });
    cleanups.push(folder.dispose);
    const { dir } = folder;
    const env = { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN, ...slackEnv(slack) };

    const first = await folder.start(env);
    expect((await postWebhook(first.url, loadFixture<object>('firing-single.json'), AUTH)).status).toBe(200);
    const card = await slack.waitFor(() => slack.topLevel(ALERT_CHANNEL)[0], 10_000, 'the incident card');

    // Alice presses the read-only step's button, signed as Slack signs it.
    const body = blockActionsBody({
      user: { id: 'U0ALICE', name: 'alice' },
      channel: ALERT_CHANNEL,
      messageTs: card.ts,
      actionId: 'run-step:1:slow:crash',
      value: 'run-step:1:slow:crash',
    });
    const press = await fetch(`${first.url}/slack/events`, { method: 'POST', headers: { ...signSlackRequest(SIGNING_SECRET, body) }, body });
    expect(press.status).toBe(200);
    await press.arrayBuffer();

    const startedFile = path.join(dir, 'crash.started');
    await pollUntil(() => fs.existsSync(startedFile), 10_000, 'the step to start');
    const killedAt = Date.now();
    // The whole process group, as a container runtime or the OOM killer would: the bot and its step.
    first.kill('SIGKILL', { group: true });
    expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(stepRuns(first.dbPath).map((r) => r.state)).toEqual(['running']);

    const second = await folder.start(env);
    await second.waitForLog(/steps interrupted by the previous shutdown were marked, not re-run/);

    const [row] = stepRuns(second.dbPath);
    expect(row).toMatchObject({ step: 'crash', state: 'interrupted' });
    const audit = await fetch(`${second.url}/incidents/1/audit`);
    const { events } = (await audit.json()) as { events: Array<{ kind: string; text: string }> };
    expect(events.filter((e) => e.kind === 'step.interrupted')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'step.started')).toHaveLength(1);

    const reply = await slack.waitFor(
      () => slack.threadReplies(ALERT_CHANNEL, card.ts).find((m) => /Crash sleep\* was interrupted by a bot restart/.test(m.text)),
      10_000,
      'the interrupted message in the thread',
    );
    expect(reply.text).toMatch(/not re-run/);

    // Past the moment the step would have finished: it was not run again (nor did the killed one finish).
    const wait = killedAt + 3_000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    expect(fs.readFileSync(startedFile, 'utf8')).toBe('x');
    expect(fs.existsSync(path.join(dir, 'crash.done'))).toBe(false);
    expect(stepRuns(second.dbPath).map((r) => r.state)).toEqual(['interrupted']);
    expect(slack.threadReplies(ALERT_CHANNEL, card.ts).filter((m) => /Started \*Crash sleep/.test(m.text)).length).toBeLessThanOrEqual(1);

    second.kill('SIGTERM');
    expect(await second.waitForExit()).toEqual({ code: 0, signal: null });
  });
});
