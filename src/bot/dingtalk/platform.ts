import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Card, ThreadMessage } from '../../core/card.js';
import { ChatDeliveryError, type ChatPacing, type ChatPlatform, type ChatUser, type MessageRef } from '../../core/ports/chat-platform.js';
import type { DingTalkApi } from './api.js';
import { RobotLimiter } from './limits.js';
import { cardTitle, renderCard, renderPrivate, renderReply, type StandardCard } from './render.js';

const USER_CACHE_MS = 60_000;
/** Card titles remembered for the quote replies open with; after a restart older threads quote none. */
const TITLES_KEPT = 1000;

export interface DingTalkPlatformOptions {
  /** The robot's code (for an enterprise internal app's robot, its Client ID). */
  robotCode: string;
  /** The robot's limit (DingTalk: 20 a minute). */
  messagesPerMinute: number;
  clock?: () => number;
}

/** A card's id (cardBizId), ours to choose; a reply's starts with its card's, so a press names its thread. */
export const newCardId = (): string => `inc${randomBytes(9).toString('base64url')}`;
export const replyId = (thread: string): string => `${thread}.${randomBytes(6).toString('base64url')}`;
/** The card a card or reply id belongs to. */
export const threadOf = (cardId: string): string => cardId.split('.')[0] ?? cardId;

const UserAnswer = z.looseObject({
  result: z.looseObject({
    name: z.string().optional(),
    dept_id_list: z.array(z.union([z.number(), z.string()])).default([]),
    role_list: z.array(z.looseObject({ id: z.union([z.number(), z.string()]) })).default([]),
  }),
});

/**
 * The ChatPlatform on an enterprise internal app's robot. Cards and replies are StandardCards
 * (interactive, so every one can be updated and its buttons removed); replies quote their card,
 * since robots cannot post in threads; private answers are one-to-one robot messages.
 *
 * It has no findDelivered: DingTalk cannot list a group's messages to a robot, so a post whose
 * answer was lost is posted again (at-least-once).
 */
export class DingTalkPlatform implements ChatPlatform {
  readonly name = 'dingtalk';
  readonly pacing: ChatPacing;
  private readonly limiter: RobotLimiter;
  private readonly titles = new Map<string, string>();
  private readonly users = new Map<string, { user: ChatUser; until: number }>();
  private readonly clock: () => number;

  constructor(
    private readonly api: DingTalkApi,
    private readonly options: DingTalkPlatformOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.limiter = new RobotLimiter(options.messagesPerMinute, this.clock);
    // Each group a little under the robot's pace, one at a time: the robot's limit is a sliding
    // minute, so a burst on top of the full rate draws a refusal (and a pause) in every minute.
    // Card updates are API calls, not messages, and have a pace of their own.
    this.pacing = { messagesPerSecond: Math.max(1, options.messagesPerMinute - 1) / 60, burst: 1, updates: { perMinute: 120, burst: 10 } };
  }

  async postCard(channel: string, card: Card): Promise<MessageRef> {
    const id = newCardId();
    await this.send('send card', channel, id, renderCard(card));
    this.remember(id, cardTitle(card));
    return { platform: this.name, channel, messageId: id, threadId: id };
  }

  async updateCard(ref: MessageRef, card: Card): Promise<void> {
    await this.update(ref.messageId, renderCard(card));
    this.remember(ref.threadId, cardTitle(card));
  }

  async postMessage(channel: string, message: ThreadMessage): Promise<MessageRef> {
    const id = newCardId();
    await this.send('send message', channel, id, renderReply(message, undefined));
    return { platform: this.name, channel, messageId: id, threadId: id };
  }

  async reply(thread: MessageRef, message: ThreadMessage): Promise<MessageRef> {
    const id = replyId(thread.threadId);
    await this.send('send reply', thread.channel, id, renderReply(message, this.titles.get(thread.threadId)));
    return { platform: this.name, channel: thread.channel, messageId: id, threadId: thread.threadId };
  }

  async updateMessage(ref: MessageRef, message: ThreadMessage): Promise<void> {
    await this.update(ref.messageId, renderReply(message, this.titles.get(ref.threadId)));
  }

  /** A one-to-one message from the robot, saying which incident it is about. */
  async tellUser(user: string, where: { channel: string; threadId?: string }, text: string): Promise<void> {
    const about = where.threadId ? this.titles.get(where.threadId) : undefined;
    this.limiter.take('send private message');
    await this.guard(() =>
      this.api.call('send private message', 'POST', '/v1.0/robot/oToMessages/batchSend', {
        robotCode: this.options.robotCode,
        userIds: [user],
        msgKey: 'sampleMarkdown',
        msgParam: JSON.stringify(renderPrivate(text, about)),
      }),
    );
  }

  /** Name, departments and roles from the address book (needs Contact.User.Read), cached for a minute. */
  async resolveUser(userId: string): Promise<ChatUser> {
    const now = this.clock();
    const cached = this.users.get(userId);
    if (cached && cached.until > now) return cached.user;
    let user: ChatUser;
    try {
      const answer = UserAnswer.safeParse(await this.api.oapi('get user', '/topapi/v2/user/get', { userid: userId, language: 'en_US' }));
      const r = answer.success ? answer.data.result : undefined;
      user = { id: userId, name: r?.name || userId, groups: r ? [...r.dept_id_list.map(String), ...r.role_list.map((role) => String(role.id))] : [] };
    } catch (error) {
      // No such user, or no permission to read the address book: no groups, the least rights.
      if (!(error instanceof ChatDeliveryError && error.details.permanent)) throw error;
      user = { id: userId, name: userId, groups: [] };
    }
    this.users.set(userId, { user, until: now + USER_CACHE_MS });
    return user;
  }

  private async send(operation: string, channel: string, id: string, card: StandardCard): Promise<void> {
    this.limiter.take(operation);
    await this.guard(() =>
      this.api.call(operation, 'POST', '/v1.0/im/v1.0/robot/interactiveCards/send', {
        cardTemplateId: 'StandardCard',
        openConversationId: channel,
        cardBizId: id,
        robotCode: this.options.robotCode,
        cardData: JSON.stringify(card),
        pullStrategy: false,
      }),
    );
  }

  private async update(id: string, card: StandardCard): Promise<void> {
    await this.guard(() => this.api.call('update card', 'PUT', '/v1.0/im/robots/interactiveCards', { cardBizId: id, cardData: JSON.stringify(card) }));
  }

  /** A block DingTalk announced stops every send until it is over (sending into it may prolong it). */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof ChatDeliveryError && error.details.retryAfterMs !== undefined) this.limiter.block(error.details.retryAfterMs);
      throw error;
    }
  }

  private remember(id: string, title: string): void {
    this.titles.delete(id);
    this.titles.set(id, title);
    if (this.titles.size > TITLES_KEPT) this.titles.delete(this.titles.keys().next().value ?? '');
  }
}
