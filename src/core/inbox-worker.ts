import type { Logger } from 'pino';
import { notificationSchema, type AlertmanagerNotification } from './alertmanager-payload.js';
import type { QueuedNotification } from './domain.js';
import type { RecordedNotification } from './notifications.js';
import { WorkerLoop } from './worker-loop.js';
import type { Store, StoreTx } from './ports/store.js';
import type { Clock } from './ports/clock.js';

export interface InboxWorkerOptions {
  store: Store;
  /** Records one notification inside the caller's transaction (the engine's recording, with routing). */
  record: (tx: StoreTx, notification: AlertmanagerNotification, now: string) => Promise<RecordedNotification>;
  /** Told of each notification recorded from the inbox (queue its chat messages' delivery, count it). */
  onRecorded: (result: RecordedNotification) => void;
  /** True while webhooks keep coming: the worker then records small slices with pauses between them. */
  busy: () => boolean;
  /** Told how many wait in the inbox, counted at the start of each poll and 0 once it is empty (the webhook refuses new ones past a limit). */
  onCounted: (waiting: number) => void;
  clock: Clock;
  log: Logger;
  /** How often the inbox is looked at when nobody nudges (rows queued by other replicas, retries). */
  pollMs?: number;
}

/**
 * Notifications taken per store read. Each group's share of a slice is recorded in one
 * transaction, and on SQLite the slice's transactions share a commit (one disk sync). Small while
 * webhooks are being answered, so that a slice holds the event loop for a few milliseconds only.
 */
const SLICE = 64;
const BUSY_SLICE = 8;
/** The pause between slices while webhooks are being answered. */
const BUSY_GAP_MS = 10;
/** Attempts before a notification that cannot be recorded is put aside (kept, with its error). */
const MAX_ATTEMPTS = 10;

/** Captured at load, so that tests faking timers cannot stall the worker between slices. */
const realSetImmediate = globalThis.setImmediate;
const realSetTimeout = globalThis.setTimeout;
const nextTurn = (): Promise<void> => new Promise((resolve) => realSetImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => realSetTimeout(resolve, ms));

/** The notification as the webhook validated it; throws when the body no longer passes the schema. */
const parseQueued = (queued: QueuedNotification): AlertmanagerNotification => notificationSchema.parse(JSON.parse(queued.body));

/**
 * Records the notifications that were acknowledged into the inbox while the bot was busy, oldest
 * first. Each is removed from the inbox in the same transaction that records it, so it is recorded
 * exactly once, whichever replica gets there; order within an Alertmanager group is the order
 * received (a notification is only taken once no older one of its group waits). Different groups
 * are recorded side by side.
 *
 * The worker yields between slices, so webhooks read meanwhile are answered first; while they
 * keep coming it records small slices with a pause after each, leaving most of the event loop to
 * the requests, and catches up as soon as they ease.
 */
export class InboxWorker {
  private readonly loop: WorkerLoop;
  private stopping = false;

