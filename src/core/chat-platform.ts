import type { Card, ThreadMessage } from './card.js';

/** Where a posted message lives, as the platform identifies it. Opaque to the core. */
export interface MessageRef {
  platform: string;
  channel: string;
  /** Platform message id (Slack `ts`, Discord message id). */
  messageId: string;
  /** Thread the message belongs to or starts; replies go here. */
  threadId: string;
}

export interface ChatUser {
  id: string;
  name: string;
  /** Group or role ids the user belongs to (Slack user groups, Discord roles). */
  groups: string[];
}

/**
 * The one small interface every chat platform implements. The core talks only to this: it never
 * imports a chat SDK.
 */
export interface ChatPlatform {
  readonly name: string;
  /** Posts a new incident card; returns where it lives (the thread for its audit trail). */
  postCard(channel: string, card: Card): Promise<MessageRef>;
  /** Replaces a posted card's content. */
  updateCard(ref: MessageRef, card: Card): Promise<void>;
  /** Posts into the card's thread. */
  reply(thread: MessageRef, message: ThreadMessage): Promise<MessageRef>;
  /** Tells one user something only they see (refusals, errors). */
  tellUser(user: string, where: { channel: string; threadId?: string }, text: string): Promise<void>;
  /** Who is this user: display name and groups, for approval policy. */
  resolveUser(userId: string): Promise<ChatUser>;
  /**
   * How fast the outbox may send to one channel (Slack: about one message per second per channel,
   * short bursts allowed). Pacing keeps an alert storm under the limit instead of collecting 429s.
   */
  readonly pacing?: { messagesPerSecond: number; burst: number } | undefined;
}

/**
 * A chat call failed. `retryAfterMs` is set when the platform said when to come back (HTTP 429);
 * `permanent` when retrying the same call cannot succeed (a malformed message, an unknown channel);
 * `messageGone` when the message to update was deleted.
 */
export class ChatDeliveryError extends Error {
  readonly code = 'chat_delivery_failed';
  constructor(
    message: string,
    readonly details: { retryAfterMs?: number | undefined; permanent?: boolean | undefined; messageGone?: boolean | undefined } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ChatDeliveryError';
  }
}
