import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createBot, type Bot } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/settings/config.js';
import type { FakeSlack } from '../fakes/slack-api.js';
import { blockActionsBody, signSlackRequest } from '../fakes/slack-signing.js';

export const WEBHOOK_TOKEN = 'am-webhook-token-for-tests';
export const SIGNING_SECRET = 'slack-signing-secret-for-tests';
export const ALERT_CHANNEL = 'C0ALERTS';

/** The bot's settings for a fake Slack, its API reached at `apiUrl` (default the fake's own; e.g. a fault proxy in front of it). */
export const slackEnv = (slack: FakeSlack, apiUrl = slack.url): Record<string, string> => ({
  SLACK_BOT_TOKEN: slack.token,
  SLACK_SIGNING_SECRET: SIGNING_SECRET,
  SLACK_ALERT_CHANNEL: ALERT_CHANNEL,
  SLACK_API_URL: apiUrl,
});

export interface TestBot {
  bot: Bot;
  config: Config;
  url: string;
  /** The bot's temp folder (database, runbooks, files steps write). */
  dir: string;
  /** The bot's SQLite file, for reading the store from outside. */
  dbFile: string;
  postWebhook(body: string | object, headers?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }>;
  /** A signed Slack button click, as Slack sends it. */
  press(input: { userId: string; userName: string; actionId: string; messageTs: string; threadTs?: string; timestampSeconds?: number; secret?: string }): Promise<{ status: number; ms: number; body: string }>;
  stop(): Promise<void>;
}

/**
 * Starts the real bot in this process on a free port, with its own SQLite file and runbooks, and
 * Slack pointed at the given fake. `runbooks` maps file names to YAML; `{{DIR}}` in them becomes the temp folder.
 */
export async function startTestBot(opts: { slack?: FakeSlack; runbooks: Record<string, string>; env?: Record<string, string> }): Promise<TestBot> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'chatops-bot-test-'));
  const runbookDir = path.join(dir, 'runbooks');
  await fs.mkdir(runbookDir);
  const dbFile = path.join(dir, 'bot.db');
  for (const [name, yaml] of Object.entries(opts.runbooks)) {
    await fs.writeFile(path.join(runbookDir, name), yaml.replaceAll('{{DIR}}', dir));
  }
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    DATABASE_URL: `sqlite:${dbFile}`,
    RUNBOOKS_DIR: runbookDir,
    ALERTMANAGER_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    ...(opts.slack ? slackEnv(opts.slack) : {}),
    ...opts.env,
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const bot = await createBot(config, { logger, env: process.env, outboxPollMs: 50, executorPollMs: 50 });
  const address = await bot.listen();
  const url = `http://127.0.0.1:${address.port}`;

  return {
    bot,
    config,
    url,
    dir,
    dbFile,
    async postWebhook(body, headers = { authorization: `Bearer ${WEBHOOK_TOKEN}` }) {
      const res = await fetch(`${url}/webhooks/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async press(input) {
      const body = blockActionsBody({
        user: { id: input.userId, name: input.userName },
        channel: ALERT_CHANNEL,
        messageTs: input.messageTs,
        ...(input.threadTs ? { threadTs: input.threadTs } : {}),
        actionId: input.actionId,
        value: input.actionId,
      });
      const headers = signSlackRequest(input.secret ?? SIGNING_SECRET, body, input.timestampSeconds ?? Math.floor(Date.now() / 1000));
      const started = performance.now();
      const res = await fetch(`${url}/slack/events`, { method: 'POST', headers: { ...headers }, body });
      const text = await res.text();
      return { status: res.status, ms: performance.now() - started, body: text };
    },
    async stop() {
      await bot.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Button ids on a Slack message's actions blocks. */
export function buttonIds(blocks: ReadonlyArray<Record<string, unknown>>): string[] {
  return blocks
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements as Array<Record<string, unknown>>).map((e) => String(e.action_id)));
}

/** Button ids of the runbook steps offered on a card (leaving out Acknowledge and other lifecycle buttons). */
export function stepButtonIds(blocks: ReadonlyArray<Record<string, unknown>>): string[] {
  return buttonIds(blocks).filter((id) => id.startsWith('run-step:'));
}

export function buttonsOf(blocks: ReadonlyArray<Record<string, unknown>>): Array<Record<string, unknown>> {
  return blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements as Array<Record<string, unknown>>);
}

/** All text of a Slack message (top-level text and block texts), for assertions. */
export function messageText(m: { text: string; blocks: ReadonlyArray<Record<string, unknown>> }): string {
  return `${m.text}\n${JSON.stringify(m.blocks)}`;
}
