import { expect } from 'vitest';
import { startFakeDiscord, type FakeDiscord, type StoredMessage as DiscordMessage } from '../fakes/discord-api.js';
import { DEFAULT_CHANNEL_ID, DEFAULT_MEMBERS, DEFAULT_ROLE_IDS, commandInteraction, componentInteraction, createTestKeyPair, interactionToken, signInteraction } from '../fakes/discord-signing.js';
import { startFakeSlack, type FakeSlack, type StoredMessage as SlackMessage } from '../fakes/slack-api.js';
import { blockActionsBody, signSlackRequest, slashCommandBody } from '../fakes/slack-signing.js';
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
  /** The buttons shown on the message (a card's primary ones). */
  buttonIds: string[];
  /** The button ids a card's "More steps" menu offers, in order. */
  menuIds: string[];
  /** Button or menu option id → whether the platform shows it as dangerous. */
  danger: Record<string, boolean>;
}

/** A changing step's option in a select: the warning sign renderers put before its label. */
export const DANGER_SIGN = '⚠️';

export interface ChatDriver {
  readonly platform: 'slack' | 'discord' | 'dingtalk' | 'feishu' | 'console';
  /** Environment for the bot: the platform pointed at the fake, bob allowed to approve. */
  botEnv(): Record<string, string>;
  /** The bot's base URL, for presses. */
  attach(botUrl: string): void;
  cards(): ChatMessage[];
  /** The current version of a card. */
  card(id: string): ChatMessage | undefined;
  replies(card: ChatMessage): ChatMessage[];
  /**
   * Every version of every reply in the card's thread, earlier versions (before an edit) included,
   * oldest first per message. Slack's and Discord's fakes keep each edit's previous version.
   */
  repliesEver?(card: ChatMessage): ChatMessage[];
  press(user: UserName, buttonId: string, on: ChatMessage, card: ChatMessage): Promise<{ status: number; ms: number }>;
  /**
   * A choice in the "More steps" menu of `on`, as the platform sends it (Slack: a block_actions
   * static_select; Discord: a string select interaction; Feishu: a select_static callback;
   * DingTalk, whose cards have no menus, and the console: a press on the menu's button).
   */
  choose(user: UserName, optionId: string, on: ChatMessage, card: ChatMessage): Promise<{ status: number; ms: number }>;
  /**
   * A slash command typed by `user` in the alert channel, as the platform sends it (Slack: a signed
   * form with a response_url; Discord: a signed APPLICATION_COMMAND with options), and the private
   * answer the bot gave it. `line` is what a Slack user types after `/name`; for Discord it is
   * turned into the subcommand and options Discord's client would send.
   */
  command(user: UserName, name: 'incident' | 'runbook', line: string): Promise<{ status: number; ms: number; reply: string }>;
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
  const elementsOf = (m: SlackMessage) => m.blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements as Array<Record<string, unknown>>);
  const optionsOf = (m: SlackMessage) =>
    elementsOf(m)
      .filter((e) => e.type === 'static_select')
      .flatMap((e) => (e.options as Array<{ value: string; text: { text: string } }>).map((o) => ({ select: String(e.action_id), value: o.value, text: o.text.text })));
  const view = (m: SlackMessage): ChatMessage => {
    const buttons = elementsOf(m).filter((e) => e.type === 'button');
    const options = optionsOf(m);
    return {
      id: m.ts,
      text: normalise(`${m.text}\n${JSON.stringify(m.blocks)}`),
      buttonIds: buttons.map((b) => String(b.action_id)),
      menuIds: options.map((o) => o.value),
      danger: Object.fromEntries([
        ...buttons.map((b): [string, boolean] => [String(b.action_id), b.style === 'danger' && b.confirm !== undefined]),
        ...options.map((o): [string, boolean] => [o.value, o.text.startsWith(DANGER_SIGN)]),
      ]),
    };
  };
  const send = async (user: UserName, on: ChatMessage, card: ChatMessage, action: { actionId: string; value: string; selectedOption?: { value: string; text: string } }) => {
    const who = SLACK_USERS[user];
    const body = blockActionsBody({ user: who, channel: ALERT_CHANNEL, messageTs: on.id, ...(on.id !== card.id ? { threadTs: card.id } : {}), ...action });
    const started = performance.now();
    const res = await fetch(`${url}/slack/events`, { method: 'POST', headers: { ...signSlackRequest(SIGNING_SECRET, body, Math.floor(Date.now() / 1000)) }, body });
    await res.text();
    return { status: res.status, ms: performance.now() - started };
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
    repliesEver: (card) => slack.threadReplies(ALERT_CHANNEL, card.id).flatMap((m) => [...m.history.map((v) => view({ ...m, ...v })), view(m)]),
    press: (user, buttonId, on, card) => send(user, on, card, { actionId: buttonId, value: buttonId }),
    async choose(user, optionId, on, card) {
      const m = slack.message(ALERT_CHANNEL, on.id) ?? slack.threadReplies(ALERT_CHANNEL, card.id).find((r) => r.ts === on.id);
      const option = m && optionsOf(m).find((o) => o.value === optionId);
      if (!option) throw new Error(`no menu option ${optionId} on message ${on.id}`);
      return send(user, on, card, { actionId: option.select, value: '', selectedOption: { value: option.value, text: option.text } });
    },
    async command(user, name, line) {
      const responseUrl = slack.responseUrl();
      const path = new URL(responseUrl).pathname;
      const who = SLACK_USERS[user];
      const body = slashCommandBody({ command: `/${name}`, text: line, user_id: who.id, user_name: who.name, channel_id: ALERT_CHANNEL, response_url: responseUrl });
      const started = performance.now();
      const res = await fetch(`${url}/slack/events`, { method: 'POST', headers: { ...signSlackRequest(SIGNING_SECRET, body, Math.floor(Date.now() / 1000)) }, body });
      await res.text();
      const ms = performance.now() - started;
      const answer = await slack.waitFor(() => slack.responses.find((r) => r.path === path), 15_000, `the answer to /${name} ${line}`);
      expect(answer.responseType).toBe('ephemeral');
      return { status: res.status, ms, reply: normalise(answer.text) };
    },
    privateTexts: (user) => slack.ephemerals.filter((e) => e.user === SLACK_USERS[user].id).map((e) => normalise(e.text)),
    waitFor: (predicate, timeoutMs, description) => slack.waitFor(predicate, timeoutMs, description),
    close: () => slack.close(),
  };
}

