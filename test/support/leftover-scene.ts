/**
 * The scene of the tests where a changing step outlives the bot that started it (kill -9 of the
 * bot, SQLite or PostgreSQL): a fake Slack, a bot folder with the test's runbook, and the bots and
 * step processes to stop at the end whatever the test left running.
 *
 *   const s = await leftoverScene(RUNBOOK, cleanups);
 *   const env = s.env({ DATABASE_URL: db.url });
 *   const { bot, card, shellPid, sleepPid } = await approvedStep(s, env);
 *   bot.kill('SIGKILL');
 *
 * The runbook's `stuck` runbook has a step `fix` ("Fix it") that writes its shell's pid to
 * `{{DIR}}/shell.pid` and its background child's to `{{DIR}}/sleep.pid`.
 */
import path from 'node:path';
import { expect } from 'vitest';
import { slackDriver, type ChatDriver, type ChatMessage } from './chat-drivers.js';
import { botFolder, postWebhook, type BotProcess } from './bot-process.js';
import { loadFixture } from './fixtures.js';
import { alive, pidIn, readPid } from './processes.js';

const TOKEN = 'step-leftovers-webhook-token';

export interface LeftoverScene {
  chat: ChatDriver;
  dir: string;
  /** Step processes to kill at the end, should the test leave them alive. */
  pids: number[];
  /** The bot's environment: the fake Slack, the webhook token, then `extra`. */
  env: (extra?: Record<string, string>) => Record<string, string>;
  /** Starts a bot on the scene's folder and points the fake Slack at it. */
  start: (env: Record<string, string>) => Promise<BotProcess>;
  /** Posts the firing alert to `bot`; resolves with the incident card. */
  incidentCard: (bot: BotProcess) => Promise<ChatMessage>;
}

/**
 * Registers its cleanups in `cleanups` (run in reverse order, so a cleanup pushed before runs
 * after them): the bots and their folder, then the step processes they left, then the chat.
 */
export async function leftoverScene(runbook: string, cleanups: Array<() => Promise<void>>): Promise<LeftoverScene> {
  const chat = await slackDriver();
  cleanups.push(() => chat.close());
  const pids: number[] = [];
  cleanups.push(() => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    return Promise.resolve();
  });
  const folder = await botFolder({ 'stuck.yaml': runbook });
  cleanups.push(folder.dispose);
  return {
    chat,
    dir: folder.dir,
    pids,
    env: (extra) => ({ ...chat.botEnv(), ALERTMANAGER_WEBHOOK_TOKEN: TOKEN, ...extra }),
    start: async (env) => {
      const bot = await folder.start(env);
      chat.attach(bot.url);
      return bot;
    },
    incidentCard: async (bot) => {
      expect((await postWebhook(bot.url, loadFixture<object>('firing-single.json'), { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
      return chat.waitFor(() => chat.cards()[0], 15_000, 'the incident card');
    },
  };
}

/** Posts the webhook to a new bot, alice requests `Fix it`, bob approves it; resolves once its child has started. */
export async function approvedStep(s: LeftoverScene, env: Record<string, string>) {
  const { chat, dir } = s;
  const bot = await s.start(env);
  const card = await s.incidentCard(bot);
  await chat.press('alice', 'run-step:1:stuck:fix', card, card);
  const request = await chat.waitFor(() => chat.replies(card).find((m) => /asks to run Fix it/.test(m.text)), 15_000, 'the request');
  await chat.press('bob', 'approve:1', request, card);

  const sleepPid = await pidIn(path.join(dir, 'sleep.pid'), 'the step to start its child');
  const shellPid = readPid(path.join(dir, 'shell.pid'));
  s.pids.push(shellPid, sleepPid);
  return { bot, card, shellPid, sleepPid };
}
