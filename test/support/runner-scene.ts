/**
 * The bot and a runner agent as processes, driven through chat: the bot (runner host-1 in its
 * RUNNERS_FILE) with an incident card posted to the fake Slack, and the runner's folders. The bot
 * keeps one port across restarts, so the runner's BOT_URL stays right when a test kills and
 * starts it again.
 *
 *   const scenes = useRunnerScenes();
 *   const s = await scenes({ bot: yaml, runner: yaml });
 *   const runner = await s.connectedRunner();
 *   await s.chat.press('alice', 'run-step:1:remote:hello', s.card, s.card);
 *   await s.reply(/^✅ \d\d:\d\d:\d\d Say hello/m, 'the result');
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { slackDriver, type ChatDriver, type ChatMessage } from './chat-drivers.js';
import { freePort, makeBotDir, postWebhook, startBotProcess, type BotProcess } from './bot-process.js';
import { loadFixture } from './fixtures.js';
import { alive, pidIn, readPid } from './processes.js';
import { jobFiles, RUNNER_TEST_TOKEN, spawnRunner, type RunnerProcess } from './runner-process.js';

const TOKEN = 'runner-scene-webhook-token';

export interface RunnerSceneOptions {
  /** The bot's manifest and the runner's (`{{DIR}}` becomes the scene's folder in both). */
  bot: string;
  runner: string;
  botEnv?: Record<string, string>;
  /** Files in the folder holding pids of step processes to kill at the end, should a test leave them. */
  pidFiles?: string[];
}

export interface RunnerScene {
  chat: ChatDriver;
  dir: string;
  stateDir: string;
  card: ChatMessage;
  bot: () => BotProcess;
  /** Starts the bot (again) on the scene's folder and port. */
  startBot: () => Promise<BotProcess>;
  runner: (env?: Record<string, string>) => RunnerProcess;
  /** A runner, once it has connected to the bot. */
  connectedRunner: (env?: Record<string, string>) => Promise<RunnerProcess>;
  /** A thread reply matching `pattern`, once it is there. */
  reply: (pattern: RegExp, what: string, timeoutMs?: number) => Promise<ChatMessage>;
  dispose: () => Promise<void>;
}

export async function runnerScene(o: RunnerSceneOptions): Promise<RunnerScene> {
  const chat = await slackDriver();
  const dir = await makeBotDir({ 'remote.yaml': o.bot });
  const runbooksDir = path.join(dir, 'runner-runbooks');
  const stateDir = path.join(dir, 'runner-state');
  fs.mkdirSync(runbooksDir);
  fs.writeFileSync(path.join(runbooksDir, 'remote.yaml'), o.runner.replaceAll('{{DIR}}', dir));
  fs.writeFileSync(path.join(dir, 'runners.yaml'), `runners:\n  - name: host-1\n    token: ${RUNNER_TEST_TOKEN}\n`);
  const port = await freePort();
  const botUrl = `http://127.0.0.1:${port}`;
  const env = { ...chat.botEnv(), ALERTMANAGER_WEBHOOK_TOKEN: TOKEN, RUNNERS_FILE: path.join(dir, 'runners.yaml'), ...o.botEnv };
  const bots: BotProcess[] = [];
  const runners: RunnerProcess[] = [];
  const dispose = async () => {
    for (const r of runners) await r.dispose();
    for (const b of bots) await b.dispose();
    for (const file of o.pidFiles ?? []) {
      const pidFile = path.join(dir, file);
      if (fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\n') && alive(readPid(pidFile))) process.kill(readPid(pidFile), 'SIGKILL');
    }
    await chat.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const startBot = async () => {
    const bot = await startBotProcess({ dir, env, port });
    bots.push(bot);
    chat.attach(botUrl);
    return bot;
  };
  let card: ChatMessage;
  try {
    await startBot();
    expect((await postWebhook(botUrl, loadFixture<object>('firing-single.json'), { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    card = await chat.waitFor(() => chat.cards()[0], 15_000, 'the incident card');
  } catch (error) {
    await dispose();
    throw error;
  }
  const runner = (runnerEnv: Record<string, string> = {}) => {
    const r = spawnRunner({ botUrl, runbooksDir, stateDir, env: runnerEnv });
    runners.push(r);
    return r;
  };
  return {
    chat,
    dir,
    stateDir,
    card,
    bot: () => bots.at(-1) as BotProcess,
    startBot,
    runner,
    connectedRunner: async (runnerEnv) => {
      const r = runner(runnerEnv);
      await r.waitForLog(/connected to the bot/);
      return r;
    },
    reply: (pattern, what, timeoutMs = 20_000) => chat.waitFor(() => chat.replies(card).find((m) => pattern.test(m.text)), timeoutMs, what),
    dispose,
  };
}

/** Scenes disposed after each test, whatever it left running. */
export function useRunnerScenes(): (o: RunnerSceneOptions) => Promise<RunnerScene> {
  const scenes: RunnerScene[] = [];
  afterEach(async () => {
    for (const s of scenes.splice(0).reverse()) await s.dispose();
  });
  return async (o) => {
    const s = await runnerScene(o);
    scenes.push(s);
    return s;
  };
}

/**
 * A connected runner running step `stuck`, a shell that writes its pid to `shell.pid` and its
 * background child's to `sleep.pid`; resolves once both are written, with the runner's job.
 */
export async function stuckOnRunner(s: RunnerScene) {
  const runner = await s.connectedRunner();
  await s.chat.press('alice', 'run-step:1:remote:stuck', s.card, s.card);
  const shellPid = await pidIn(path.join(s.dir, 'shell.pid'));
  const sleepPid = await pidIn(path.join(s.dir, 'sleep.pid'));
  const [jobId] = jobFiles(s.stateDir);
  return { runner, shellPid, sleepPid, jobId };
}
