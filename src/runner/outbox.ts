import type { Logger } from 'pino';
import type { RunnerEvent } from '../runners/protocol.js';
import type { BotClient } from './bot-client.js';
import { Backoff, Waker, type Outage } from './retry.js';
import { isFinal } from './state.js';

/** At most this many events in one request (the protocol's limit). */
const BATCH = 100;

/** What the bot said about one event: taken, or refused for good (it will not take it later either). */
export type Delivery = { accepted: true } | { accepted: false; reason: string };

interface Pending {
  event: RunnerEvent;
  /** Called once the bot has answered for the event; outcomes remove their job file here. */
  onAnswer?: ((delivery: Delivery) => Promise<void>) | undefined;
}

/**
 * Events on their way to the bot, in the order they happened, re-sent until the bot answers for
 * each. Outcomes are also on disk (their job files) and come back after a restart; `started` and
 * `output` live only here: output is replaced by the newer tail, and dropped once the outcome is queued.
 */
export class Outbox {
  private queue: Pending[] = [];
  private readonly waker = new Waker();
  private readonly backoff = new Backoff();
  private sending: Promise<void> | undefined;
  private stopped = false;
  private readonly stopping = new AbortController();
  private idle: Array<() => void> = [];

  constructor(
    private readonly client: BotClient,
    private readonly outage: Outage,
    private readonly log: Logger,
  ) {}

  push(event: RunnerEvent, onAnswer?: (delivery: Delivery) => Promise<void>): void {
    if (event.type === 'output') {
      const older = this.queue.findIndex((p) => p.event.type === 'output' && p.event.jobId === event.jobId);
      if (older >= 0) {
        this.queue[older] = { event };
        return;
      }
    }
    if (isFinal(event)) this.queue = this.queue.filter((p) => !(p.event.type === 'output' && p.event.jobId === event.jobId));
    this.queue.push({ event, onAnswer });
    this.waker.wake();
  }

  get size(): number {
    return this.queue.length;
  }

  /** Retry now: the bot answered another request, so it is back. */
  nudge(): void {
    this.waker.wake();
  }

  start(): void {
    this.sending ??= this.loop();
  }

  /** Resolves when nothing is left to send (or at once when nothing is). */
  drained(): Promise<void> {
    return this.queue.length === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops after the request in flight; what is unsent stays on disk (outcomes) for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.waker.wake();
    await this.sending;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (this.queue.length === 0) {
        for (const resolve of this.idle.splice(0)) resolve();
        await this.waker.sleep(60_000);
        continue;
      }
      const batch = this.queue.slice(0, BATCH);
      let results;
      try {
        results = await this.client.sendEvents(batch.map((p) => p.event), this.stopping.signal);
      } catch (error) {
        if (this.stopped) break;
        this.outage.failed('events', error);
        await this.waker.sleep(this.backoff.next());
        continue;
      }
      this.outage.succeeded();
      this.backoff.reset();
      // The sent entries leave the queue (an output replaced meanwhile stays: it is a newer one).
      this.queue = this.queue.filter((p) => !batch.includes(p));
      for (const [index, pending] of batch.entries()) {
        const answer = results[index];
        const delivery: Delivery = answer?.accepted ? { accepted: true } : { accepted: false, reason: answer?.reason ?? 'no reason given' };
        if (!delivery.accepted && pending.event.type !== 'output') {
          this.log.warn({ jobId: pending.event.jobId, event: pending.event.type, reason: delivery.reason }, 'the bot did not take an event');
        }
        try {
          await pending.onAnswer?.(delivery);
        } catch (error) {
          this.log.error({ err: error, jobId: pending.event.jobId }, 'could not record what the bot answered');
        }
      }
    }
  }
}
