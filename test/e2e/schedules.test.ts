import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBot, type Bot } from '../../src/app.js';
import { loadConfig } from '../../src/settings/config.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { FakeDiscord } from '../fakes/discord-api.js';
import { DEFAULT_CHANNEL_ID } from '../fakes/discord-signing.js';
import type { FakeSlack } from '../fakes/slack-api.js';
import { startBothPlatforms } from '../support/both-platforms.js';

/**
 * Scheduled jobs wired into the whole bot: a job whose 02:00 run passed while the bot was down is
 * reported when the bot starts, as a channel message of its own on Slack and on Discord (through
 * the outbox and the platforms' real SDKs), and audited; it is not run late.
 */
const OPS = 'C0OPS';

describe('scheduled jobs in the running bot', () => {
  let dir: string;
  let slack: FakeSlack;
  let discord: FakeDiscord;
  let bot: Bot;
  let platforms: Awaited<ReturnType<typeof startBothPlatforms>>;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'schedules-e2e-'));
    await fs.mkdir(path.join(dir, 'runbooks'));
    await fs.writeFile(
      path.join(dir, 'schedules.yaml'),
      `jobs:
  - name: retention
    title: Nightly retention
    kind: retention
    cron: '0 2 * * *'
    timezone: Asia/Tokyo
    post: [{ platform: slack, channel: ${OPS} }, { platform: discord, channel: '${DEFAULT_CHANNEL_ID}' }]
`,
    );
    // The previous life of the bot: the job last ran three days ago.
    const db = path.join(dir, 'bot.db');
    const before = new SqliteStore(db);
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000);
    threeDaysAgo.setUTCHours(17, 0, 0, 0); // 02:00 in Tokyo
    await before.transaction((tx) => tx.initJobRun('retention', threeDaysAgo.toISOString()));
    await before.close();

    platforms = await startBothPlatforms([OPS]);
    ({ slack, discord } = platforms);
    const config = loadConfig({
      PORT: '0',
      LOG_LEVEL: 'silent',
      DATABASE_URL: `sqlite:${db}`,
      RUNBOOKS_DIR: path.join(dir, 'runbooks'),
      ...platforms.env,
      SCHEDULES_FILE: path.join(dir, 'schedules.yaml'),
    });
    bot = await createBot(config, { logger: pino({ level: 'silent' }), env: process.env, outboxPollMs: 50 });
    await bot.listen();
  });
  afterAll(async () => {
    await bot.stop();
    await platforms.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reports the missed nightly runs in the job channels on both platforms, once, without running them', async () => {
    const onSlack = await slack.waitFor(() => slack.topLevel(OPS)[0], 10_000, 'the missed-run report on Slack');
    const onDiscord = await discord.waitFor(() => discord.messages(DEFAULT_CHANNEL_ID)[0], 10_000, 'the missed-run report on Discord');
    expect(onSlack.text).toMatch(/^⚠️ \*Nightly retention\* did not run at (\d{4}-\d\d-\d\d 02:00 Asia\/Tokyo(, )?){2,3}: the bot was down/);
    expect(onSlack.thread_ts).toBeUndefined();
    expect(onDiscord.content).toMatch(/Nightly retention\*\* did not run at/);
    expect(onDiscord.allowed_mentions).toEqual({ parse: [] });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(slack.topLevel(OPS)).toHaveLength(1);
    const events = await bot.store.transaction((tx) => tx.listAudit(null));
    expect(events.map((e) => [e.kind, e.actor])).toEqual([['schedule.missed', 'system:scheduler']]);
  });
});
