import type { Logger } from 'pino';
import type { Card, ThreadMessage } from '../../core/card.js';
import type { ChatPacing, ChatPlatform, ChatUser, MessageRef } from '../../core/ports/chat-platform.js';
import { answerError, toDeliveryError } from './errors.js';
import { escapeLarkMd, renderCard, truncate } from './render.js';
import { feishuWebhookSignature } from './sign.js';
import { t } from '../../core/i18n/index.js';

export interface FeishuWebhookOptions {
  webhookUrl: string;
  /** The custom bot's signing secret, when "签名校验" is on. */
  secret: string | undefined;
  /** Where chat users reach the console; the card's button opens the incident there. */
  consoleUrl: string | undefined;
  log: Pick<Logger, 'warn'>;
  clock?: () => number;
}

let counter = 0;
const localId = () => `webhook-${Date.now().toString(36)}-${(counter += 1)}`;

/**
 * One-way Feishu: a custom bot's webhook posts the card and the thread's messages to one chat. A
 * custom bot receives no presses and cannot edit or reply in threads, so the card's only button
 * opens the incident in the console, card updates are left out, and thread messages quote the card.
 */
export class FeishuWebhookPlatform implements ChatPlatform {
  readonly name = 'feishu';
  /** A custom bot may send 100 messages a minute and 5 a second. */
  readonly pacing: ChatPacing = { messagesPerSecond: 100 / 60, burst: 5 };
  private readonly titles = new Map<string, string>();
  private readonly clock: () => number;

  constructor(private readonly o: FeishuWebhookOptions) {
    this.clock = o.clock ?? Date.now;
  }

  async postCard(channel: string, card: Card): Promise<MessageRef> {
    const rendered = renderCard({ ...card, buttons: [] });
    const link = this.o.consoleUrl === undefined ? undefined : `${this.o.consoleUrl.replace(/\/$/, '')}/console/incidents/${encodeURIComponent(card.incidentId)}`;
    if (link !== undefined) {
      (rendered.elements as unknown[]).push({ tag: 'action', actions: [{ tag: 'button', text: { tag: 'plain_text', content: t('card.openConsole') }, type: 'primary', url: link }] });
    }
    await this.send('send card', { msg_type: 'interactive', card: rendered });
    const id = localId();
    this.titles.set(id, card.title);
    return { platform: this.name, channel, messageId: id, threadId: id };
  }

  async updateCard(): Promise<void> {}

  async updateMessage(): Promise<void> {}

  async postMessage(channel: string, message: ThreadMessage): Promise<MessageRef> {
    await this.send('send message', { msg_type: 'text', content: { text: truncate(message.text, 4000) } });
    const id = localId();
    return { platform: this.name, channel, messageId: id, threadId: id };
  }

  async reply(thread: MessageRef, message: ThreadMessage): Promise<MessageRef> {
    const quote = this.titles.get(thread.threadId);
    const text = `${quote === undefined ? '' : `> ${escapeLarkMd(quote)}\n`}${escapeLarkMd(message.text)}`;
    await this.send('send reply', { msg_type: 'interactive', card: { elements: [{ tag: 'div', text: { tag: 'lark_md', content: truncate(text, 5000) } }] } });
    return { platform: this.name, channel: thread.channel, messageId: localId(), threadId: thread.threadId };
  }

  tellUser(user: string): Promise<void> {
    this.o.log.warn({ user }, 'a one-way Feishu bot cannot tell a user anything privately');
    return Promise.resolve();
  }

  resolveUser(userId: string): Promise<ChatUser> {
    return Promise.resolve({ id: userId, name: userId, groups: [] });
  }

  private async send(operation: string, body: Record<string, unknown>): Promise<void> {
    const signed = { ...feishuWebhookSignature(this.o.secret, Math.floor(this.clock() / 1000)), ...body };
    let status: number;
    let answer: { code?: unknown; msg?: unknown; StatusCode?: unknown };
    try {
      const res = await fetch(this.o.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(signed), signal: AbortSignal.timeout(10_000) });
      status = res.status;
      answer = (await res.json().catch(() => ({}))) as typeof answer;
    } catch (error) {
      throw toDeliveryError(operation, error);
    }
    // Success is code 0 (older answers: StatusCode 0).
    const code = typeof answer.code === 'number' ? answer.code : typeof answer.StatusCode === 'number' ? answer.StatusCode : undefined;
    if (status !== 200 || code !== 0) throw answerError(operation, { status, code, msg: typeof answer.msg === 'string' ? answer.msg : '' });
  }
}
