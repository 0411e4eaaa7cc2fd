import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBot, type Bot } from '../../src/app.js';
import { loadConfig } from '../../src/settings/config.js';
import type { FakeDiscord } from '../fakes/discord-api.js';
import { DEFAULT_CHANNEL_ID } from '../fakes/discord-signing.js';
import type { FakeSlack } from '../fakes/slack-api.js';
import { startBothPlatforms } from '../support/both-platforms.js';
import { ALERT_CHANNEL, WEBHOOK_TOKEN } from '../support/bot-harness.js';
import { loadFixture } from '../support/fixtures.js';

/**
 * Escalation through the whole bot, Slack and Discord at once (their fakes behind the real SDKs):
 * an unacknowledged critical incident is re-announced in both threads at each interval, pinging
 * exactly the configured targets, and stops once someone acknowledges it.
 */
const ESCALATION = `
severities:
  critical: { after: 2s, every: 3s }
targets:
  slack: [{ group: S0ONCALL }, { user: U0LEAD }]
  discord: [{ role: '987654321098765432' }, { user: '123456789012345678' }]
`;

describe('escalation end to end on Slack and Discord', () => {
  let dir: string;
  let slack: FakeSlack;
  let discord: FakeDiscord;
  let bot: Bot;
  let platforms: Awaited<ReturnType<typeof startBothPlatforms>>;
  let url: string;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'escalation-e2e-'));
    await fs.mkdir(path.join(dir, 'runbooks'));
    await fs.writeFile(path.join(dir, 'escalation.yaml'), ESCALATION);
    platforms = await startBothPlatforms([]);
    ({ slack, discord } = platforms);
    const config = loadConfig({
      PORT: '0',
      LOG_LEVEL: 'silent',
      DATABASE_URL: `sqlite:${path.join(dir, 'bot.db')}`,
      RUNBOOKS_DIR: path.join(dir, 'runbooks'),
      ALERTMANAGER_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      ...platforms.env,
      ESCALATION_FILE: path.join(dir, 'escalation.yaml'),
    });
    bot = await createBot(config, { logger: pino({ level: 'silent' }), env: process.env, outboxPollMs: 50, executorPollMs: 50, escalationPollMs: 100 });
    url = `http://127.0.0.1:${(await bot.listen()).port}`;
  });
  afterAll(async () => {
    await bot.stop();
    await platforms.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('re-announces in both threads with exactly the targets pinged, until acknowledged', async () => {
    const res = await fetch(`${url}/webhooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
      body: JSON.stringify(loadFixture('alertmanager-0.25/firing-single.json')),
    });
    expect(res.status).toBe(200);
    const slackCard = await slack.waitFor(() => slack.topLevel(ALERT_CHANNEL)[0], 10_000, 'the Slack card');
    const discordCard = await discord.waitFor(() => discord.messages(DEFAULT_CHANNEL_ID)[0], 10_000, 'the Discord card');
    const slackEscalations = () => slack.threadReplies(ALERT_CHANNEL, slackCard.ts).filter((m) => m.text.includes('Escalation'));
    const discordEscalations = () => discord.thread(discordCard.id).filter((m) => m.content.includes('Escalation'));

    await discord.waitFor(() => discordEscalations().length >= 2 && slackEscalations().length >= 2, 15_000, 'two escalations on each platform');
    const [first, second] = discordEscalations();
    expect(first?.content).toMatch(/^⏰ Escalation 1: .*\n<@123456789012345678> <@&987654321098765432>$/s);
    expect(second?.content).toMatch(/^⏰ Escalation 2: /);
    expect(first?.allowed_mentions).toEqual({ parse: [], users: ['123456789012345678'], roles: ['987654321098765432'] });
    expect(first?.pinged).toEqual({ users: ['123456789012345678'], roles: ['987654321098765432'], everyone: false });
    // Every other message of the thread pings nobody.
    for (const m of discord.thread(discordCard.id).filter((x) => !x.content.includes('Escalation'))) expect(m.allowed_mentions).toEqual({ parse: [] });
    expect(slackEscalations()[0]?.text).toMatch(/ <!subteam\^S0ONCALL> <@U0LEAD>$/);
    // The card says it is escalated.
    await slack.waitFor(() => (JSON.stringify(slack.message(ALERT_CHANNEL, slackCard.ts)?.blocks).includes('escalated (level') ? true : undefined), 5_000, 'the escalated card');

    // Someone acknowledges: no further escalation.
    const incidentId = Number(/#(\d+)/.exec(slackCard.text)?.[1]);
    await bot.engine.acknowledge({ platform: 'slack', id: 'U0LEAD', name: 'lead', groups: [] }, incidentId);
    await slack.waitFor(() => slack.threadReplies(ALERT_CHANNEL, slackCard.ts).find((m) => m.text.includes('acknowledged')), 5_000, 'the ack in the thread');
    const count = slackEscalations().length;
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(slackEscalations()).toHaveLength(count);
    const audit = (await bot.engine.auditTrail(incidentId)) ?? [];
    expect(audit.filter((e) => e.kind === 'incident.escalated')).toHaveLength(count);
  }, 40_000);
});
