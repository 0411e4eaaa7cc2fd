import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRunbooks, stepHash } from '../../src/runbooks/index.js';
import { jobSchema, type Job } from '../../src/runners/protocol.js';
import { pollUntil } from '../support/bot-process.js';
import { alive, readPid } from '../support/processes.js';
import { startBotDouble, type BotDouble } from '../support/runner-bot-double.js';
import { auditLines, jobFiles, RUNNER_TEST_TOKEN, spawnRunner, type RunnerProcess } from '../support/runner-process.js';

/*
 * The runner agent as a process, against a stand-in for the bot's runner routes that holds it to
 * the protocol and can go down on cue: a refused job is reported; a run job reports started and
 * its result, and its job file goes once the result is taken; kill -9 of the runner mid-step, then
 * a restart, kills the step's leftover process group and reports the job interrupted, never
 * running it again; a result survives the bot being unreachable, and a runner restart meanwhile.
 */

const RUNBOOK = `
name: svc
match: { service: svc }
runOn: host-1
params:
  who: { fromLabel: who, pattern: '[a-z]+' }
steps:
  - id: hello
    title: Say hello
    action: exec
    run: [sh, -c, 'echo "hello $0" > {{DIR}}/hello.txt; echo "said hello to $0"', '{{who}}']
  - id: stuck
    title: Hang
    action: exec
    run: [sh, -c, 'echo $$ > {{DIR}}/shell.pid; sleep 30 & echo $! > {{DIR}}/sleep.pid; wait']
    timeoutSeconds: 120
  - id: slow
    title: Take a while
    action: exec
    run: [sh, -c, 'sleep 2; echo $$ > {{DIR}}/slow.pid; echo slow done']
`;

