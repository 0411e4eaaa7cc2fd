import type { Card, ThreadMessage } from '../card.js';
import type { DigestPage, StormDigest } from '../digest.js';

/** Where a posted message lives, as the platform identifies it. Opaque to the core. */
export interface MessageRef {
  platform: string;
  channel: string;
  /** Platform message id (Slack `ts`, Discord message id). */
  messageId: string;
  /** Thread the message belongs to or starts; replies go here. */
  threadId: string;
}

/**
 * Options of a post. `deliveryKey` names the outbox row the message comes from; a platform stores it
 * with the message (or uses it as its idempotency key) so that a retry after an unknown outcome can
 * find the message, or be recognised, instead of posting it twice.
 */
export interface PostOptions {
  deliveryKey?: string | undefined;
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
  postCard(channel: string, card: Card, options?: PostOptions): Promise<MessageRef>;
  /** Replaces a posted card's content. */
  updateCard(ref: MessageRef, card: Card): Promise<void>;
  /**
   * Posts a message of its own in a channel, outside any incident (scheduled jobs' results). The
   * ref's threadId is the message itself. Findable by delivery key like a card (`findDelivered`
   * without a thread).
   */
  postMessage(channel: string, message: ThreadMessage, options?: PostOptions): Promise<MessageRef>;
  /** Posts into the card's thread; the ref returned is where the reply is, for updateMessage. */
  reply(thread: MessageRef, message: ThreadMessage, options?: PostOptions): Promise<MessageRef>;
  /**
   * Replaces a posted reply's text and buttons (none: its buttons are removed). Paced like a card
   * update. Throws a ChatDeliveryError with `messageGone` when the message was deleted.
   */
  updateMessage(ref: MessageRef, message: ThreadMessage): Promise<void>;
  /**
   * Optional. Finds a message posted with this delivery key: a top-level message of `channel`, or
   * a reply in `thread` when given. `queuedAt` says when the message was queued (nothing with this
   * key can be older). Undefined when there is none, or when the platform cannot tell (missing
   * permission): the outbox then posts again, so delivery is at-least-once.
   *
   * The outbox asks before it posts a message whose earlier attempt may have reached the platform
   * (the process died mid-send, the answer was lost). Platforms without it get the post again:
   * fine where the post itself is idempotent by key (Discord's nonce), at-least-once elsewhere.
   */
  findDelivered?(channel: string, key: string, thread?: MessageRef, queuedAt?: Date): Promise<MessageRef | undefined>;
  /** Tells one user something only they see (refusals, errors). */
  tellUser(user: string, where: { channel: string; threadId?: string }, text: string): Promise<void>;
  /** Who is this user: display name and groups, for approval policy. */
  resolveUser(userId: string): Promise<ChatUser>;
  /**
   * How fast the outbox may send to one channel (Slack: about one message per second per channel,
   * short bursts allowed). Pacing keeps an alert storm under the limit instead of collecting 429s.
   */
  readonly pacing?: ChatPacing | undefined;
  /**
   * Optional: storm digests. A paced platform with it lists the incidents of a channel whose new
   * cards queue up beyond a few seconds of its pace in one digest (see src/core/storm-desk.ts);
   * without it the cards only queue, most urgent first.
   */
  readonly digest?: ChatDigest | undefined;
}

/** How a platform shows a storm digest. */
export interface ChatDigest {
  /** The digest in as few messages as the platform's size limits allow (paginateDigest), lines in order. */
  paginate(digest: StormDigest): DigestPage[];
  /** Posts one page as a message of its own in the channel, findable by its delivery key like a card. */
  post(channel: string, page: DigestPage, options?: PostOptions): Promise<MessageRef>;
  /** Replaces a posted page. Throws a ChatDeliveryError with `messageGone` when it was deleted. */
  update(ref: MessageRef, page: DigestPage): Promise<void>;
  /**
   * Edits of a page per second in one channel, where the platform limits edits per channel apart
   * from posts (Discord's message-edit bucket). Absent: edits are paced as card updates.
   */
  editsPerSecond?: number;
}

export interface ChatPacing {
  messagesPerSecond: number;
  burst: number;
  /**
   * A separate limit on updates of cards and replies, across every channel (Slack's chat.update:
   * about 50 a minute per workspace), which then do not count against the channel's messages.
   * Without it an update is paced as one of the channel's messages.
   */
  updates?: { perMinute: number; burst: number };
}

/**
 * A chat call failed. `retryAfterMs` is set when the platform said when to come back (HTTP 429);
 * `permanent` when retrying the same call cannot succeed (a malformed message, an unknown channel);
 * `messageGone` when the message to update was deleted; `refused` when the platform answered that
 * it did not do the call (an API error, not a timeout or a 5xx), so a post certainly did not land.
 */
export class ChatDeliveryError extends Error {
  readonly code = 'chat_delivery_failed';
  constructor(
    message: string,
    readonly details: {
      retryAfterMs?: number | undefined;
      permanent?: boolean | undefined;
      messageGone?: boolean | undefined;
      refused?: boolean | undefined;
    } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ChatDeliveryError';
  }
}

/**
 * Whether a failed post certainly did not reach the platform: it answered with a refusal, a rate
 * limit or a permanent error. Anything else (timeouts, reset connections, 5xx, errors that are not
 * ChatDeliveryErrors) may have posted the message, and the next attempt must look before posting.
 */
export function certainlyNotDelivered(error: unknown): boolean {
  if (!(error instanceof ChatDeliveryError)) return false;
  const d = error.details;
  return d.refused === true || d.permanent === true || d.retryAfterMs !== undefined;
}
