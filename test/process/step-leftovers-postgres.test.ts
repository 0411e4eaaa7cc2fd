import { afterEach, expect, it } from 'vitest';
import { pollUntil } from '../support/bot-process.js';
import { approvedStep, leftoverScene } from '../support/leftover-scene.js';
import { createTestDatabase } from '../support/postgres.js';
import { probePostgres, requireService } from '../support/services.js';
import { alive } from '../support/processes.js';

/**
 * The PostgreSQL variant of step-leftovers.test.ts: kill -9 of a replica while its approved step
 * runs, then another replica on the same host. The dead replica's run stays `running` until its
 * heartbeat is 30 s old (a replica cannot tell a dead one from a slow one sooner), and is refused
 * as running meanwhile. Once it is reported interrupted, the replica on the same host stops its
 * process group (which ignores SIGTERM, so that takes the 5 s grace) and says so in the thread; a
 * request in that window is refused because the leftover may still run.
 */

const server = await requireService('PostgreSQL at 127.0.0.1:5432', probePostgres);

const RUNBOOK = `
name: stuck
match: { service: gitcortex }
steps:
  - id: fix
    title: Fix it
    action: exec
    run: [sh, -c, 'trap "" TERM; echo $$ > {{DIR}}/shell.pid; sleep 60 & echo $! > {{DIR}}/sleep.pid; wait']
    changes: true
    timeoutSeconds: 120
`;


const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

server.describe('a step whose replica was killed with kill -9 (PostgreSQL)', () => {
  it('is refused while the dead replica\'s run may still execute, then stopped by a replica on the same host', { timeout: 120_000 }, async () => {
    const db = await createTestDatabase(server.value, 'leftovers');
    // Pushed first, so it runs after the scene's cleanup has stopped the bots using the database.
    cleanups.push(() => db.drop());
    const s = await leftoverScene(RUNBOOK, cleanups);
    const { chat } = s;
    const env = s.env({ DATABASE_URL: db.url });
    const states = async () => (await db.query<{ state: string }>('SELECT state FROM step_runs ORDER BY id')).map((r) => r.state);

    const { bot: first, card, shellPid, sleepPid } = await approvedStep(s, env);
    const [recorded] = await db.query<{ proc_pid: number; proc_pgid: number }>('SELECT proc_pid, proc_pgid FROM step_runs');
    expect(recorded).toEqual({ proc_pid: shellPid, proc_pgid: shellPid });

    first.kill('SIGKILL');
    expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(alive(sleepPid), 'the step child after kill -9 of its replica').toBe(true);

    await s.start(env);
    // The dead replica's run still counts as running: refused.
    await chat.press('alice', 'run-step:1:stuck:fix', card, card);
    const refusal = await chat.waitFor(() => chat.privateTexts('alice').find((t) => /Fix it/.test(t)), 10_000, 'the answer to the second request');
    expect(refusal).toMatch(/is running/);
    expect(await states()).toEqual(['running']);

    // Reported interrupted (heartbeat 30 s old), its group not stopped yet: refused as a possible leftover.
    await pollUntil(async () => (await states())[0] === 'interrupted', 60_000, 'the run to be reported interrupted');
    await chat.press('alice', 'run-step:1:stuck:fix', card, card);
    const leftover = await chat.waitFor(() => chat.privateTexts('alice').filter((t) => /Fix it/.test(t))[1], 10_000, 'the answer to the third request');
    expect(leftover).toMatch(/may still be running/);
    expect(alive(sleepPid), 'the leftover was still there when the request was refused').toBe(true);
    expect(await states()).toEqual(['interrupted']);

    const stopped = await chat.waitFor(() => chat.replies(card).find((m) => /Fix it was stopped: process group \d+ killed after the loss of the replica running it/.test(m.text)), 60_000, 'the stopped message');
    expect(stopped.text).toContain(`process group ${shellPid} killed`);
    await pollUntil(() => !alive(shellPid) && !alive(sleepPid), 10_000, 'the leftover processes to be gone');
    expect(await states()).toEqual(['interrupted']);

    await chat.press('alice', 'run-step:1:stuck:fix', card, card);
    await chat.waitFor(() => chat.replies(card).filter((m) => /asks to run Fix it/.test(m.text)).length === 2, 10_000, 'the request after the cleanup');
    expect(await states()).toEqual(['interrupted', 'requested']);
  });
});
