import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { Card, ThreadMessage } from '../../core/card.js';
import type { ChatDigest, ChatPacing, ChatPlatform, ChatUser, MessageRef, PostOptions } from '../../core/ports/chat-platform.js';
import { deliveryMetadata, findByDeliveryKey } from './delivery.js';
import { slackDigest } from './digest.js';
import { toDeliveryError } from './errors.js';
import { cardFallbackText, renderCardBlocks, renderThreadMessage } from './render.js';

const USER_CACHE_MS = 60_000;

export interface SlackPlatformOptions {
  /**
   * The client chat.postMessage goes through; the main client when absent. It should not retry by
   * itself: a retried post whose first answer was lost is a second message, while the outbox
   * retries after looking for the first one (findDelivered).
   */
  postClient?: webApi.WebClient | undefined;
  clock?: () => number;
  /** Told once when earlier posts cannot be looked up (missing scope, bot not in the channel). */
  log?: Pick<Logger, 'warn'> | undefined;
  /** Slack's limits (slackPacing) unless given: tests scale them down to see them at work quickly. */
  pacing?: ChatPacing | undefined;
}

/**
 * chat.postMessage is limited to about one message per second per channel, with short bursts;
 * chat.update is a tier 3 method (about 50 calls a minute for the workspace, bursts allowed).
 * A new object each time: each platform owns its own.
 */
export const slackPacing = (): ChatPacing => ({ messagesPerSecond: 1, burst: 3, updates: { perMinute: 50, burst: 20 } });

/** The ChatPlatform on Slack's Web API. Every call goes through the given WebClient (its base URL is configurable). */
export class SlackPlatform implements ChatPlatform {
  readonly name = 'slack';
  readonly pacing: ChatPacing;
  readonly digest: ChatDigest;
  private readonly users = new Map<string, { user: ChatUser; until: number }>();
  private groups: { members: Map<string, string[]>; until: number } | undefined;
  private readonly postClient: webApi.WebClient;
  private readonly clock: () => number;
  /** Look-up refusals already logged (each is logged once). */
  private readonly lookupRefusals = new Set<string>();

  constructor(
    private readonly client: webApi.WebClient,
    private readonly options: SlackPlatformOptions = {},
  ) {
    this.postClient = options.postClient ?? client;
    this.clock = options.clock ?? Date.now;
    this.pacing = options.pacing ?? slackPacing();
    this.digest = slackDigest(this.postClient, client);
  }

