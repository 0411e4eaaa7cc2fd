import type { Logger } from 'pino';
import type { Card, ThreadMessage } from './card.js';
import { ChatDeliveryError, type ChatPlatform } from './chat-platform.js';
import type { OutboxMessage } from './domain.js';
import type { Redactor } from './redact.js';
import { WorkerLoop } from './worker-loop.js';
import type { Metrics } from '../metrics.js';
import type { Store, StoreTx } from '../store/store.js';

export interface OutboxWorkerOptions {
  store: Store;
  platforms: ReadonlyMap<string, ChatPlatform>;
  /** Renders the card from the current state, inside the caller's transaction. */
  renderCard: (tx: StoreTx, incidentId: number) => Promise<Card>;
  clock: () => Date;
  log: Logger;
  metrics: Metrics;
  /** Applied to everything sent: alert text and step output can carry secrets. */
  redact: Redactor;
  pollMs?: number;
  batchSize?: number;
}

const MAX_BACKOFF_MS = 5 * 60_000;
/** A reply waiting for its card to be posted is retried quickly: the card is usually just ahead. */
const WAIT_FOR_CARD_MS = 500;
/** Bounds one tick, so a long backlog is sent in slices and shutdown is never held up for long. */
const MAX_ROUNDS_PER_TICK = 50;
/** Send a little under the platform's rate: its clock and ours differ by the network's jitter. */
const PACING_MARGIN = 0.9;

/**
 * Delivers queued chat messages. Messages of one thread (platform, channel, incident) go out in
 * the order they were queued: when one cannot be sent yet, the rest of its thread waits.
 * Failures are retried with exponential backoff, or after the platform's Retry-After.
 */
export class OutboxWorker {
  private readonly loop: WorkerLoop;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly o: OutboxWorkerOptions) {
    this.loop = new WorkerLoop(() => this.tick(), o.pollMs ?? 500, (error) => o.log.error({ err: error }, 'outbox tick failed'));
  }

  start(): void {
    this.loop.start();
  }

  nudge(): void {
    this.loop.nudge();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Sends what is due now, once (used to drain at shutdown). */
  runOnce(): Promise<void> {
    return this.loop.runOnce();
  }

  private async tick(): Promise<void> {
    // Each round sends the head of every due thread; the next message of a thread becomes its head
    // only once the previous one is sent. Rounds stop when nothing could be sent.
    for (let round = 0; round < MAX_ROUNDS_PER_TICK; round += 1) {
      const now = this.o.clock().toISOString();
      const heads = await this.o.store.transaction((tx) => tx.dueThreadHeads(now, this.o.batchSize ?? 200));
      let sent = 0;
      for (const message of heads) {
        // A channel over its pace waits for the next tick; its threads keep their order.
        if (!this.takeToken(message)) continue;
        if (await this.deliver(message)) sent += 1;
      }
      if (sent === 0) return;
    }
  }

  /** Token bucket per (platform, channel), refilled at the platform's pace. */
  private takeToken(message: OutboxMessage): boolean {
    const pacing = this.o.platforms.get(message.platform)?.pacing;
    if (!pacing) return true;
    const key = `${message.platform}\u0000${message.channel}`;
    const now = this.o.clock().getTime();
    const bucket = this.buckets.get(key) ?? { tokens: pacing.burst, at: now };
    bucket.tokens = Math.min(pacing.burst, bucket.tokens + ((now - bucket.at) / 1000) * pacing.messagesPerSecond * PACING_MARGIN);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private async deliver(message: OutboxMessage): Promise<boolean> {
    const platform = this.o.platforms.get(message.platform);
    try {
      if (!platform) throw new ChatDeliveryError(`platform "${message.platform}" is not enabled`, { permanent: true });
      if (message.kind === 'card') await this.syncCard(platform, message);
      else await this.reply(platform, message);
      return true;
    } catch (error) {
      const details = error instanceof ChatDeliveryError ? error.details : {};
      const waitingForCard = error instanceof CardNotPostedYet;
      const delay = details.retryAfterMs ?? (waitingForCard ? WAIT_FOR_CARD_MS : Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(message.attempts, 16)));
      const next = new Date(this.o.clock().getTime() + delay).toISOString();
      const text = error instanceof Error ? error.message : String(error);
      await this.o.store.transaction((tx) => tx.retryOutbox(message.id, next, text));
      if (!waitingForCard) {
        this.o.metrics.chatApiErrors.inc({ platform: message.platform, operation: message.kind });
        const level = details.permanent || message.attempts >= 5 ? 'error' : 'warn';
        this.o.log[level]({ outboxId: message.id, platform: message.platform, attempts: message.attempts + 1, retryInMs: delay, error: text }, 'chat delivery failed; will retry');
      }
      return false;
    }
  }

  private async syncCard(platform: ChatPlatform, message: OutboxMessage): Promise<void> {
    const { ref, card } = await this.o.store.transaction(async (tx) => ({
      ref: await tx.getCardMessage(message.incidentId, message.platform, message.channel),
      card: redactCard(await this.o.renderCard(tx, message.incidentId), this.o.redact),
    }));
    if (ref) {
      try {
        await platform.updateCard(ref, card);
        await this.o.store.transaction((tx) => tx.completeOutbox(message.id, this.o.clock().toISOString()));
        return;
      } catch (error) {
        // Someone deleted the card: post it again (with a new thread) rather than retry for ever.
        if (!(error instanceof ChatDeliveryError && error.details.messageGone)) throw error;
        this.o.log.warn({ incidentId: message.incidentId, platform: message.platform }, 'card was deleted; posting it again');
      }
    }
    const posted = await platform.postCard(message.channel, card);
    // Saving the ref and completing happen together, so a card is never posted twice by this worker.
    await this.o.store.transaction(async (tx) => {
      await tx.saveCardMessage(message.incidentId, posted);
      await tx.completeOutbox(message.id, this.o.clock().toISOString());
    });
  }

  private async reply(platform: ChatPlatform, message: OutboxMessage): Promise<void> {
    const ref = await this.o.store.transaction((tx) => tx.getCardMessage(message.incidentId, message.platform, message.channel));
    if (!ref) throw new CardNotPostedYet();
    const reply = message.payload as ThreadMessage;
    await platform.reply(ref, { ...reply, text: this.o.redact(reply.text) });
    await this.o.store.transaction((tx) => tx.completeOutbox(message.id, this.o.clock().toISOString()));
  }
}

function redactCard(card: Card, redact: Redactor): Card {
  return {
    ...card,
    title: redact(card.title),
    ...(card.summary !== undefined ? { summary: redact(card.summary) } : {}),
    ...(card.description !== undefined ? { description: redact(card.description) } : {}),
    fields: card.fields.map((f) => ({ label: f.label, value: redact(f.value) })),
    steps: card.steps.map((s) => (s.detail !== undefined ? { ...s, detail: redact(s.detail) } : s)),
    fallbackText: redact(card.fallbackText),
  };
}

class CardNotPostedYet extends Error {
  constructor() {
    super('the card for this thread is not posted yet');
  }
}
