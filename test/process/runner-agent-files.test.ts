import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';
import { makeBotDir, pollUntil, postWebhook, startBotProcess, type BotProcess } from '../support/bot-process.js';
import { loadFixture } from '../support/fixtures.js';
import { auditLines, jobFiles, RUNNER_TEST_TOKEN, spawnRunner, type RunnerProcess } from '../support/runner-process.js';

/*
 * Files chosen in chat, on a runner, with the real bot: a changing step's checkpoint is taken on the
 * runner, "Roll back" to it is checked there (the snapshot is a file the runner produced) and
 * restores it there; a picker lists the runner's backups and the chosen one is checked and restored
 * there. Real backup and restore actions on a real directory, approvals through signed presses.
 */

const TOKEN = 'runner-files-webhook-token';
const RUNBOOK = `
name: files
match: { service: gitcortex }
runOn: host-1
params:
  data: { default: '{{DIR}}/data', pattern: '/[A-Za-z0-9/._-]+' }
  backups: { default: '{{DIR}}/backups', pattern: '/[A-Za-z0-9/._-]+' }
  backup: { chosen: true, pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: backup
    title: Back up data
    action: backup
    with: { engine: directory, source: '{{data}}', dir: '{{backups}}', prefix: files }
  - id: wipe
    title: Wipe data
    action: exec
    run: [sh, -c, 'rm -f "$0"/*', '{{data}}']
    changes: true
    checkpoint: { step: backup, rollback: restore, param: backup }
  - id: restore
    title: Restore data
    action: restore
    with: { engine: directory, target: '{{data}}', from: '{{backup}}' }
    changes: true
    pick: { param: backup, dir: '{{backups}}', prefix: files }
`;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('files chosen in chat, on a runner', { timeout: 120_000 }, () => {
  it('checkpoint, Roll back and a picked restore all happen on the runner, checked there', async () => {
    const chat: ChatDriver = await slackDriver();
    const dir = await makeBotDir({ 'files.yaml': RUNBOOK });
    const runbooksDir = path.join(dir, 'runner-runbooks');
    const stateDir = path.join(dir, 'runner-state');
    fs.mkdirSync(runbooksDir);
    fs.writeFileSync(path.join(runbooksDir, 'files.yaml'), RUNBOOK.replaceAll('{{DIR}}', dir));
    fs.mkdirSync(path.join(dir, 'data'));
    fs.mkdirSync(path.join(dir, 'backups'));
    fs.writeFileSync(path.join(dir, 'data', 'important.txt'), 'keep me\n');
    fs.writeFileSync(path.join(dir, 'runners.yaml'), `runners:\n  - name: host-1\n    token: ${RUNNER_TEST_TOKEN}\n`);
    const processes: Array<BotProcess | RunnerProcess> = [];
    cleanups.push(async () => {
      for (const p of processes.reverse()) await p.dispose();
      await chat.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const bot = await startBotProcess({ dir, env: { ...chat.botEnv(), ALERTMANAGER_WEBHOOK_TOKEN: TOKEN, RUNNERS_FILE: path.join(dir, 'runners.yaml') } });
    processes.push(bot);
    chat.attach(bot.url);
    const runner = spawnRunner({ botUrl: bot.url, runbooksDir, stateDir });
    processes.push(runner);
    await runner.waitForLog(/connected to the bot/);
    expect((await postWebhook(bot.url, loadFixture<object>('firing-single.json'), { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    const card: ChatMessage = await chat.waitFor(() => chat.cards()[0], 15_000, 'the incident card');
    const reply = (pattern: RegExp, what: string, after = 0) => chat.waitFor(() => chat.replies(card).slice(after).find((m) => pattern.test(m.text)), 30_000, what);
    const approveLatest = async (what: string) => {
      // The request still waiting: an earlier run's message also says "asks to run", but its buttons are gone.
      const request = await chat.waitFor(() => chat.replies(card).filter((m) => /asks to run/.test(m.text) && m.buttonIds.some((id) => id.startsWith('approve:'))).at(-1), 30_000, what);
      const approve = request.buttonIds.find((id) => id.startsWith('approve:'));
      expect(approve, what).toBeDefined();
      await chat.press('bob', approve ?? '', request, card);
    };
    const important = path.join(dir, 'data', 'important.txt');

    // The change, with its checkpoint taken on the runner first.
    await chat.press('alice', 'run-step:1:files:wipe', card, card);
    await approveLatest('the wipe request');
    const wiped = await reply(/✅ \d\d:\d\d:\d\d Wipe data succeeded/, 'the wipe result');
    // The result's facts are in the run's message, or right below it when they would not fit.
    const details = wiped.text.includes('(details below)') ? (await reply(/^↳ Wipe data/, 'the wipe details')).text : wiped.text;
    expect(details).toMatch(/on runner host-1/);
    expect(fs.existsSync(important)).toBe(false);
    expect(chat.replies(card).some((m) => /Pre-change checkpoint for Wipe data/.test(m.text))).toBe(true);

    // Roll back: the bot has the runner check the snapshot (a file it produced), then restore it.
    const rollback = wiped.buttonIds.find((id) => id.startsWith('rollback:'));
    expect(rollback).toBeDefined();
    const before = chat.replies(card).length;
    await chat.press('alice', rollback ?? '', wiped, card);
    await approveLatest('the rollback request');
    await reply(/✅ \d\d:\d\d:\d\d Restore data succeeded/, 'the rollback result', before);
    expect(fs.readFileSync(important, 'utf8')).toBe('keep me\n');

    // A restore picked from the runner's backups.
    fs.writeFileSync(important, 'changed\n');
    const beforePick = chat.replies(card).length;
    await chat.press('alice', 'run-step:1:files:restore', card, card);
    const picker = await reply(/choose one of the \d+ most recent backups/, 'the picker', beforePick);
    const option = picker.buttonIds.find((id) => id.startsWith('pick:'));
    expect(option).toBeDefined();
    await chat.press('alice', option ?? '', picker, card);
    await approveLatest('the picked restore request');
    await reply(/✅ \d\d:\d\d:\d\d Restore data succeeded/, 'the picked restore result', beforePick);
    expect(fs.readFileSync(important, 'utf8')).toBe('keep me\n');

    // All of it ran on the runner, each job once, and the runner holds nothing now.
    await pollUntil(() => jobFiles(stateDir).length === 0, 10_000, 'every outcome to be taken');
    const received = auditLines(stateDir).filter((l) => l.event === 'received');
    expect(received.map((l) => `${String(l.kind)} ${String(l.step)}`)).toEqual(
      expect.arrayContaining(['run backup', 'run wipe', 'inspect restore', 'run restore', 'list restore']),
    );
    expect(auditLines(stateDir).filter((l) => l.event === 'refused')).toEqual([]);
    runner.kill('SIGTERM');
    expect(await runner.waitForExit()).toEqual({ code: 0, signal: null });
  });
});
