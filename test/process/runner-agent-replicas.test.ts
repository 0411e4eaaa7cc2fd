import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { slackDriver } from '../support/chat-drivers.js';
import { makeBotDir, pollUntil, postWebhook, startBotProcess, type BotProcess } from '../support/bot-process.js';
import { loadFixture } from '../support/fixtures.js';
import { createTestDatabase } from '../support/postgres.js';
import { alive, readPid } from '../support/processes.js';
import { auditLines, jobFiles, RUNNER_TEST_TOKEN, spawnRunner, type RunnerProcess } from '../support/runner-process.js';
import { probePostgres, requireService } from '../support/services.js';

/*
 * A runner behind two bot replicas on PostgreSQL, as behind a load balancer: the runner polls
 * replica B while replica A waits for the step. When A shuts down, the step goes on on the runner
 * (a redeploy of the bot must not kill a step on a database host); A gives it up, B takes it over
 * and records the runner's result.
 */

const server = await requireService('PostgreSQL at 127.0.0.1:5432', probePostgres);

const TOKEN = 'runner-replicas-webhook-token';
const RUNBOOK = `
name: remote
match: { service: gitcortex }
runOn: host-1
steps:
  - id: stuck
    title: Hang
    action: exec
    run: [sh, -c, 'echo $$ > {{DIR}}/shell.pid; sleep 4 & echo $! > {{DIR}}/sleep.pid; wait; echo finished on the runner']
    timeoutSeconds: 120
`;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

server.describe('a runner behind replicas (PostgreSQL)', () => {
  it('leaves the step running when the replica waiting for it shuts down; another replica records its result', { timeout: 90_000 }, async () => {
    const db = await createTestDatabase(server.value, 'runner_replicas');
    const chat = await slackDriver();
    const dir = await makeBotDir({ 'remote.yaml': RUNBOOK });
    const runbooksDir = path.join(dir, 'runner-runbooks');
    const stateDir = path.join(dir, 'runner-state');
    fs.mkdirSync(runbooksDir);
    fs.writeFileSync(path.join(runbooksDir, 'remote.yaml'), RUNBOOK.replaceAll('{{DIR}}', dir));
    fs.writeFileSync(path.join(dir, 'runners.yaml'), `runners:\n  - name: host-1\n    token: ${RUNNER_TEST_TOKEN}\n`);
    const bots: BotProcess[] = [];
    const runners: RunnerProcess[] = [];
    cleanups.push(async () => {
      for (const r of runners) await r.dispose();
      for (const b of bots) await b.dispose();
      for (const file of ['shell.pid', 'sleep.pid']) {
        const pidFile = path.join(dir, file);
        if (fs.existsSync(pidFile) && alive(readPid(pidFile))) process.kill(readPid(pidFile), 'SIGKILL');
      }
      await chat.close();
      fs.rmSync(dir, { recursive: true, force: true });
      await db.drop();
    });
    const env = {
      ...chat.botEnv(),
      ALERTMANAGER_WEBHOOK_TOKEN: TOKEN,
      DATABASE_URL: db.url,
      RUNNERS_FILE: path.join(dir, 'runners.yaml'),
      SHUTDOWN_TIMEOUT_MS: '1000',
      // The same audit key on every replica, and nothing written into the working directory.
      AUDIT_KEY: 'runner-replicas-audit-key-0123456789abcdef',
      AUDIT_SEAL_FILE: path.join(dir, 'audit-seals'),
    };
    const a = await startBotProcess({ dir, env });
    bots.push(a);
    const b = await startBotProcess({ dir, env });
    bots.push(b);
    chat.attach(a.url);

    const runner = spawnRunner({ botUrl: b.url, runbooksDir, stateDir });
    runners.push(runner);
    await runner.waitForLog(/connected to the bot/);
    expect((await postWebhook(a.url, loadFixture<object>('firing-single.json'), { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    const card = await chat.waitFor(() => chat.cards()[0], 15_000, 'the incident card');
    await chat.press('alice', 'run-step:1:remote:stuck', card, card);
    const sleepPidFile = path.join(dir, 'sleep.pid');
    await pollUntil(() => fs.existsSync(sleepPidFile) && fs.readFileSync(sleepPidFile, 'utf8').endsWith('\n'), 20_000, 'the step to start on the runner');
    const shellPid = readPid(path.join(dir, 'shell.pid'));
    const sleepPid = readPid(sleepPidFile);

    a.kill('SIGTERM');
    expect(await a.waitForExit()).toEqual({ code: 0, signal: null });
    // The step was not cancelled: its processes end on their own, and the runner reports them done.
    expect(alive(shellPid)).toBe(true);
    await pollUntil(() => !alive(shellPid) && !alive(sleepPid), 15_000, 'the step to finish on the runner');
    await pollUntil(() => jobFiles(stateDir).length === 0, 15_000, 'the result to be taken');
    expect(auditLines(stateDir).map((l) => l.event)).not.toContain('cancelled');
    // B took the step over and recorded the runner's result; B, leading now, posts it.
    await pollUntil(async () => (await db.query<{ state: string }>('SELECT state FROM step_runs'))[0]?.state === 'succeeded', 30_000, 'the result recorded by B');
    const [run] = await db.query<{ state: string; result: string; runner: string }>('SELECT state, result, runner FROM step_runs');
    expect(run?.result).toMatch(/on runner host-1/);
    expect(run?.result).toContain('finished on the runner');
    await chat.waitFor(() => chat.replies(card).find((m) => /^✅ \d\d:\d\d:\d\d Hang succeeded/m.test(m.text)), 30_000, 'the result in the thread');

    runner.kill('SIGTERM');
    expect(await runner.waitForExit()).toEqual({ code: 0, signal: null });
  });
});