/** Where each word of a typed command goes in Discord's options, as manifests/discord-commands.json declares them. */
const DISCORD_POSITIONS: Record<string, { names: string[]; rest?: string; integers: string[] }> = {
  'incident list': { names: [], integers: [] },
  'incident show': { names: ['id'], integers: ['id'] },
  'incident ack': { names: ['id'], integers: ['id'] },
  'incident resolve': { names: ['id'], rest: 'note', integers: ['id'] },
  'incident timeline': { names: ['id'], integers: ['id'] },
  'incident silence': { names: ['id', 'duration'], integers: ['id'] },
  'runbook list': { names: [], integers: [] },
  'runbook show': { names: ['name'], integers: [] },
  'runbook run': { names: ['name', 'step'], rest: 'params', integers: ['incident'] },
  'runbook dry-run': { names: ['name', 'step'], rest: 'params', integers: ['incident'] },
};

/**
 * The options Discord's client sends for a typed line. Discord's client itself refuses a
 * non-integer in an integer option, so such words are sent as they are only in string options.
 */
function discordOptions(name: string, line: string): Array<{ name: string; type: number; options?: Array<{ name: string; type: number; value: string | number | boolean }> }> {
  const words = line.split(/\s+/).filter(Boolean);
  const sub = words.shift() ?? '';
  const spec = DISCORD_POSITIONS[`${name} ${sub}`];
  if (!spec) return [{ name: sub, type: 1 }];
  const values: Array<{ name: string; type: number; value: string | number | boolean }> = [];
  const flag = words.indexOf('--incident');
  if (flag >= 0) {
    values.push({ name: 'incident', type: 4, value: Number(words[flag + 1]) });
    words.splice(flag, 2);
  }
  // `--confirm` is the boolean option `confirm` (type 5) where the command declares it.
  const confirm = words.indexOf('--confirm');
  if (confirm >= 0 && `${name} ${sub}` === 'runbook run') {
    values.push({ name: 'confirm', type: 5, value: true });
    words.splice(confirm, 1);
  }
  for (const option of spec.names) {
    const word = words.shift();
    if (word !== undefined) values.push({ name: option, type: spec.integers.includes(option) ? 4 : 3, value: spec.integers.includes(option) ? Number(word) : word });
  }
  if (spec.rest && words.length > 0) values.push({ name: spec.rest, type: 3, value: words.join(' ') });
  return [{ name: sub, type: 1, options: values }];
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
  const componentsOf = (m: DiscordMessage) => m.components.flatMap((row) => (row.components as Array<Record<string, unknown>> | undefined) ?? []);
  const optionsOf = (m: DiscordMessage) =>
    componentsOf(m)
      .filter((c) => c.type === 3)
      .flatMap((c) => (c.options as Array<{ value: string; label: string }>).map((o) => ({ select: String(c.custom_id), value: o.value, label: o.label })));
  const view = (m: DiscordMessage): ChatMessage => {
    const buttons = componentsOf(m).filter((c) => c.type === 2);
    const options = optionsOf(m);
    return {
      id: m.id,
      text: normalise(`${m.content}\n${JSON.stringify(m.embeds)}`),
      buttonIds: buttons.map((b) => String(b.custom_id)),
      menuIds: options.map((o) => o.value),
      danger: Object.fromEntries([
        ...buttons.map((b): [string, boolean] => [String(b.custom_id), b.style === 4]),
        ...options.map((o): [string, boolean] => [o.value, o.label.startsWith(DANGER_SIGN)]),
      ]),
    };
  };
  const interact = async (user: UserName, on: ChatMessage, card: ChatMessage, component: { customId: string; componentType?: number; values?: string[] }) => {
    const token = interactionToken();
    tokens.set(token, user);
    const userId = DISCORD_USERS[user];
    const member = DEFAULT_MEMBERS[userId];
    const channelId = on.id === card.id ? DEFAULT_CHANNEL_ID : card.id;
    discord.registerInteraction(token, { messageId: on.id, channelId, initialResponse: 6 });
    const body = JSON.stringify(
      componentInteraction({ token, ...component, userId, username: user, roles: member?.roles ?? [], channelId, messageId: on.id, guildId: discord.guildId, applicationId: discord.applicationId }),
    );
    const started = performance.now();
    const res = await fetch(`${url}/discord/interactions`, { method: 'POST', headers: signInteraction(keys.privateKey, body), body });
    await res.text();
    return { status: res.status, ms: performance.now() - started };
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
    repliesEver: (card) => discord.thread(card.id).flatMap((m) => [...m.history.map((v) => view({ ...m, ...v })), view(m)]),
    press: (user, buttonId, on, card) => interact(user, on, card, { customId: buttonId }),
    async choose(user, optionId, on, card) {
      const m = discord.message(on.id);
      const option = m && optionsOf(m).find((o) => o.value === optionId);
      if (!option) throw new Error(`no menu option ${optionId} on message ${on.id}`);
      return interact(user, on, card, { customId: option.select, componentType: 3, values: [option.value] });
    },
    async command(user, name, line) {
      const token = interactionToken();
      const userId = DISCORD_USERS[user];
      const member = DEFAULT_MEMBERS[userId];
      discord.registerInteraction(token, { channelId: DEFAULT_CHANNEL_ID, initialResponse: 5 });
      const body = JSON.stringify(
        commandInteraction({ token, name, options: discordOptions(name, line), userId, username: user, roles: member?.roles ?? [], channelId: DEFAULT_CHANNEL_ID, guildId: discord.guildId, applicationId: discord.applicationId }),
      );
      const started = performance.now();
      const res = await fetch(`${url}/discord/interactions`, { method: 'POST', headers: signInteraction(keys.privateKey, body), body });
      const answer = (await res.json()) as { type: number; data?: { flags?: number } };
      const ms = performance.now() - started;
      // Deferred, privately: the "thinking…" message and the answer that replaces it are the user's only.
      expect(answer).toEqual({ type: 5, data: { flags: 64 } });
      const original = await discord.waitFor(() => discord.original(token), 15_000, `the answer to /${name} ${line}`);
      return { status: res.status, ms, reply: normalise(original.content) };
    },
    privateTexts: (user) => discord.followUps().filter((f) => f.ephemeral && tokens.get(f.token) === user).map((f) => normalise(f.content)),
    waitFor: (predicate, timeoutMs, description) => discord.waitFor(predicate, timeoutMs, description),
    close: () => discord.close(),
  };
}
