import type { Card, ThreadMessage } from '../../core/card.js';
import type { ChatPlatform, ChatUser, MessageRef } from '../../core/ports/chat-platform.js';

export const CONSOLE_PLATFORM = 'console';
export const CONSOLE_CHANNEL = 'console';

/** What connected browsers are told: something about this incident changed ('*': the list). */
export interface ConsoleEvent {
  incidentId: string;
}

/** Fans live events out to the browsers connected to `GET /console/stream`. */
export class ConsoleEvents {
  private readonly listeners = new Set<(event: ConsoleEvent) => void>();

  subscribe(listener: (event: ConsoleEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: ConsoleEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A broken connection must not stop the others from hearing about it.
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}

/** A message only one local user sees (a refusal, an error), kept in memory like an ephemeral message. */
export interface PrivateMessage {
  id: number;
  at: string;
  text: string;
  /** The incident it is about, when known. */
  incidentId: string | undefined;
}

const PRIVATE_PER_USER = 20;

/**
 * The web console as a chat platform. Posting is nothing more than recording that the message
 * was delivered (the outbox marks its row done) and telling connected browsers; pages render the
 * card and the thread from the store, so a restart loses nothing. Local users are plain names.
 */
export class ConsolePlatform implements ChatPlatform {
  readonly name = CONSOLE_PLATFORM;
  /** Nothing to protect: the console has no rate limit. */
  readonly pacing = undefined;
  private readonly inbox = new Map<string, PrivateMessage[]>();
  private replies = 0;
  private privateIds = 0;

  readonly events = new ConsoleEvents();
  private readonly clock: () => Date;
  private readonly settle: (() => Promise<void>) | undefined;

  /**
   * `settle` resolves once the store has recorded what the outbox does after a post (the row
   * marked done, the card's ref saved): pages render from those rows, so browsers are told only
   * then. The console passes the store's ping, which its first-come lock runs after the
   * outbox's transaction.
   */
  constructor(options: { clock?: () => Date; settle?: () => Promise<void> } = {}) {
    this.clock = options.clock ?? (() => new Date());
    this.settle = options.settle;
  }

  private changed(incidentId: string): void {
    const settle = this.settle;
    if (!settle) return this.events.publish({ incidentId });
    // After the caller's continuation has queued its transaction (microtasks run before this).
    setImmediate(() => {
      settle().then(
        () => this.events.publish({ incidentId }),
        () => this.events.publish({ incidentId }),
      );
    });
  }

  postCard(channel: string, card: Card): Promise<MessageRef> {
    this.changed(card.incidentId);
    return Promise.resolve({ platform: this.name, channel, messageId: card.incidentId, threadId: card.incidentId });
  }

  updateCard(ref: MessageRef, card: Card): Promise<void> {
    this.changed(card.incidentId || ref.threadId);
    return Promise.resolve();
  }

  /**
   * A channel message of its own (scheduled jobs). The list page shows the latest of them from the
   * audit trail (every channel's, the same text), so nothing more is kept here; browsers are told.
   */
  postMessage(channel: string, _message: ThreadMessage, options?: { deliveryKey?: string | undefined }): Promise<MessageRef> {
    const messageId = options?.deliveryKey ?? `post.${(this.replies += 1)}`;
    this.changed('*');
    return Promise.resolve({ platform: this.name, channel, messageId, threadId: messageId });
  }

  /**
   * A reply is shown once its outbox row is done, so posting it twice (a retry after a crash)
   * cannot show it twice; its id is the outbox delivery key when the outbox gives one.
   */
  reply(thread: MessageRef, _message: ThreadMessage, options?: { deliveryKey?: string | undefined }): Promise<MessageRef> {
    this.replies += 1;
    this.changed(thread.threadId);
    const messageId = options?.deliveryKey ?? `${thread.threadId}.${this.replies}`;
    return Promise.resolve({ platform: this.name, channel: thread.channel, messageId, threadId: thread.threadId });
  }

  /** The page shows the reply as its newest delivered edit (the outbox marks the edit done): browsers only need telling. */
  updateMessage(ref: MessageRef, _message: ThreadMessage): Promise<void> {
    this.changed(ref.threadId);
    return Promise.resolve();
  }

  tellUser(user: string, where: { channel: string; threadId?: string }, text: string): Promise<void> {
    this.privateIds += 1;
    const list = this.inbox.get(user) ?? [];
    list.push({ id: this.privateIds, at: this.clock().toISOString(), text, incidentId: where.threadId });
    this.inbox.set(user, list.slice(-PRIVATE_PER_USER));
    this.events.publish({ incidentId: where.threadId ?? '*' });
    return Promise.resolve();
  }

  resolveUser(userId: string): Promise<ChatUser> {
    return Promise.resolve({ id: userId, name: userId, groups: [] });
  }

  /** What this user was told privately, newest first. */
  privateMessages(user: string): PrivateMessage[] {
    return [...(this.inbox.get(user) ?? [])].reverse();
  }

  dismissPrivate(user: string): void {
    this.inbox.delete(user);
  }
}
