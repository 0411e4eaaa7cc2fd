import { createHash } from 'node:crypto';
import type { Client } from '@larksuiteoapi/node-sdk';
import { z } from 'zod';
import type { Card, ThreadMessage } from '../../core/card.js';
import { ChatDeliveryError, type ChatPacing, type ChatPlatform, type ChatUser, type MessageRef, type PostOptions } from '../../core/ports/chat-platform.js';
import { answerError, FEISHU_TOKEN_REFUSED, feishuCode, toDeliveryError } from './errors.js';
import { renderCard, renderReply, type FeishuCard } from './render.js';

const USER_CACHE_MS = 60_000;
const TIMEOUT_MS = 10_000;

/** The part of the SDK's Client the platform uses: its generic, token-handling request. */
export type LarkClient = Pick<Client, 'request'>;

const Answer = z.looseObject({ code: z.number().optional(), msg: z.string().optional(), data: z.unknown().optional() });
const Sent = z.looseObject({ message_id: z.string().min(1) });
const User = z.looseObject({ user: z.looseObject({ name: z.string().optional(), department_ids: z.array(z.string()).default([]) }) });

/**
 * Feishu's own idempotency: messages created with the same `uuid` within an hour are sent once
 * (a repeated create answers with the first message). The outbox's delivery key, hashed to fit
 * the uuid's 50 characters.
 */
export function deliveryUuid(key: string | undefined): { uuid?: string } {
  return key === undefined ? {} : { uuid: createHash('sha256').update(key).digest('hex').slice(0, 40) };
}

/**
 * The ChatPlatform on a Feishu/Lark custom app's bot: cards are shared interactive cards, replies
 * go into the card's thread (reply_in_thread), private answers are ephemeral cards only the user
 * sees in the chat. No findDelivered: a create retried with the same uuid is recognised by Feishu
 * itself (for an hour; later than that a post in doubt may show up twice).
 */
export class FeishuPlatform implements ChatPlatform {
  readonly name = 'feishu';
  /** A bot may send 5 messages a second and 100 a minute to one chat. */
  readonly pacing: ChatPacing = { messagesPerSecond: 100 / 60, burst: 5 };
  private readonly users = new Map<string, { user: ChatUser; until: number }>();

  private readonly clock: () => number;

  constructor(
    private readonly client: LarkClient,
    private readonly options: { clock?: () => number; tokens?: { clear(): void } } = {},
  ) {
    this.clock = options.clock ?? Date.now;
  }

  private async call(operation: string, method: 'GET' | 'POST' | 'PATCH', url: string, data?: unknown, params?: Record<string, string>): Promise<unknown> {
    let answer: unknown;
    try {
      answer = await this.client.request({ method, url, data, params, timeout: TIMEOUT_MS });
    } catch (error) {
      // A refused token is dropped, so that the retry fetches a new one.
      const code = feishuCode(error);
      if (code !== undefined && FEISHU_TOKEN_REFUSED.has(code)) this.options.tokens?.clear();
      throw toDeliveryError(operation, error);
    }
    const parsed = Answer.safeParse(answer);
    if (!parsed.success) throw new ChatDeliveryError(`Feishu ${operation}: unexpected answer`, {});
    if (parsed.data.code !== undefined && parsed.data.code !== 0) throw answerError(operation, { status: 200, code: parsed.data.code, msg: parsed.data.msg ?? '' });
    return parsed.data.data;
  }

  private async create(channel: string, card: FeishuCard, key: string | undefined): Promise<string> {
    const data = await this.call(
      'send message',
      'POST',
      '/open-apis/im/v1/messages',
      { receive_id: channel, msg_type: 'interactive', content: JSON.stringify(card), ...deliveryUuid(key) },
      { receive_id_type: 'chat_id' },
    );
    return this.messageId('send message', data);
  }

  private messageId(operation: string, data: unknown): string {
    const sent = Sent.safeParse(data);
    if (!sent.success) throw new ChatDeliveryError(`Feishu ${operation}: no message_id in the answer`, {});
    return sent.data.message_id;
  }

  async postCard(channel: string, card: Card, options: PostOptions = {}): Promise<MessageRef> {
    const id = await this.create(channel, renderCard(card), options.deliveryKey);
    return { platform: this.name, channel, messageId: id, threadId: id };
  }

  async updateCard(ref: MessageRef, card: Card): Promise<void> {
    await this.call('update card', 'PATCH', `/open-apis/im/v1/messages/${encodeURIComponent(ref.messageId)}`, { content: JSON.stringify(renderCard(card)) });
  }

  async postMessage(channel: string, message: ThreadMessage, options: PostOptions = {}): Promise<MessageRef> {
    const id = await this.create(channel, renderReply(message.text, message.buttons, message.menu), options.deliveryKey);
    return { platform: this.name, channel, messageId: id, threadId: id };
  }

  /** Into the card's thread; every reply is a card, so that its buttons can be taken away later. */
  async reply(thread: MessageRef, message: ThreadMessage, options: PostOptions = {}): Promise<MessageRef> {
    const data = await this.call('send reply', 'POST', `/open-apis/im/v1/messages/${encodeURIComponent(thread.threadId)}/reply`, {
      msg_type: 'interactive',
      content: JSON.stringify(renderReply(message.text, message.buttons, message.menu)),
      reply_in_thread: true,
      ...deliveryUuid(options.deliveryKey),
    });
    return { platform: this.name, channel: thread.channel, messageId: this.messageId('send reply', data), threadId: thread.threadId };
  }

  async updateMessage(ref: MessageRef, message: ThreadMessage): Promise<void> {
    await this.call('update reply', 'PATCH', `/open-apis/im/v1/messages/${encodeURIComponent(ref.messageId)}`, { content: JSON.stringify(renderReply(message.text, message.buttons, message.menu)) });
  }

  /** An ephemeral card: shown in the chat to this user only. */
  async tellUser(user: string, where: { channel: string; threadId?: string }, text: string): Promise<void> {
    await this.call('send ephemeral card', 'POST', '/open-apis/ephemeral/v1/send', { chat_id: where.channel, open_id: user, msg_type: 'interactive', card: renderReply(text) });
  }

  /** Name and departments from the contact API (needs contact:user.base:readonly and the department scope), cached for a minute. */
  async resolveUser(openId: string): Promise<ChatUser> {
    const now = this.clock();
    const cached = this.users.get(openId);
    if (cached && cached.until > now) return cached.user;
    let user: ChatUser;
    try {
      const data = User.safeParse(await this.call('get user', 'GET', `/open-apis/contact/v3/users/${encodeURIComponent(openId)}`, undefined, { user_id_type: 'open_id', department_id_type: 'open_department_id' }));
      user = { id: openId, name: (data.success && data.data.user.name) || openId, groups: data.success ? data.data.user.department_ids : [] };
    } catch (error) {
      // Outside the app's contact range, or no permission: no groups, the least rights.
      if (!(error instanceof ChatDeliveryError && error.details.permanent)) throw error;
      user = { id: openId, name: openId, groups: [] };
    }
    this.users.set(openId, { user, until: now + USER_CACHE_MS });
    return user;
  }
}