interface Setup {
  dir: string;
  stateDir: string;
  runbooksDir: string;
  bot: BotDouble;
  job: (id: number, step: string, over?: Partial<Job>) => Job;
  runner: (env?: Record<string, string>) => RunnerProcess;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<Setup> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-agent-'));
  const runbooksDir = path.join(dir, 'runbooks');
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(runbooksDir);
  fs.writeFileSync(path.join(runbooksDir, 'svc.yaml'), RUNBOOK.replaceAll('{{DIR}}', dir));
  const [runbook] = await loadRunbooks(runbooksDir);
  if (!runbook) throw new Error('no runbook');
  const bot = await startBotDouble({ name: 'host-1', token: RUNNER_TEST_TOKEN, heartbeatMs: 2000 });
  const runners: RunnerProcess[] = [];
  cleanups.push(async () => {
    for (const r of runners) await r.dispose();
    await bot.close();
    for (const file of ['shell.pid', 'sleep.pid']) {
      const pidFile = path.join(dir, file);
      if (fs.existsSync(pidFile) && alive(readPid(pidFile))) process.kill(readPid(pidFile), 'SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const job = (id: number, step: string, over: Partial<Job> = {}): Job => {
    const local = runbook.steps.find((s) => s.id === step);
    return jobSchema.parse({
      id,
      kind: 'run',
      runbook: 'svc',
      step,
      stepHash: local ? stepHash('svc', local) : '0'.repeat(64),
      params: { who: 'world' },
      evidence: { incidentId: 1, runId: id, requestedBy: 'alice', approvers: ['bob'], purpose: 'step' },
      ...over,
    });
  };
  const runner = (env: Record<string, string> = {}) => {
    const r = spawnRunner({ botUrl: bot.url, runbooksDir, stateDir, env });
    runners.push(r);
    return r;
  };
  return { dir, stateDir, runbooksDir, bot, job, runner };
}

const eventsOf = (bot: BotDouble, jobId: number) => bot.events.filter((e) => e.jobId === jobId);
const waitEvent = (bot: BotDouble, jobId: number, type: string, timeoutMs = 15_000) =>
  pollUntil(() => bot.events.find((e) => e.jobId === jobId && e.type === type), timeoutMs, `event ${type} of job ${jobId}`);

describe('the runner agent process', { timeout: 60_000 }, () => {
  it('refuses a job its manifests do not hold and runs one they do: started, result, job file gone, audit lines', async () => {
    const s = await setup();
    const runner = s.runner();
    await runner.waitForLog(/connected to the bot/);

    s.bot.queue(s.job(1, 'hello', { stepHash: 'a'.repeat(64) }));
    const refused = await waitEvent(s.bot, 1, 'refused');
    expect(refused).toMatchObject({ type: 'refused', accepted: true });
    expect((refused as { reason: string }).reason).toMatch(/^step svc\/hello differs from this host's manifests \(hash [0-9a-f]{12}… here, aaaaaaaaaaaa… asked\)$/);
    expect(fs.existsSync(path.join(s.dir, 'hello.txt')), 'a refused step never runs').toBe(false);

    s.bot.queue(s.job(2, 'hello'));
    const result = await waitEvent(s.bot, 2, 'result');
    expect(eventsOf(s.bot, 2).map((e) => e.type)).toEqual(['started', 'result']);
    expect(result).toMatchObject({ result: { status: 'succeeded', exitCode: 0 } });
    expect((result as { result: { outputTail: string } }).result.outputTail).toContain('said hello to world');
    expect(fs.readFileSync(path.join(s.dir, 'hello.txt'), 'utf8')).toBe('hello world\n');
    await pollUntil(() => jobFiles(s.stateDir).length === 0, 5000, 'the job files to be removed once the bot took the outcomes');

    await pollUntil(() => auditLines(s.stateDir).filter((a) => a.event === 'delivered').length === 2, 5000, 'the audit lines of both deliveries');
    const audit = auditLines(s.stateDir);
    expect(audit.filter((a) => a.jobId === 2).map((a) => a.event)).toEqual(['received', 'started', 'process', 'finished', 'delivered']);
    expect(audit.find((a) => a.jobId === 2 && a.event === 'received')).toMatchObject({ evidence: { incidentId: 1, runId: 2, requestedBy: 'alice', approvers: ['bob'], purpose: 'step' } });
    expect(audit.filter((a) => a.jobId === 1).map((a) => a.event)).toEqual(['received', 'refused', 'delivered']);
    // Each poll lists what the runner holds; the polls go on while jobs run (they are its heartbeat).
    expect(s.bot.polls.some((p) => p.running.includes(2))).toBe(true);
    expect(s.bot.polls[0]).toMatchObject({ labels: { host: 'host-1' }, version: '0.1.0' });

    runner.kill('SIGTERM');
    expect(await runner.waitForExit()).toEqual({ code: 0, signal: null });
    expect(s.bot.violations).toEqual([]);
  });

  it('after kill -9 mid-step, the restarted runner kills the leftover process group and reports the job interrupted, never re-running it', async () => {
    const s = await setup();
    const first = s.runner();
    await first.waitForLog(/connected to the bot/);
    s.bot.queue(s.job(5, 'stuck'));
    const sleepPidFile = path.join(s.dir, 'sleep.pid');
    await pollUntil(() => fs.existsSync(sleepPidFile) && fs.readFileSync(sleepPidFile, 'utf8').endsWith('\n'), 15_000, 'the step to start its child');
    const shellPid = readPid(path.join(s.dir, 'shell.pid'));
    const sleepPid = readPid(sleepPidFile);
    await waitEvent(s.bot, 5, 'started');

    first.kill('SIGKILL');
    expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(alive(shellPid), 'the step shell outlives the runner').toBe(true);
    expect(alive(sleepPid), 'its child too').toBe(true);
    expect(jobFiles(s.stateDir)).toEqual([5]);

    fs.rmSync(sleepPidFile);
    // The bot hands the same job out again: the runner must not run it a second time.
    s.bot.queue(s.job(5, 'stuck'));
    const second = s.runner();
    const interrupted = await waitEvent(s.bot, 5, 'interrupted');
    expect((interrupted as { reason: string }).reason).toContain(`process group ${shellPid} was still running and was killed`);
    await pollUntil(() => !alive(shellPid) && !alive(sleepPid), 5000, 'the leftover processes to be gone');
    await pollUntil(() => jobFiles(s.stateDir).length === 0, 5000, 'the job file to go once the bot took the interruption');
    await second.waitForLog(/the bot handed out a job this runner already has; it is not run again/);
    expect(fs.existsSync(sleepPidFile), 'the step never ran again').toBe(false);
    expect(eventsOf(s.bot, 5).map((e) => e.type)).toEqual(['started', 'interrupted']);
    await pollUntil(() => auditLines(s.stateDir).some((a) => a.jobId === 5 && a.event === 'delivered'), 5000, 'the audit line of the delivery');
    expect(auditLines(s.stateDir).filter((a) => a.jobId === 5).map((a) => a.event)).toEqual(['received', 'started', 'process', 'interrupted', 'delivered']);

    second.kill('SIGTERM');
    expect(await second.waitForExit()).toEqual({ code: 0, signal: null });
    expect(s.bot.violations).toEqual([]);
  });

  it('keeps a result the bot cannot take while it is down, across a runner restart, and delivers it once the bot is back', async () => {
    const s = await setup();
    const first = s.runner();
    await first.waitForLog(/connected to the bot/);
    s.bot.queue(s.job(8, 'slow'));
    await waitEvent(s.bot, 8, 'started');
    await s.bot.down();
    await first.waitForLog(/cannot reach the bot/);
    // The step ends while the bot is away: its result waits on disk.
    await pollUntil(() => fs.existsSync(path.join(s.dir, 'slow.pid')), 10_000, 'the step to finish');
    await pollUntil(() => auditLines(s.stateDir).some((a) => a.jobId === 8 && a.event === 'finished'), 5000, 'the outcome to be recorded');
    expect(jobFiles(s.stateDir)).toEqual([8]);
    first.kill('SIGTERM');
    expect(await first.waitForExit()).toEqual({ code: 0, signal: null });
    expect(jobFiles(s.stateDir), 'the unsent result is kept').toEqual([8]);

    await s.bot.up();
    const second = s.runner();
    const result = await waitEvent(s.bot, 8, 'result');
    expect(result).toMatchObject({ result: { status: 'succeeded' } });
    expect((result as { result: { outputTail: string } }).result.outputTail).toContain('slow done');
    await pollUntil(() => jobFiles(s.stateDir).length === 0, 5000, 'the job file to go once delivered');
    // Logged once per outage, not per attempt.
    expect(first.logRecords().filter((r) => r.level === 40 && /cannot reach the bot/.test(String(r.msg))).length).toBe(1);
    second.kill('SIGTERM');
    expect(await second.waitForExit()).toEqual({ code: 0, signal: null });
    expect(s.bot.violations).toEqual([]);
  });

  it('stops a cancelled job, and on SIGTERM gives running steps their grace, then stops them and reports', async () => {
    const s = await setup();
    const runner = s.runner({ RUNNER_STOP_GRACE_SECONDS: '1' });
    await runner.waitForLog(/connected to the bot/);
    s.bot.queue(s.job(11, 'stuck'));
    await waitEvent(s.bot, 11, 'started');
    const sleepPidFile = path.join(s.dir, 'sleep.pid');
    await pollUntil(() => fs.existsSync(sleepPidFile) && fs.readFileSync(sleepPidFile, 'utf8').endsWith('\n'), 15_000, 'the step to start its child');
    const firstSleep = readPid(sleepPidFile);
    s.bot.cancel(11);
    const cancelled = await waitEvent(s.bot, 11, 'result');
    expect(cancelled).toMatchObject({ result: { status: 'failed' } });
    expect(alive(firstSleep)).toBe(false);

    fs.rmSync(sleepPidFile);
    s.bot.queue(s.job(12, 'stuck'));
    await pollUntil(() => fs.existsSync(sleepPidFile) && fs.readFileSync(sleepPidFile, 'utf8').endsWith('\n'), 15_000, 'the second step to start');
    const secondSleep = readPid(sleepPidFile);
    runner.kill('SIGTERM');
    expect(await runner.waitForExit()).toEqual({ code: 0, signal: null });
    expect(alive(secondSleep), 'nothing is left running').toBe(false);
    expect(eventsOf(s.bot, 12).map((e) => e.type)).toEqual(['started', 'result']);
    expect(jobFiles(s.stateDir)).toEqual([]);
    expect(s.bot.violations).toEqual([]);
  });
});