  constructor(private readonly o: InboxWorkerOptions) {
    this.loop = new WorkerLoop(() => this.tick(), o.pollMs ?? 250, (error) => o.log.error({ err: error }, 'inbox tick failed'));
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

  /** Records what waits now, slice after slice, until the inbox is empty or an attempt fails (tests). */
  runOnce(): Promise<void> {
    return this.loop.runOnce();
  }

  /**
   * At shutdown, once no webhook comes in any more: records what waits until the inbox is empty,
   * an attempt fails or `ms` have passed. What is left stays in the inbox, for the next start.
   */
  async drain(ms: number): Promise<void> {
    const until = performance.now() + ms;
    // A tick working through a long backlog ends after its current slice, not at the end of the backlog.
    this.stopping = true;
    await this.loop.stop();
    this.stopping = false;
    await this.tick(until);
  }

  private async tick(until = Infinity): Promise<void> {
    let first = true;
    for (; performance.now() < until && !this.stopping; ) {
      const size = this.o.busy() ? BUSY_SLICE : SLICE;
      // Read only, beside the transactions recording other groups: each row is taken by its
      // group's own transaction, which checks again that it is still there and first in line.
      const slice = await this.o.store.transaction(
        async (tx) => {
          if (first) this.o.onCounted((await tx.countQueuedNotifications()).waiting);
          return tx.queuedNotifications(size);
        },
        { readOnly: true },
      );
      first = false;
      if (slice.length === 0) return this.o.onCounted(0);
      const failed = await this.recordSlice(slice);
      // A failure is retried on the next poll, not at once in a tight loop.
      if (failed) return;
      // Webhooks being answered come first: a slice then waits a little, so that acknowledging
      // keeps most of the event loop and recording still moves on.
      if (this.o.busy()) await sleep(BUSY_GAP_MS);
      else await nextTurn();
    }
  }

  /** Groups side by side, each group's notifications one after another; true when any failed. */
  private async recordSlice(slice: QueuedNotification[]): Promise<boolean> {
    const byGroup = new Map<string, QueuedNotification[]>();
    for (const queued of slice) {
      const group = byGroup.get(queued.groupKey);
      if (group) group.push(queued);
      else byGroup.set(queued.groupKey, [queued]);
    }
    const outcomes = await Promise.all([...byGroup.values()].map((group) => this.recordGroup(group)));
    return outcomes.includes(false);
  }

  /**
   * A group's notifications of one slice, in order, in one transaction: on SQLite every group of
   * the slice then shares one commit. When anything in it fails, the group is recorded again one
   * notification at a time, so that only the one that fails is retried or put aside.
   */
  private async recordGroup(group: QueuedNotification[]): Promise<boolean> {
    if (group.length > 1) {
      const now = this.o.clock().toISOString();
      const together = await this.o.store
        .transaction(
          async (tx) => {
            const results: RecordedNotification[] = [];
            for (const queued of group) {
              const notification = parseQueued(queued);
              // Taken by another worker, or behind an older one still waiting: the rest must wait too.
              if (!(await tx.takeQueuedNotification(queued.seq, queued.groupKey))) break;
              results.push(await this.o.record(tx, notification, now));
            }
            return results;
          },
          { group: group[0]!.groupKey },
        )
        // Nothing of it was kept; the pass one at a time below finds, reports and counts the failure.
        .catch(() => undefined);
      if (together) {
        for (const result of together) this.o.onRecorded(result);
        return true;
      }
    }
    for (const queued of group) {
      // The rest of the group waits behind a notification that failed.
      if (!(await this.recordOne(queued))) return false;
    }
    return true;
  }

  private async recordOne(queued: QueuedNotification): Promise<boolean> {
    const now = this.o.clock().toISOString();
    let notification: AlertmanagerNotification;
    try {
      notification = parseQueued(queued);
    } catch (error) {
      // It was valid when acknowledged: only a change of the schema since can get here, and no retry helps.
      await this.fail(queued, error, now, true);
      return false;
    }
    try {
      const result = await this.o.store.transaction(
        async (tx) => ((await tx.takeQueuedNotification(queued.seq, queued.groupKey)) ? this.o.record(tx, notification, now) : undefined),
        { group: queued.groupKey },
      );
      if (result) this.o.onRecorded(result);
      return true;
    } catch (error) {
      await this.fail(queued, error, now, queued.attempts + 1 >= MAX_ATTEMPTS);
      return false;
    }
  }

  private async fail(queued: QueuedNotification, error: unknown, now: string, giveUp: boolean): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    const context = { seq: queued.seq, groupKey: queued.groupKey, attempts: queued.attempts + 1, err: error };
    if (giveUp) this.o.log.error(context, 'a queued notification could not be recorded and was put aside (kept in the inbox with its error)');
    else this.o.log.warn(context, 'a queued notification could not be recorded; it will be retried');
    await this.o.store
      .transaction((tx) => tx.failQueuedNotification(queued.seq, message.slice(0, 2000), now, giveUp))
      .catch((failure: unknown) => this.o.log.error({ err: failure, seq: queued.seq }, 'the failed attempt could not be recorded either'));
  }
}