  private async call<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toDeliveryError(operation, error);
    }
  }

  /** Posts the card; its delivery key goes along as message metadata, for findDelivered. */
  async postCard(channel: string, card: Card, options: PostOptions = {}): Promise<MessageRef> {
    const res = await this.call('chat.postMessage', () =>
      this.postClient.chat.postMessage({
        channel,
        text: cardFallbackText(card),
        blocks: renderCardBlocks(card),
        unfurl_links: false,
        ...deliveryMetadata(options.deliveryKey),
      }),
    );
    const ts = res.ts;
    if (!ts) throw toDeliveryError('chat.postMessage', new Error('no ts in answer'));
    return { platform: this.name, channel: res.channel ?? channel, messageId: ts, threadId: ts };
  }

  async updateCard(ref: MessageRef, card: Card): Promise<void> {
    // No metadata argument: chat.update keeps the message's metadata (the delivery key) as it is.
    await this.call('chat.update', () =>
      this.client.chat.update({ channel: ref.channel, ts: ref.messageId, text: cardFallbackText(card), blocks: renderCardBlocks(card) }),
    );
  }

  /** A message of its own in the channel (scheduled jobs), rendered and keyed like a thread reply. */
  async postMessage(channel: string, message: ThreadMessage, options: PostOptions = {}): Promise<MessageRef> {
    const res = await this.call('chat.postMessage', () =>
      this.postClient.chat.postMessage({ channel, unfurl_links: false, ...renderThreadMessage(message), ...deliveryMetadata(options.deliveryKey) }),
    );
    const ts = res.ts;
    if (!ts) throw toDeliveryError('chat.postMessage', new Error('no ts in answer'));
    return { platform: this.name, channel: res.channel ?? channel, messageId: ts, threadId: ts };
  }

  async reply(thread: MessageRef, message: ThreadMessage, options: PostOptions = {}): Promise<MessageRef> {
    const rendered = renderThreadMessage(message);
    const res = await this.call('chat.postMessage', () =>
      this.postClient.chat.postMessage({
        channel: thread.channel,
        thread_ts: thread.threadId,
        unfurl_links: false,
        ...rendered,
        ...deliveryMetadata(options.deliveryKey),
      }),
    );
    return { platform: this.name, channel: thread.channel, messageId: res.ts ?? '', threadId: thread.threadId };
  }

  /** Edits a reply in place; `blocks: []` clears its buttons (chat.update keeps blocks left out). */
  async updateMessage(ref: MessageRef, message: ThreadMessage): Promise<void> {
    const rendered = renderThreadMessage(message);
    await this.call('chat.update', () => this.client.chat.update({ channel: ref.channel, ts: ref.messageId, text: rendered.text, blocks: rendered.blocks ?? [] }));
  }

  /**
   * The card (channel history) or thread reply (the thread's replies) posted with `key`. A refusal
   * to read (missing_scope, not_in_channel, …) means "cannot tell": undefined, logged once, and the
   * outbox posts again. A rate limit, timeout or 5xx throws, so the outbox looks again later.
   */
  async findDelivered(channel: string, key: string, thread?: MessageRef, queuedAt?: Date): Promise<MessageRef | undefined> {
    const operation = thread ? 'conversations.replies' : 'conversations.history';
    let ts: string | undefined;
    try {
      ts = await findByDeliveryKey(this.client, { channel, key, threadTs: thread?.threadId, queuedAt });
    } catch (error) {
      const e = toDeliveryError(operation, error);
      // Rate limited, timed out, 5xx: ask again later rather than risk a second post.
      if (e.details.retryAfterMs !== undefined || !(e.details.refused || e.details.permanent)) throw e;
      if (!this.lookupRefusals.has(e.message)) {
        this.lookupRefusals.add(e.message);
        this.options.log?.warn(
          { error: e.message },
          'cannot look up earlier posts on Slack (needs the channels:history and groups:history scopes, and the bot in the channel); a post whose answer was lost may be repeated',
        );
      }
      return undefined;
    }
    if (ts === undefined) return undefined;
    return thread
      ? { platform: this.name, channel, messageId: ts, threadId: thread.threadId }
      : { platform: this.name, channel, messageId: ts, threadId: ts };
  }

  async tellUser(user: string, where: { channel: string; threadId?: string }, text: string): Promise<void> {
    const { text: safe } = renderThreadMessage({ text });
    await this.call('chat.postEphemeral', () =>
      this.client.chat.postEphemeral({ channel: where.channel, user, text: safe, ...(where.threadId ? { thread_ts: where.threadId } : {}) }),
    );
  }

  async resolveUser(userId: string): Promise<ChatUser> {
    const now = this.clock();
    const cached = this.users.get(userId);
    if (cached && cached.until > now) return cached.user;
    const info = await this.call('users.info', () => this.client.users.info({ user: userId }));
    const profile = info.user?.profile;
    const name = profile?.display_name || info.user?.real_name || info.user?.name || userId;
    const groups = [...(await this.groupMembers()).entries()].filter(([, members]) => members.includes(userId)).map(([id]) => id);
    const user = { id: userId, name, groups };
    this.users.set(userId, { user, until: now + USER_CACHE_MS });
    return user;
  }

  /** User groups with their members, cached briefly; without the usergroups:read scope there are none. */
  private async groupMembers(): Promise<Map<string, string[]>> {
    const now = this.clock();
    if (this.groups && this.groups.until > now) return this.groups.members;
    let members = new Map<string, string[]>();
    try {
      const res = await this.client.usergroups.list({ include_users: true });
      members = new Map((res.usergroups ?? []).map((g) => [g.id ?? '', g.users ?? []]));
    } catch (error) {
      const e = toDeliveryError('usergroups.list', error);
      if (!e.details.permanent) throw e;
    }
    this.groups = { members, until: now + USER_CACHE_MS };
    return members;
  }
}
