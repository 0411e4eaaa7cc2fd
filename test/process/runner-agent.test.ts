import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../support/bot-process.js';
import { alive, pidIn } from '../support/processes.js';
import { auditLines, jobFiles } from '../support/runner-process.js';
import { stuckOnRunner, useRunnerScenes } from '../support/runner-scene.js';

/*
 * The runner agent as a process against the real bot (a process too), driven through chat as an
 * on-call engineer would: a step the runner's own manifests hold differently is refused and the
 * thread says why; a step it holds runs there, the thread shows its result, and its job file is
 * gone once the bot took it; kill -9 of the runner mid-step, then a restart, kills the leftover
 * process group and the thread says the step was interrupted, which is never re-run; a result
 * the runner could not deliver while the bot was down is delivered once the bot is back, and the
 * restarted bot records it in the thread.
 */

/** The bot's copy and the runner's copy (the runner's `differs` step runs something else). */
const runbook = (differs: string) => `
name: remote
match: { service: gitcortex }
runOn: host-1
steps:
  - id: hello
    title: Say hello
    action: exec
    run: [sh, -c, 'echo "hello from the runner" > {{DIR}}/hello.txt; echo said hello']
  - id: stuck
    title: Hang
    action: exec
    run: [sh, -c, 'echo $$ > {{DIR}}/shell.pid; sleep 30 & echo $! > {{DIR}}/sleep.pid; wait']
    timeoutSeconds: 120
  - id: slow
    title: Take a while
    action: exec
    run: [sh, -c, 'sleep 3; echo $$ > {{DIR}}/slow.pid; echo slow done']
  - id: differs
    title: Differs
    action: exec
    run: [sh, -c, 'echo ${differs} > {{DIR}}/differs.txt']
`;

const scenes = useRunnerScenes();
const scene = (botEnv: Record<string, string> = {}) => scenes({ bot: runbook('bot copy'), runner: runbook('runner copy'), botEnv, pidFiles: ['shell.pid', 'sleep.pid'] });

