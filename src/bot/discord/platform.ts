import { createHash } from 'node:crypto';
import { REST, type RequestData, type RouteLike } from '@discordjs/rest';
import { Routes } from 'discord-api-types/v10';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Card, ThreadMessage } from '../../core/card.js';
import { ChatDeliveryError, type ChatDigest, type ChatPlatform, type ChatUser, type MessageRef, type PostOptions } from '../../core/ports/chat-platform.js';
import { DISCORD_ERROR, discordErrorCode, toDeliveryError } from './errors.js';
import { renderCard, renderPrivateText, renderThreadMessage, threadName } from './render.js';
import { discordDigest, type DiscordDigestCalls } from './digest.js';

const USER_CACHE_MS = 60_000;
/** Threads stay open a day without activity; a new message reopens an archived thread. */
const THREAD_ARCHIVE_MINUTES = 1440;

/** The part of @discordjs/rest the platform uses (a REST instance; tests may pass their own). */
export type DiscordRest = Pick<REST, 'get' | 'post' | 'patch'>;

export interface DiscordRestConfig {
  botToken: string;
  /** API base URL without the version, e.g. `http://127.0.0.1:4000/api`; Discord's by default. */
  apiUrl?: string | undefined;
}

/**
 * The REST client for the bot: a 429 is rejected at once (the outbox owns retries and honours the
 * delay), 5xx and timeouts are retried twice, and no call waits longer than 10 s. Retrying a
 * message create is safe because the outbox's posts carry an enforced nonce (see deliveryNonce).
 */
export function createDiscordRest(config: DiscordRestConfig): REST {
  return new REST({
    ...(config.apiUrl ? { api: config.apiUrl } : {}),
    rejectOnRateLimit: () => true,
    retries: 2,
    timeout: 10_000,
  }).setToken(config.botToken);
}

export interface DiscordPlatformOptions {
  /** The guild (server) whose members and roles `resolveUser` reads; without it users have no roles. */
  guildId?: string | undefined;
  clock?: () => number;
  /** Told when a card's thread could not be started (its first reply tries again). */
  log?: Pick<Logger, 'warn'> | undefined;
}

const Message = z.looseObject({ id: z.string().min(1), channel_id: z.string().optional() });
const Channel = z.looseObject({ id: z.string().min(1) });
const Member = z.looseObject({
  nick: z.string().nullish(),
  roles: z.array(z.string()).default([]),
  user: z.looseObject({ id: z.string(), username: z.string().optional(), global_name: z.string().nullish() }).optional(),
});

/** Discord's limit on a nonce's length. */
const NONCE_MAX_CHARS = 25;

/**
 * Discord's own idempotency for message creates: with `enforce_nonce`, a second create with the
 * same nonce by the same author within a few minutes returns the first message instead of posting
 * again. The outbox's delivery key is hashed to fit the nonce's 25 characters.
 */
export function deliveryNonce(key: string | undefined): { nonce?: string; enforce_nonce?: boolean } {
  if (key === undefined) return {};
  return { nonce: createHash('sha256').update(key).digest('hex').slice(0, NONCE_MAX_CHARS), enforce_nonce: true };
}

/**
 * The ChatPlatform on Discord's REST API: cards are embeds with buttons, each with its own thread.
 *
 * It has no findDelivered: Discord does not return a message's nonce when reading messages back,
 * and it needs none, since a repeated post with the same nonce is recognised by Discord itself
 * (deliveryNonce). That holds for a few minutes only: a post in doubt retried later than that (a
 * long outage) may show up twice, i.e. at-least-once.
 */
export class DiscordPlatform implements ChatPlatform {
  readonly name = 'discord';
  /** Discord's per-channel message bucket allows about 5 messages per 5 seconds. */
  readonly pacing = { messagesPerSecond: 1, burst: 5 };
  /** Storm digests: created like cards (with a nonce), edited on the edit route's own bucket. */
  readonly digest: ChatDigest;
  private readonly digestCalls = (): DiscordDigestCalls => ({
    create: (route, body) => this.post('create message', route, body, Message),
    edit: async (route, body) => {
      await this.call('edit message', () => this.rest.patch(route, { body }), z.unknown());
    },
    guildId: this.options.guildId,
    nonce: deliveryNonce,
  });
  private readonly users = new Map<string, { user: ChatUser; until: number }>();
  private readonly dms = new Map<string, string>();
  /** Cards where no thread can be started (permissions, channel type): their replies go to the channel. */
  private readonly threadless = new Set<string>();
  private readonly clock: () => number;

  constructor(
    private readonly rest: DiscordRest,
    private readonly options: DiscordPlatformOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.digest = discordDigest(this.digestCalls());
  }

  private async call<T>(operation: string, work: () => Promise<unknown>, schema: z.ZodType<T>): Promise<T> {
    let answer: unknown;
    try {
      answer = await work();
    } catch (error) {
      throw toDeliveryError(operation, error);
    }
    const parsed = schema.safeParse(answer);
    if (!parsed.success) throw new ChatDeliveryError(`Discord ${operation}: unexpected answer`, {}, { cause: parsed.error });
    return parsed.data;
  }

  private post<T>(operation: string, route: RouteLike, body: unknown, schema: z.ZodType<T>, extra: RequestData = {}): Promise<T> {
    return this.call(operation, () => this.rest.post(route, { ...extra, body }), schema);
  }

  /**
   * Posts the card, then starts its thread. A card whose thread could not be started is still a
   * posted card: failing here would make the outbox post it a second time, so the thread is
   * started again by the first reply that needs it.
   */
  async postCard(channel: string, card: Card, options: PostOptions = {}): Promise<MessageRef> {
    const body = { ...renderCard(card), ...deliveryNonce(options.deliveryKey) };
    const message = await this.post('create message', Routes.channelMessages(channel), body, Message);
    await this.startThread(channel, message.id, threadName(card)).catch((error: unknown) =>
      this.options.log?.warn({ err: error, channel, messageId: message.id }, 'could not start the card thread; the first reply will try again'),
    );
    return { platform: this.name, channel, messageId: message.id, threadId: message.id };
  }

