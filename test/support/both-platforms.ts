import { startFakeDiscord, type FakeDiscord } from '../fakes/discord-api.js';
import { DEFAULT_CHANNEL_ID, createTestKeyPair } from '../fakes/discord-signing.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';
import { ALERT_CHANNEL, SIGNING_SECRET } from './bot-harness.js';

/** Fake Slack and fake Discord side by side, and the bot environment that enables both against them. */
export async function startBothPlatforms(slackChannels: string[] = []): Promise<{ slack: FakeSlack; discord: FakeDiscord; env: Record<string, string>; close(): Promise<void> }> {
  const slack = await startFakeSlack({ rateLimit: false, channels: [ALERT_CHANNEL, ...slackChannels] });
  const discord = await startFakeDiscord({ rateLimit: false });
  return {
    slack,
    discord,
    env: {
      SLACK_BOT_TOKEN: slack.token,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_ALERT_CHANNEL: ALERT_CHANNEL,
      SLACK_API_URL: slack.url,
      DISCORD_BOT_TOKEN: discord.token,
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_ALERT_CHANNEL_ID: DEFAULT_CHANNEL_ID,
      DISCORD_PUBLIC_KEY: createTestKeyPair().publicKeyHex,
      DISCORD_API_URL: discord.url,
    },
    async close() {
      await slack.close();
      await discord.close();
    },
  };
}
