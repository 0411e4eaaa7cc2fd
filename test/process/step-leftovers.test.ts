import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { readDb } from '../support/faults-kit.js';
import { pollUntil } from '../support/bot-process.js';
import { approvedStep, leftoverScene, type LeftoverScene } from '../support/leftover-scene.js';
import { alive, pidIn } from '../support/processes.js';

/**
 * kill -9 of the bot alone (not its process group) while an approved, changing step runs: the
 * step's processes outlive the bot. The step is a shell that ignores SIGTERM and waits for a child
 * `sleep 30` (which inherits the ignored SIGTERM), so only a SIGKILL of the whole group stops it,
 * and the restarted bot's cleanup takes its full grace period: long enough to show that a request
 * for the same step made meanwhile is refused.
 */

const RUNBOOK = `
name: stuck
match: { service: gitcortex }
steps:
  - id: fix
    title: Fix it
    action: exec
    run: [sh, -c, 'trap "" TERM; echo $$ > {{DIR}}/shell.pid; sleep 30 & echo $! > {{DIR}}/sleep.pid; wait']
    changes: true
    timeoutSeconds: 60
  - id: look
    title: Look around
    action: exec
    run: [sh, -c, 'sleep 30 & echo $! > {{DIR}}/look.pid; wait']
`;

const runStates = (dbPath: string) => readDb(dbPath, (db) => (db.prepare('SELECT state FROM step_runs ORDER BY id').all() as Array<{ state: string }>).map((r) => r.state));

/**
 * Starts the bot, has alice request the changing step and bob approve it, waits for the step's
 * child, then kills the bot alone with SIGKILL and checks the hole: the step's processes live on.
 */
async function crashDuringStep(s: LeftoverScene, env: Record<string, string>) {
  const { bot: first, card, shellPid, sleepPid } = await approvedStep(s, env);

  // The bot alone, as a crash of the bot's process would (its steps are not in its process group).
  first.kill('SIGKILL');
  expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });
  // The hole: the step's processes outlive the bot.
  expect(alive(shellPid), 'the step shell after kill -9 of the bot').toBe(true);
  expect(alive(sleepPid), 'the step child after kill -9 of the bot').toBe(true);
  expect(runStates(first.dbPath)).toEqual(['running']);
  return { card, shellPid, sleepPid };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('a step whose bot was killed with kill -9', { timeout: 60_000 }, () => {
  it('is stopped by the restarted bot, which says so in the thread and refuses the step until then', async () => {
    const s = await leftoverScene(RUNBOOK, cleanups);
    const { chat } = s;
    const env = s.env();

    const { card, shellPid, sleepPid } = await crashDuringStep(s, env);

    const second = await s.start(env);

    // Before the cleanup is done (the leftover ignores SIGTERM, so it needs the KILL after the grace):
    // a new request for the same changing step is refused.
    expect((await chat.press('alice', 'run-step:1:stuck:fix', card, card)).status).toBe(200);
    const refusal = await chat.waitFor(() => chat.privateTexts('alice').find((t) => /Fix it/.test(t)), 10_000, 'the answer to the second request');
    expect(refusal).toMatch(/may still be running/);
    expect(alive(sleepPid), 'the leftover was still there when the request was refused').toBe(true);
    expect(chat.replies(card).some((m) => /was stopped/.test(m.text))).toBe(false);
    expect(runStates(second.dbPath)).toEqual(['interrupted']);

    const stopped = await chat.waitFor(() => chat.replies(card).find((m) => /Fix it was stopped: process group \d+ killed after a bot restart/.test(m.text)), 20_000, 'the stopped message in the thread');
    expect(stopped.text).toContain(`process group ${shellPid} killed`);
    await pollUntil(() => !alive(shellPid) && !alive(sleepPid), 5_000, 'the leftover processes to be gone');

    // After the cleanup, the step may be requested again.
    await chat.press('alice', 'run-step:1:stuck:fix', card, card);
    await chat.waitFor(() => chat.replies(card).filter((m) => /asks to run Fix it/.test(m.text)).length === 2, 10_000, 'the request after the cleanup');
    expect(runStates(second.dbPath)).toEqual(['interrupted', 'requested']);

    second.kill('SIGTERM');
    expect(await second.waitForExit()).toEqual({ code: 0, signal: null });
  });

  it('never signals a group recorded on another host or pid namespace; it warns in the thread instead', async () => {
    const s = await leftoverScene(RUNBOOK, cleanups);
    const { chat } = s;
    const env = s.env();
    const { card, shellPid, sleepPid } = await crashDuringStep(s, env);
    // As if the database had moved with its volume from an earlier container: the pids are not ours to signal.
    const db = new Database(path.join(s.dir, 'bot.db'));
    try {
      expect(db.prepare("UPDATE step_runs SET proc_host = 'old-container pid:[4026530001]'").run().changes).toBe(1);
    } finally {
      db.close();
    }

    await s.start(env);
    const warning = await chat.waitFor(() => chat.replies(card).find((m) => /could not be checked or stopped/.test(m.text)), 15_000, 'the warning in the thread');
    expect(warning.text).toContain(`process group ${shellPid} was recorded on old-container`);
    expect(alive(shellPid) && alive(sleepPid), 'processes of another namespace are left alone').toBe(true);
    expect(chat.replies(card).some((m) => /was stopped/.test(m.text))).toBe(false);

    await chat.press('alice', 'run-step:1:stuck:fix', card, card);
    await chat.waitFor(() => chat.replies(card).filter((m) => /asks to run Fix it/.test(m.text)).length === 2, 10_000, 'the request after the warning');
  });
});

describe('a step running when the bot is stopped', { timeout: 30_000 }, () => {
  it('is cancelled with its whole process group, children included', async () => {
    const s = await leftoverScene(RUNBOOK, cleanups);
    const bot = await s.start(s.env({ SHUTDOWN_TIMEOUT_MS: '300' }));
    const card = await s.incidentCard(bot);
    await s.chat.press('alice', 'run-step:1:stuck:look', card, card);
    const sleepPid = await pidIn(path.join(s.dir, 'look.pid'), 'the step to start its child');
    s.pids.push(sleepPid);

    bot.kill('SIGTERM');
    expect(await bot.waitForExit()).toEqual({ code: 0, signal: null });
    expect(runStates(bot.dbPath)).toEqual(['failed']);
    // Nothing of the step is left behind: the shell's background child went with it.
    await pollUntil(() => !alive(sleepPid), 2_000, 'the step child to be gone after a graceful stop').catch(() => undefined);
    expect(alive(sleepPid), 'the step child after a graceful stop').toBe(false);
  });
});
