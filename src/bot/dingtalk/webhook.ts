import type { Logger } from 'pino';
import type { Card, ThreadMessage } from '../../core/card.js';
import { ChatDeliveryError, type ChatPacing, type ChatPlatform, type ChatUser, type MessageRef } from '../../core/ports/chat-platform.js';
import { answerError, transportError } from './errors.js';
import { RobotLimiter, escapeMarkdown, truncate } from './limits.js';
import { newCardId, replyId } from './platform.js';
import { cardTitle } from './render.js';
import { signedDingTalkWebhookUrl } from './sign.js';
import { t } from '../../core/i18n/index.js';

export interface DingTalkWebhookOptions {
  /** The custom robot's webhook, with its access_token. */
  webhookUrl: string;
  /** The robot's signing secret (SEC…), when its security setting is 加签. */
  secret: string | undefined;
  /** Where chat users reach the console; the card's button opens the incident there. */
  consoleUrl: string | undefined;
  messagesPerMinute: number;
  log: Pick<Logger, 'warn'>;
  clock?: () => number;
}

/** The card as the markdown an actionCard or a reply shows. */
function cardMarkdown(card: Card): string {
  const lines = [`#### ${escapeMarkdown(cardTitle(card))}`, `**${escapeMarkdown(card.statusLine)}**`];
  if (card.summary) lines.push(escapeMarkdown(card.summary));
  if (card.fields.length > 0) lines.push(card.fields.map((f) => `**${escapeMarkdown(f.label)}**: ${escapeMarkdown(f.value)}`).join('  \n'));
  return truncate(lines.join('\n\n'), 5000);
}

/**
 * One-way DingTalk: a custom robot's webhook posts the card and the thread's messages to one
 * group, but a webhook robot receives no presses and cannot edit what it sent. The card's only
 * button opens the incident in the console, where it is acknowledged, run and approved; card
 * updates are left out (the thread's messages say what changed).
 */
export class DingTalkWebhookPlatform implements ChatPlatform {
  readonly name = 'dingtalk';
  readonly pacing: ChatPacing;
  private readonly limiter: RobotLimiter;
  private readonly clock: () => number;
  private readonly titles = new Map<string, string>();

  constructor(private readonly o: DingTalkWebhookOptions) {
    this.clock = o.clock ?? Date.now;
    this.limiter = new RobotLimiter(o.messagesPerMinute, this.clock);
    this.pacing = { messagesPerSecond: o.messagesPerMinute / 60, burst: 2 };
  }

  async postCard(channel: string, card: Card): Promise<MessageRef> {
    const text = cardMarkdown(card);
    const link = this.o.consoleUrl === undefined ? undefined : `${this.o.consoleUrl.replace(/\/$/, '')}/console/incidents/${encodeURIComponent(card.incidentId)}`;
    await this.send(
      'send card',
      link === undefined
        ? { msgtype: 'markdown', markdown: { title: truncate(card.fallbackText, 60), text } }
        : { msgtype: 'actionCard', actionCard: { title: truncate(card.fallbackText, 60), text, singleTitle: t('card.openConsole'), singleURL: link } },
    );
    const id = newCardId();
    this.titles.set(id, cardTitle(card));
    return { platform: this.name, channel, messageId: id, threadId: id };
  }

  /** A webhook robot cannot edit what it sent. */
  async updateCard(): Promise<void> {}

  async updateMessage(): Promise<void> {}

  async postMessage(channel: string, message: ThreadMessage): Promise<MessageRef> {
    await this.send('send message', { msgtype: 'markdown', markdown: { title: truncate(message.text, 60), text: truncate(escapeMarkdown(message.text), 5000) } });
    const id = newCardId();
    return { platform: this.name, channel, messageId: id, threadId: id };
  }

  /** A message quoting its card, as the app robot's replies do; its buttons are the console's to offer. */
  async reply(thread: MessageRef, message: ThreadMessage): Promise<MessageRef> {
    const quote = this.titles.get(thread.threadId);
    const text = `${quote === undefined ? '' : `> ${escapeMarkdown(quote)}\n\n`}${escapeMarkdown(message.text)}`;
    await this.send('send reply', { msgtype: 'markdown', markdown: { title: truncate(message.text, 60), text: truncate(text, 5000) } });
    return { platform: this.name, channel: thread.channel, messageId: replyId(thread.threadId), threadId: thread.threadId };
  }

  /** Never asked: a webhook robot receives no presses. */
  tellUser(user: string): Promise<void> {
    this.o.log.warn({ user }, 'a one-way DingTalk robot cannot tell a user anything privately');
    return Promise.resolve();
  }

  resolveUser(userId: string): Promise<ChatUser> {
    return Promise.resolve({ id: userId, name: userId, groups: [] });
  }

  private async send(operation: string, body: Record<string, unknown>): Promise<void> {
    this.limiter.take(operation);
    const url = signedDingTalkWebhookUrl(this.o.webhookUrl, this.o.secret, this.clock());
    let status: number;
    let answer: Record<string, unknown>;
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      status = res.status;
      answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    } catch (error) {
      throw transportError(operation, error);
    }
    // The webhook answers HTTP 200 with errcode 0, or a non-zero errcode saying what was wrong.
    if (status !== 200 || answer.errcode !== 0) {
      const error = answerError(operation, { status, body: answer });
      if (error instanceof ChatDeliveryError && error.details.retryAfterMs !== undefined) this.limiter.block(error.details.retryAfterMs);
      throw error;
    }
  }
}