describe('the runner agent against the real bot', { timeout: 90_000 }, () => {
  it('refuses a step its manifests hold differently and runs one they hold: the thread shows both, the job files go, the audit has the evidence', async () => {
    const s = await scene();
    const runner = await s.connectedRunner();

    await s.chat.press('alice', 'run-step:1:remote:differs', s.card, s.card);
    const refused = await s.reply(/refused by runner host-1, nothing was run/, 'the refusal in the thread');
    expect(refused.text).toMatch(/step remote\/differs differs from this host's manifests \(hash [0-9a-f]{12}… here, [0-9a-f]{12}… asked\)/);
    expect(fs.existsSync(path.join(s.dir, 'differs.txt')), 'neither copy ran').toBe(false);

    await s.chat.press('alice', 'run-step:1:remote:hello', s.card, s.card);
    const result = await s.reply(/^✅ \d\d:\d\d:\d\d Say hello/m, 'the result in the thread');
    expect(result.text).toMatch(/on runner host-1/);
    expect(result.text).toContain('said hello');
    expect(fs.readFileSync(path.join(s.dir, 'hello.txt'), 'utf8')).toBe('hello from the runner\n');
    await pollUntil(() => jobFiles(s.stateDir).length === 0 && auditLines(s.stateDir).filter((a) => a.event === 'delivered').length === 2, 5000, 'the job files to go once the bot took both outcomes');

    const audit = auditLines(s.stateDir);
    const hello = audit.filter((a) => a.step === 'hello');
    expect(hello.map((a) => a.event)).toEqual(['received', 'started', 'process', 'finished', 'delivered']);
    expect(hello[0]).toMatchObject({ runbook: 'remote', evidence: { incidentId: 1, purpose: 'step', requestedBy: expect.stringMatching(/ALICE|alice/) as unknown } });
    expect(audit.filter((a) => a.step === 'differs').map((a) => a.event)).toEqual(['received', 'refused', 'delivered']);

    runner.kill('SIGTERM');
    expect(await runner.waitForExit()).toEqual({ code: 0, signal: null });
  });

  it('after kill -9 mid-step, the restarted runner kills the leftover process group; the thread says interrupted, and the step is not re-run', async () => {
    const s = await scene();
    const { runner: first, shellPid, sleepPid, jobId } = await stuckOnRunner(s);
    expect(jobId).toBeDefined();

    first.kill('SIGKILL');
    expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(alive(shellPid), 'the step shell outlives the runner').toBe(true);
    expect(alive(sleepPid), 'its child too').toBe(true);
    fs.rmSync(path.join(s.dir, 'sleep.pid'));

    const second = s.runner();
    const interrupted = await s.reply(/interrupted on runner host-1/, 'the interruption in the thread');
    expect(interrupted.text).toContain(`process group ${shellPid} was still running and was killed`);
    await pollUntil(() => !alive(shellPid) && !alive(sleepPid), 5000, 'the leftover processes to be gone');
    await pollUntil(() => jobFiles(s.stateDir).length === 0, 5000, 'the job file to go once the bot took the interruption');
    await pollUntil(() => auditLines(s.stateDir).some((a) => a.jobId === jobId && a.event === 'delivered'), 5000, 'the delivery in the audit file');
    expect(auditLines(s.stateDir).filter((a) => a.jobId === jobId).map((a) => a.event)).toEqual(['received', 'started', 'process', 'interrupted', 'delivered']);
    // Never run again: no new process wrote its pid, and the runner received the job once.
    await new Promise((r) => setTimeout(r, 1500));
    expect(fs.existsSync(path.join(s.dir, 'sleep.pid'))).toBe(false);
    expect(auditLines(s.stateDir).filter((a) => a.event === 'received')).toHaveLength(1);

    second.kill('SIGTERM');
    expect(await second.waitForExit()).toEqual({ code: 0, signal: null });
  });

  it('keeps a result while the bot is down (kill -9) and delivers it to the restarted bot, which records it in the thread', async () => {
    const s = await scene();
    const runner = await s.connectedRunner();
    await s.chat.press('alice', 'run-step:1:remote:slow', s.card, s.card);
    await s.reply(/Started Take a while/, 'the step to start');

    s.bot().kill('SIGKILL');
    await s.bot().waitForExit();
    // The step ends while the bot is away: its result waits on disk.
    await pidIn(path.join(s.dir, 'slow.pid'));
    await pollUntil(() => auditLines(s.stateDir).some((a) => a.step === 'slow' && a.event === 'finished'), 10_000, 'the outcome to be recorded');
    await runner.waitForLog(/cannot reach the bot/);
    expect(jobFiles(s.stateDir)).toHaveLength(1);

    await s.startBot();
    const result = await s.reply(/^✅ \d\d:\d\d:\d\d Take a while/m, 'the result, recorded by the restarted bot', 30_000);
    expect(result.text).toMatch(/on runner host-1/);
    expect(result.text).toContain('slow done');
    await pollUntil(() => jobFiles(s.stateDir).length === 0, 10_000, 'the job file to go once delivered');
    await runner.waitForLog(/reached the bot again/);
    // One warning for the outage, not one per attempt.
    expect(runner.logRecords().filter((r) => r.level === 40 && /cannot reach the bot/.test(String(r.msg)))).toHaveLength(1);

    runner.kill('SIGTERM');
    expect(await runner.waitForExit()).toEqual({ code: 0, signal: null });
  });

  it('on SIGTERM gives a running step its grace, then stops its process group and reports the result before exiting', async () => {
    const s = await scene();
    const runner = s.runner({ RUNNER_STOP_GRACE_SECONDS: '1' });
    await runner.waitForLog(/connected to the bot/);
    await s.chat.press('alice', 'run-step:1:remote:stuck', s.card, s.card);
    const shellPid = await pidIn(path.join(s.dir, 'shell.pid'));
    const sleepPid = await pidIn(path.join(s.dir, 'sleep.pid'));
    runner.kill('SIGTERM');
    await runner.waitForLog(/stopping a job that did not finish in time/);
    expect(await runner.waitForExit()).toEqual({ code: 0, signal: null });
    expect(alive(shellPid) || alive(sleepPid), 'nothing is left running').toBe(false);
    expect(jobFiles(s.stateDir), 'the bot took the result before the runner exited').toEqual([]);
    const stopped = await s.reply(/^❌ \d\d:\d\d:\d\d Hang failed/m, 'the stopped step in the thread');
    expect(stopped.text).toMatch(/on runner host-1/);
    expect(auditLines(s.stateDir).map((a) => a.event)).toEqual(['received', 'started', 'process', 'stopped at shutdown', 'finished', 'delivered']);
  });
});
