import type { webApi } from '@slack/bolt';
import type { Card, ThreadMessage } from '../../core/card.js';
import type { ChatPlatform, ChatUser, MessageRef } from '../../core/chat-platform.js';
import { toDeliveryError } from './errors.js';
import { cardFallbackText, renderCardBlocks, renderThreadMessage } from './render.js';

const USER_CACHE_MS = 60_000;

/** The ChatPlatform on Slack's Web API. Every call goes through the given WebClient (its base URL is configurable). */
export class SlackPlatform implements ChatPlatform {
  readonly name = 'slack';
  /** chat.postMessage is limited to about one message per second per channel, with short bursts. */
  readonly pacing = { messagesPerSecond: 1, burst: 3 };
  private readonly users = new Map<string, { user: ChatUser; until: number }>();
  private groups: { members: Map<string, string[]>; until: number } | undefined;

  constructor(
    private readonly client: webApi.WebClient,
    private readonly clock: () => number = Date.now,
  ) {}

  private async call<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toDeliveryError(operation, error);
    }
  }

  async postCard(channel: string, card: Card): Promise<MessageRef> {
    const res = await this.call('chat.postMessage', () =>
      this.client.chat.postMessage({ channel, text: cardFallbackText(card), blocks: renderCardBlocks(card), unfurl_links: false }),
    );
    const ts = res.ts;
    if (!ts) throw toDeliveryError('chat.postMessage', new Error('no ts in answer'));
    return { platform: this.name, channel: res.channel ?? channel, messageId: ts, threadId: ts };
  }

  async updateCard(ref: MessageRef, card: Card): Promise<void> {
    await this.call('chat.update', () =>
      this.client.chat.update({ channel: ref.channel, ts: ref.messageId, text: cardFallbackText(card), blocks: renderCardBlocks(card) }),
    );
  }

  async reply(thread: MessageRef, message: ThreadMessage): Promise<MessageRef> {
    const rendered = renderThreadMessage(message);
    const res = await this.call('chat.postMessage', () =>
      this.client.chat.postMessage({ channel: thread.channel, thread_ts: thread.threadId, unfurl_links: false, ...rendered }),
    );
    return { platform: this.name, channel: thread.channel, messageId: res.ts ?? '', threadId: thread.threadId };
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
