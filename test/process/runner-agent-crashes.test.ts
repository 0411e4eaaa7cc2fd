import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../support/bot-process.js';
import { alive, pidIn } from '../support/processes.js';
import { auditLines, jobFiles } from '../support/runner-process.js';
import { stuckOnRunner, useRunnerScenes } from '../support/runner-scene.js';

/*
 * Crashes around a step on a runner, through the real bot and chat, each process killed with
 * SIGKILL. A runner killed mid-step and not restarted: the thread says the step was interrupted
 * once the runner has been silent for the heartbeat bound, and it is never re-run; when the runner
 * comes back, it kills what its step left running, and its own late report changes nothing. The
 * bot killed while a runner executes a step, and restarted before the step ends: the result the
 * runner delivers later is recorded in the thread by the restarted bot.
 */

const HEARTBEAT_S = 4;

const RUNBOOK = `
name: remote
match: { service: gitcortex }
runOn: host-1
steps:
  - id: stuck
    title: Hang
    action: exec
    run: [sh, -c, 'echo $$ > {{DIR}}/shell.pid; sleep 60 & echo $! > {{DIR}}/sleep.pid; wait']
    timeoutSeconds: 120
  - id: gated
    title: Wait for the go
    action: exec
    run: [sh, -c, 'echo $$ > {{DIR}}/gated.pid; while [ ! -e {{DIR}}/go ]; do sleep 0.1; done; echo went after the bot came back']
    timeoutSeconds: 120
`;

const scenes = useRunnerScenes();
const scene = () => scenes({ bot: RUNBOOK, runner: RUNBOOK, botEnv: { RUNNER_HEARTBEAT_TIMEOUT_SECONDS: String(HEARTBEAT_S) }, pidFiles: ['shell.pid', 'sleep.pid', 'gated.pid'] });

describe('crashes around a step on a runner', { timeout: 90_000 }, () => {
  it('kill -9 of the runner mid-step: interrupted in the thread within the heartbeat bound, never re-run; restarted, it kills the leftover', async () => {
    const s = await scene();
    const { runner: first, shellPid, sleepPid, jobId } = await stuckOnRunner(s);

    first.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });
    const interrupted = await s.reply(/stopped sending heartbeats/, 'the interruption in the thread', 20_000);
    const after = Date.now() - killedAt;
    expect(interrupted.text).toMatch(new RegExp(`runner host-1 stopped sending heartbeats \\(silent for \\d+ s, bound ${HEARTBEAT_S} s\\)`));
    expect(interrupted.text).toMatch(/It was not re-run/);
    // Not before the bound (the last poll came at most a heartbeat before the kill), and soon after it.
    expect(after).toBeGreaterThan((HEARTBEAT_S - HEARTBEAT_S / 3) * 1000 - 500);
    expect(after).toBeLessThan(HEARTBEAT_S * 1000 + 3000);
    // Nothing stopped the step's processes: the runner that knew them is gone.
    expect(alive(shellPid) && alive(sleepPid)).toBe(true);

    const second = await s.connectedRunner();
    await pollUntil(() => !alive(shellPid) && !alive(sleepPid), 10_000, 'the restarted runner to kill the leftover group');
    await pollUntil(() => jobFiles(s.stateDir).length === 0, 10_000, 'the job file to go once the bot answered');
    await pollUntil(() => auditLines(s.stateDir).some((l) => l.jobId === jobId && l.event === 'not accepted'), 5000, 'the bot\'s answer in the audit file');
    // Its own interruption report came too late: the bot had ended the job, and says so.
    const job = auditLines(s.stateDir).filter((l) => l.jobId === jobId);
    expect(job.map((l) => l.event)).toEqual(['received', 'started', 'process', 'interrupted', 'not accepted']);
    expect(String(job.at(-1)?.reason)).toMatch(/already interrupted/);
    // Never re-run: no job was handed out again, and the thread tells of the interruption once.
    await new Promise((r) => setTimeout(r, 1500));
    expect(auditLines(s.stateDir).filter((l) => l.event === 'received')).toHaveLength(1);
    expect(s.chat.replies(s.card).filter((m) => /Started Hang/.test(m.text))).toHaveLength(1);
    expect(s.chat.replies(s.card).filter((m) => /stopped sending heartbeats/.test(m.text))).toHaveLength(1);
    second.kill('SIGTERM');
    expect(await second.waitForExit()).toEqual({ code: 0, signal: null });
  });

  it('kill -9 of the bot while a runner executes: the restarted bot takes the step over, and its result arrives in the thread', async () => {
    const s = await scene();
    const runner = await s.connectedRunner();
    await s.chat.press('alice', 'run-step:1:remote:gated', s.card, s.card);
    await s.reply(/Started Wait for the go/, 'the step to start');
    const stepPid = await pidIn(path.join(s.dir, 'gated.pid'));

    s.bot().kill('SIGKILL');
    expect(await s.bot().waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });
    await runner.waitForLog(/cannot reach the bot/);
    await s.startBot();
    await runner.waitForLog(/reached the bot again/, 20_000);
    // Still running on the runner: it ends only now, with the bot restarted.
    expect(alive(stepPid)).toBe(true);
    expect(jobFiles(s.stateDir)).toHaveLength(1);
    fs.writeFileSync(path.join(s.dir, 'go'), '');

    const result = await s.reply(/Wait for the go succeeded/, 'the result, recorded by the restarted bot', 30_000);
    expect(result.text).toMatch(/^✅ \d\d:\d\d:\d\d Wait for the go succeeded/m);
    expect(result.text).toMatch(/on runner host-1/);
    expect(result.text).toContain('went after the bot came back');
    await pollUntil(() => jobFiles(s.stateDir).length === 0, 10_000, 'the job file to go once delivered');
    await pollUntil(() => auditLines(s.stateDir).some((l) => l.event === 'delivered'), 5000, 'the delivery in the audit file');
    expect(auditLines(s.stateDir).map((l) => l.event)).toEqual(['received', 'started', 'process', 'finished', 'delivered']);
    // One start, one result: the restarted bot neither ran it again nor gave it up.
    expect(s.chat.replies(s.card).filter((m) => /Started Wait for the go/.test(m.text))).toHaveLength(1);
    expect(s.chat.replies(s.card).filter((m) => /Wait for the go (succeeded|failed|was interrupted)/.test(m.text))).toHaveLength(1);
    runner.kill('SIGTERM');
    expect(await runner.waitForExit()).toEqual({ code: 0, signal: null });
  });
});