  /** A message of its own in the channel (scheduled jobs): no embed, no thread; the nonce makes a retry land once. */
  async postMessage(channel: string, message: ThreadMessage, options: PostOptions = {}): Promise<MessageRef> {
    const body = { ...renderThreadMessage(message), ...deliveryNonce(options.deliveryKey) };
    const posted = await this.post('create message', Routes.channelMessages(channel), body, Message);
    return { platform: this.name, channel, messageId: posted.id, threadId: posted.id };
  }

  /** Starts the thread on a message (the thread's id is the message's); one that exists already is fine. */
  private async startThread(channel: string, messageId: string, name: string): Promise<void> {
    try {
      await this.rest.post(Routes.threads(channel, messageId), { body: { name, auto_archive_duration: THREAD_ARCHIVE_MINUTES } });
    } catch (error) {
      if (discordErrorCode(error) === DISCORD_ERROR.threadAlreadyCreated) return;
      throw toDeliveryError('start thread', error);
    }
  }

  async updateCard(ref: MessageRef, card: Card): Promise<void> {
    await this.call('edit message', () => this.rest.patch(Routes.channelMessage(ref.channel, ref.messageId), { body: renderCard(card) }), z.unknown());
  }

  /** Edits a reply in place; `components: []` removes its buttons. */
  async updateMessage(ref: MessageRef, message: ThreadMessage): Promise<void> {
    await this.call('edit message', () => this.rest.patch(Routes.channelMessage(ref.channel, ref.messageId), { body: renderThreadMessage(message) }), z.unknown());
  }

  /**
   * Posts into the card's thread (a thread is a channel whose id is the card's message id). When the
   * thread is missing (never started, or deleted) it is started now; when no thread can exist there
   * (no permission, a channel type without threads), the reply goes to the channel as a reply to
   * the card, so that nothing is lost.
   */
  async reply(thread: MessageRef, message: ThreadMessage, options: PostOptions = {}): Promise<MessageRef> {
    // The same nonce wherever the reply goes: only one of the places below ever takes it.
    const body = { ...renderThreadMessage(message), ...deliveryNonce(options.deliveryKey) };
    // The ref names the channel the reply is in (the thread is a channel of its own), for updateMessage.
    const sent = (m: { id: string; channel_id?: string | undefined }, where: string): MessageRef => ({
      platform: this.name,
      channel: m.channel_id ?? where,
      messageId: m.id,
      threadId: thread.threadId,
    });
    const inChannel = async () =>
      sent(
        await this.post(
          'send channel reply',
          Routes.channelMessages(thread.channel),
          { ...body, message_reference: { message_id: thread.messageId, fail_if_not_exists: false } },
          Message,
        ),
        thread.channel,
      );
    const inThread = async () => sent(await this.post('send thread message', Routes.channelMessages(thread.threadId), body, Message), thread.threadId);

    if (this.threadless.has(thread.threadId)) return inChannel();
    try {
      return await inThread();
    } catch (error) {
      const unknownChannel = error instanceof ChatDeliveryError && discordErrorCode(error.cause) === DISCORD_ERROR.unknownChannel;
      if (!unknownChannel || thread.threadId !== thread.messageId) throw error;
    }
    try {
      await this.startThread(thread.channel, thread.messageId, 'Incident thread');
    } catch (error) {
      if (!(error instanceof ChatDeliveryError && error.details.permanent)) throw error;
      // Remembered (until restart) so later replies do not ask again each time.
      this.threadless.add(thread.threadId);
      return inChannel();
    }
    return inThread();
  }

  /**
   * Discord has ephemeral ("only you can see this") messages only as answers to an interaction.
   * Button presses answer through the interaction (ButtonPress.tellPrivately); without one, the
   * only private place is a direct message, so this opens a DM and says where it is about.
   */
  async tellUser(user: string, where: { channel: string; threadId?: string }, text: string): Promise<void> {
    let dm = this.dms.get(user);
    if (!dm) {
      dm = (await this.post('open DM', Routes.userChannels(), { recipient_id: user }, Channel)).id;
      this.dms.set(user, dm);
    }
    const about = `\n— about <#${where.threadId ?? where.channel}>`;
    const content = `${renderPrivateText(text, 2000 - about.length)}${about}`;
    await this.post('send DM', Routes.channelMessages(dm), { content, allowed_mentions: { parse: [] } }, Message);
  }

  /** Name and roles from the guild member, cached for a minute; without a guild, the id and no roles. */
  async resolveUser(userId: string): Promise<ChatUser> {
    const guildId = this.options.guildId;
    if (!guildId) return { id: userId, name: userId, groups: [] };
    const now = this.clock();
    const cached = this.users.get(userId);
    if (cached && cached.until > now) return cached.user;
    let user: ChatUser;
    try {
      const member = await this.call('get member', () => this.rest.get(Routes.guildMember(guildId, userId)), Member);
      user = { id: userId, name: member.nick || member.user?.global_name || member.user?.username || userId, groups: member.roles };
    } catch (error) {
      // Not a member (any more): no roles, which the approval policy treats as the least rights.
      if (!(error instanceof ChatDeliveryError && discordErrorCode(error.cause) === DISCORD_ERROR.unknownMember)) throw error;
      user = { id: userId, name: userId, groups: [] };
    }
    this.users.set(userId, { user, until: now + USER_CACHE_MS });
    return user;
  }
}
