import { startFakeDiscord, type FakeDiscord, type StoredMessage as DiscordMessage } from '../fakes/discord-api.js';
import { DEFAULT_CHANNEL_ID, DEFAULT_MEMBERS, DEFAULT_ROLE_IDS, componentInteraction, createTestKeyPair, interactionToken, signInteraction } from '../fakes/discord-signing.js';
import { startFakeSlack, type FakeSlack, type StoredMessage as SlackMessage } from '../fakes/slack-api.js';
import { blockActionsBody, signSlackRequest } from '../fakes/slack-signing.js';
import { ALERT_CHANNEL, SIGNING_SECRET } from './bot-harness.js';

/**
 * One end-to-end scenario, any chat platform: a driver hides how a platform's fake shows cards,
 * threads and private answers, and how a press is signed and sent. Texts are normalised (no
 * emphasis markers, no escapes) so assertions read the same on every platform.
 */
export type UserName = 'alice' | 'bob' | 'carol';

export interface ChatMessage {
  id: string;
  /** Everything the message shows, normalised. */
  text: string;
  buttonIds: string[];
  /** Button id → whether the platform shows it as dangerous. */
  danger: Record<string, boolean>;
}

export interface ChatDriver {
  readonly platform: 'slack' | 'discord';
  /** Environment for the bot: the platform pointed at the fake, bob allowed to approve. */
  botEnv(): Record<string, string>;
  /** The bot's base URL, for presses. */
  attach(botUrl: string): void;
  cards(): ChatMessage[];
  /** The current version of a card. */
  card(id: string): ChatMessage | undefined;
  replies(card: ChatMessage): ChatMessage[];
  press(user: UserName, buttonId: string, on: ChatMessage, card: ChatMessage): Promise<{ status: number; ms: number }>;
  /** What the bot told this user privately, oldest first. */
  privateTexts(user: UserName): string[];
  waitFor<T>(predicate: () => T, timeoutMs: number, description: string): Promise<NonNullable<T>>;
  close(): Promise<void>;
}

/** Drops emphasis markers, escapes and entities, so "*Restart*", "**Restart**" and "\\[x\\]" all read plainly. */
export function normalise(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\\([\\`*_{}[\]()#+\-.!<>|~])/g, '$1')
    .replace(/\*+/g, '')
    .replace(/\u200b/g, '');
}

const SLACK_USERS: Record<UserName, { id: string; name: string }> = {
  alice: { id: 'U0ALICE', name: 'alice' },
  bob: { id: 'U0BOB', name: 'bob' },
  carol: { id: 'U0CAROL', name: 'carol' },
};

export async function slackDriver(): Promise<ChatDriver> {
  const slack: FakeSlack = await startFakeSlack({ usergroups: { S0ONCALL: ['U0BOB'] } });
  let url = '';
  const view = (m: SlackMessage): ChatMessage => {
    const buttons = m.blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements as Array<Record<string, unknown>>);
    return {
      id: m.ts,
      text: normalise(`${m.text}\n${JSON.stringify(m.blocks)}`),
      buttonIds: buttons.map((b) => String(b.action_id)),
      danger: Object.fromEntries(buttons.map((b) => [String(b.action_id), b.style === 'danger' && b.confirm !== undefined])),
    };
  };
  return {
    platform: 'slack',
    botEnv: () => ({ SLACK_BOT_TOKEN: slack.token, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_ALERT_CHANNEL: ALERT_CHANNEL, SLACK_API_URL: slack.url, APPROVERS: 'S0ONCALL' }),
    attach: (botUrl) => void (url = botUrl),
    cards: () => slack.topLevel(ALERT_CHANNEL).map(view),
    card: (id) => {
      const m = slack.message(ALERT_CHANNEL, id);
      return m && view(m);
    },
    replies: (card) => slack.threadReplies(ALERT_CHANNEL, card.id).map(view),
    async press(user, buttonId, on, card) {
      const who = SLACK_USERS[user];
      const body = blockActionsBody({ user: who, channel: ALERT_CHANNEL, messageTs: on.id, ...(on.id !== card.id ? { threadTs: card.id } : {}), actionId: buttonId, value: buttonId });
      const started = performance.now();
      const res = await fetch(`${url}/slack/events`, { method: 'POST', headers: { ...signSlackRequest(SIGNING_SECRET, body, Math.floor(Date.now() / 1000)) }, body });
      await res.text();
      return { status: res.status, ms: performance.now() - started };
    },
    privateTexts: (user) => slack.ephemerals.filter((e) => e.user === SLACK_USERS[user].id).map((e) => normalise(e.text)),
    waitFor: (predicate, timeoutMs, description) => slack.waitFor(predicate, timeoutMs, description),
    close: () => slack.close(),
  };
}

const DISCORD_USERS: Record<UserName, string> = {
  alice: '1200000000000000001',
  bob: '1200000000000000002',
  carol: '1200000000000000003',
};

export async function discordDriver(): Promise<ChatDriver> {
  const discord: FakeDiscord = await startFakeDiscord({ rateLimit: false });
  const keys = createTestKeyPair();
  const tokens = new Map<string, UserName>();
  let url = '';
  const view = (m: DiscordMessage): ChatMessage => {
    const buttons = m.components.flatMap((row) => (row.components as Array<Record<string, unknown>> | undefined) ?? []);
    return {
      id: m.id,
      text: normalise(`${m.content}\n${JSON.stringify(m.embeds)}`),
      buttonIds: buttons.map((b) => String(b.custom_id)),
      danger: Object.fromEntries(buttons.map((b) => [String(b.custom_id), b.style === 4])),
    };
  };
  return {
    platform: 'discord',
    botEnv: () => ({
      DISCORD_BOT_TOKEN: discord.token,
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_ALERT_CHANNEL_ID: DEFAULT_CHANNEL_ID,
      DISCORD_PUBLIC_KEY: keys.publicKeyHex,
      DISCORD_GUILD_ID: discord.guildId,
      DISCORD_API_URL: discord.url,
      // bob holds the lead role; alice and carol do not.
      APPROVERS: DEFAULT_ROLE_IDS.lead,
    }),
    attach: (botUrl) => void (url = botUrl),
    cards: () => discord.messages(DEFAULT_CHANNEL_ID).map(view),
    card: (id) => {
      const m = discord.message(id);
      return m && view(m);
    },
    replies: (card) => discord.thread(card.id).map(view),
    async press(user, buttonId, on, card) {
      const token = interactionToken();
      tokens.set(token, user);
      const userId = DISCORD_USERS[user];
      const member = DEFAULT_MEMBERS[userId];
      const channelId = on.id === card.id ? DEFAULT_CHANNEL_ID : card.id;
      discord.registerInteraction(token, { messageId: on.id, channelId, initialResponse: 6 });
      const body = JSON.stringify(
        componentInteraction({ token, customId: buttonId, userId, username: user, roles: member?.roles ?? [], channelId, messageId: on.id, guildId: discord.guildId, applicationId: discord.applicationId }),
      );
      const started = performance.now();
      const res = await fetch(`${url}/discord/interactions`, { method: 'POST', headers: signInteraction(keys.privateKey, body), body });
      await res.text();
      return { status: res.status, ms: performance.now() - started };
    },
    privateTexts: (user) => discord.followUps().filter((f) => f.ephemeral && tokens.get(f.token) === user).map((f) => normalise(f.content)),
    waitFor: (predicate, timeoutMs, description) => discord.waitFor(predicate, timeoutMs, description),
    close: () => discord.close(),
  };
}
