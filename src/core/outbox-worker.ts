import type { Logger } from 'pino';
import { escapeControls, redactCard, type Card, type ThreadMessage } from './card.js';
import { mapConcurrently } from '../domain/concurrently.js';
import { certainlyNotDelivered, ChatDeliveryError, type ChatPlatform, type MessageRef, type PostOptions } from './ports/chat-platform.js';
import type { DeliveryTarget, OutboxMessage } from './domain.js';
import type { Redactor } from '../domain/redact.js';
import { alwaysLeader, type Leadership } from './ports/leadership.js';
import { TokenBucket } from './token-bucket.js';
import { WorkerLoop } from './worker-loop.js';
import type { Metrics } from '../metrics.js';
import type { Store, StoreTx } from './ports/store.js';
import type { Clock } from './ports/clock.js';
import { DEFAULT_STORM_SETTINGS, StormDesk, type StormSettings } from './storm-desk.js';

// Over 300 lines: ordering, pacing, retries and the unknown-outcome recovery of chat deliveries
// depend on each other's state; split, the invariants between them would no longer be in view.

export interface OutboxWorkerOptions {
  store: Store;
  platforms: ReadonlyMap<string, ChatPlatform>;
  /** Renders the card from the current state, inside the caller's transaction. */
  renderCard: (tx: StoreTx, incidentId: number) => Promise<Card>;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** Applied to everything sent: alert text and step output can carry secrets. */
  redact: Redactor;
  /** Only the leader sends: pacing per channel is counted in this process's memory. Default: this process. */
  leadership?: Leadership;
  pollMs?: number;
  batchSize?: number;
  /** When a channel's new cards roll into a storm digest (see StormDesk). */
  storms?: StormSettings | undefined;
}

const MAX_BACKOFF_MS = 5 * 60_000;
/** A reply waiting for its card to be posted is retried quickly: the card is usually just ahead. */
const WAIT_FOR_CARD_MS = 500;
/** Bounds one tick, so a long backlog is sent in slices and shutdown is never held up for long. */
const MAX_ROUNDS_PER_TICK = 50;
/**
 * Every stored notification nudges the outbox; under a storm that would be one heads query after
 * another, each in a store transaction. Ticks nudged while one ran start this long after it.
 */
const NUDGED_TICK_GAP_MS = 20;
/**
 * Channels sent to at once. Each is paced to its own limit; this bounds the API calls in flight
 * (Discord also counts about 50 requests a second per bot, which its client queues for).
 */
const CHANNELS_AT_ONCE = 8;
/** How often the store is asked for deferred card updates when this process knows of none (another replica may have left some). */
const DEFERRED_LOOK_MS = 10_000;
/**
 * Send a little under the platform's sustained rate, for the drift between its clock and ours.
 * The network's jitter needs no margin: a bucket is capped when each call is answered (see
 * TokenBucket.landed), which covers a call that took long to arrive.
 */
const PACING_MARGIN = 0.97;

/**
 * Delivers queued chat messages. Messages of one thread (platform, channel, incident) go out in
 * the order they were queued: when one cannot be sent yet, the rest of its thread waits.
 * Failures are retried with exponential backoff, or after the platform's Retry-After.
 *
 * A post is not idempotent (Slack's chat.postMessage has no idempotency key), and the process can
 * die, or the answer be lost, after the platform took it and before the store recorded it. So
 * every post carries a delivery key, intent is recorded before sending (`sendingSince`), and a
 * message whose earlier attempt may have landed is first looked up (`findDelivered`) and adopted
 * when found, instead of being posted a second time.
 */
export class OutboxWorker {
  private readonly loop: WorkerLoop;
  /** Per (platform, channel): its messages' pace. */
  private readonly buckets = new Map<string, TokenBucket>();
  /** Per platform with a pace of its own for card updates (Slack's chat.update). */
  private readonly updateBuckets = new Map<string, TokenBucket>();
  /**
   * When the store was last asked for cards whose update was put off, and whether some may be
   * left (this process put one off since, or the last look did not take them all). A replica that
   * took over from one that put updates off finds them at the next periodic look.
   */
  private deferred = { lookedAt: Number.NEGATIVE_INFINITY, mayBeLeft: true };
  /** A tick asked for when a paced channel may send again (ms since the epoch), and its timer. */
  private wake: { at: number; timer: NodeJS.Timeout } | undefined;

  /** Storm digests of channels whose new cards queue beyond their pace. */
  private readonly desk: StormDesk;

  constructor(private readonly o: OutboxWorkerOptions) {
    this.desk = new StormDesk({
      store: o.store,
      clock: o.clock,
      log: o.log,
      redact: o.redact,
      settings: o.storms ?? DEFAULT_STORM_SETTINGS,
      bucket: (platform, channel, which) => this.bucketOf(platform, channel, which, o.clock().getTime()),
      wakeAt: (at) => this.wakeAt(at, o.clock().getTime()),
    });
    this.loop = new WorkerLoop(() => this.tick(), o.pollMs ?? 500, (error) => o.log.error({ err: error }, 'outbox tick failed'), NUDGED_TICK_GAP_MS);
  }

  start(): void {
    this.loop.start();
  }

  /**
   * Asks for a tick. `targets`: the channels the new messages are for. When every one of them is
   * over its pace, no tick could send them yet, so none runs now; one is set for when the first of
   * them may send again. Under a storm that spares a heads query per stored notification.
   */
  nudge(targets?: readonly DeliveryTarget[]): void {
    if (targets && targets.length > 0) {
      const now = this.o.clock().getTime();
      const first = Math.min(...targets.map((t) => this.nextSendAt(t.platform, t.channel, now)));
      if (first > now) return this.wakeAt(first, now);
    }
    this.loop.nudge();
  }

  stop(): Promise<void> {
    if (this.wake) clearTimeout(this.wake.timer);
    this.wake = undefined;
    return this.loop.stop();
  }

  /** Sends what is due now, once (used to drain at shutdown). */
  runOnce(): Promise<void> {
    return this.loop.runOnce();
  }

  private async tick(): Promise<void> {
    if (!(this.o.leadership ?? alwaysLeader).isLeader()) return;
    await this.requeueDeferredUpdates();
    // Storms first: a digest whose channel has nothing left to send still has to say it is over.
    const storms = await this.desk.openStorms();
    for (const storm of storms.values()) {
      const platform = this.o.platforms.get(storm.platform);
      if (platform) await this.desk.afterLane(platform, storm);
    }
    // Each round sends the head of every due thread; the next message of a thread becomes its head
    // only once the previous one is sent. Rounds stop when nothing could be sent.
    for (let round = 0; round < MAX_ROUNDS_PER_TICK; round += 1) {
      const now = this.o.clock().toISOString();
      const heads = await this.o.store.transaction((tx) => tx.dueThreadHeads(now, this.o.batchSize ?? 200));
      let sent = 0;
      // Channels are sent to side by side, each channel's heads one after another (its cards stay
      // in order, and its pace is counted before each send). One at a time across all channels,
      // the whole bot sent at most one message per API round trip.
      await mapConcurrently(byChannel(heads), CHANNELS_AT_ONCE, async (lane) => {
        const platform = lane[0] && this.o.platforms.get(lane[0].platform);
        // A storm's digest goes before the lane's cards; its cards may be held (STORM_CARDS_PER_MINUTE).
        const storm = platform ? await this.desk.beforeLane(platform, lane, storms) : undefined;
        for (const message of lane) {
          if (await this.desk.folds(message)) {
            await this.o.store.transaction((tx) => tx.completeOutbox(message.id, this.o.clock().toISOString()));
            sent += 1;
            continue;
          }
          if (!this.desk.mayPostCard(storm, message)) continue;
          // A channel over its pace waits until it may send again; its threads keep their order.
          if (!this.takeToken(message)) {
            const now = this.o.clock().getTime();
            this.wakeAt(this.nextSendAt(message.platform, message.channel, now), now);
            continue;
          }
          if (await this.deliver(message)) sent += 1;
        }
        if (platform) await this.desk.afterLane(platform, storm);
      });
      if (sent === 0) return;
    }
  }

  /** Takes one of the channel's tokens (refilled at the platform's pace); true when it has no pace. */
  private takeToken(message: OutboxMessage): boolean {
    const now = this.o.clock().getTime();
    return this.channelBucket(message.platform, message.channel, now)?.take(now) ?? true;
  }

  /** When the channel may send its next message: `now` if it has a token (or no pace). */
  private nextSendAt(platform: string, channel: string, now: number): number {
    return this.channelBucket(platform, channel, now)?.nextAt(now) ?? now;
  }

  private channelBucket(platform: string, channel: string, now: number): TokenBucket | undefined {
    const pacing = this.o.platforms.get(platform)?.pacing;
    if (!pacing) return undefined;
    const key = `${platform}\u0000${channel}`;
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new TokenBucket(pacing.messagesPerSecond * PACING_MARGIN, pacing.burst, now)));
    return bucket;
  }

  /** The pace of card updates on a platform that has one apart from its messages (see ChatPacing.updates). */
  private updateBucket(platform: string, now: number): TokenBucket | undefined {
    const updates = this.o.platforms.get(platform)?.pacing?.updates;
    if (!updates) return undefined;
    let bucket = this.updateBuckets.get(platform);
    if (!bucket) this.updateBuckets.set(platform, (bucket = new TokenBucket((updates.perMinute / 60) * PACING_MARGIN, updates.burst, now)));
    return bucket;
  }

  /**
   * Whether a posted card or reply may be updated now. On a platform that paces updates apart, the
   * channel token taken for this message goes back (an update is not one of the channel's
   * messages) and an update token is taken instead, when there is one.
   */
  private mayUpdate(message: OutboxMessage, now: number): boolean {
    const updates = this.updateBucket(message.platform, now);
    if (!updates) return true;
    this.channelBucket(message.platform, message.channel, now)?.giveBack(now);
    return updates.take(now);
  }

  /**
   * Cards whose update was put off (deferCardUpdate) get their sync queued again, at the back of
   * their thread, as many as the platform's update pace allows now; the rest wait for the next
   * tick. A card with a sync already waiting needs no other.
   */
  private async requeueDeferredUpdates(): Promise<void> {
    const now = this.o.clock();
    if (!this.deferred.mayBeLeft && now.getTime() - this.deferred.lookedAt < DEFERRED_LOOK_MS) return;
    let left = false;
    for (const platform of this.o.platforms.keys()) {
      const bucket = this.updateBucket(platform, now.getTime());
      if (!bucket) continue;
      const room = bucket.available(now.getTime());
      if (room === 0) {
        left = true;
        continue;
      }
      const taken = await this.o.store.transaction(async (tx) => {
        const cards = await tx.cardsWantingRefresh(platform, room);
        for (const card of cards) {
          await tx.clearCardRefresh(card);
          if ((await tx.pendingCardSync(card.platform, card.channel, card.incidentId)) !== undefined) continue;
          await tx.enqueueOutbox({ ...card, kind: 'card', payload: null, at: now.toISOString() });
        }
        return cards.length;
      });
      if (taken === room) left = true;
    }
    this.deferred = { lookedAt: now.getTime(), mayBeLeft: left };
  }

  /** Sets a tick for `at`, unless one is set for earlier. */
  private wakeAt(at: number, now: number): void {
    if (this.wake && this.wake.at <= at) return;
    if (this.wake) clearTimeout(this.wake.timer);
    const timer = setTimeout(() => {
      this.wake = undefined;
      this.loop.nudge();
    }, at - now);
    timer.unref();
    this.wake = { at, timer };
  }

  private async deliver(message: OutboxMessage): Promise<boolean> {
    const platform = this.o.platforms.get(message.platform);
    const attempt: Attempt = { inDoubt: message.sendingSince !== undefined };
    try {
      if (!platform) throw new ChatDeliveryError(`platform "${message.platform}" is not enabled`, { permanent: true });
      if (message.kind === 'post') await this.postToChannel(platform, message, attempt);
      else if (!ofIncident(message)) throw new ChatDeliveryError(`outbox ${message.kind} ${message.id} has no incident`, { permanent: true });
      else if (message.kind === 'card') await this.syncCard(platform, message, attempt);
      else if (message.kind === 'edit') return await this.editReply(platform, message, attempt);
      else await this.reply(platform, message, attempt);
      return true;
    } catch (error) {
      const details = error instanceof ChatDeliveryError ? error.details : {};
      if (details.retryAfterMs !== undefined && attempt.charged) this.rateLimited(message, attempt.charged, details.retryAfterMs);
      const waitingForCard = error instanceof CardNotPostedYet;
      const delay = details.retryAfterMs ?? (waitingForCard ? WAIT_FOR_CARD_MS : Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(message.attempts, 16)));
      const next = new Date(this.o.clock().getTime() + delay).toISOString();
      const text = error instanceof Error ? error.message : String(error);
      await this.o.store.transaction((tx) => tx.retryOutbox(message.id, next, text, { mayHaveBeenDelivered: attempt.inDoubt }));
      if (!waitingForCard) {
        this.o.metrics.chatApiErrors.inc({ platform: message.platform, operation: message.kind });
        const level = details.permanent || message.attempts >= 5 ? 'error' : 'warn';
        this.o.log[level](
          { outboxId: message.id, platform: message.platform, attempts: message.attempts + 1, retryInMs: delay, mayHaveBeenDelivered: attempt.inDoubt, error: text },
          'chat delivery failed; will retry',
        );
      }
      return false;
    }
  }

  private async syncCard(platform: ChatPlatform, message: IncidentMessage, attempt: Attempt): Promise<void> {
    const now = this.o.clock();
    const prepared = await this.o.store.transaction(async (tx) => {
      const ref = await tx.getCardMessage(message.incidentId, message.platform, message.channel);
      if (ref && !this.mayUpdate(message, now.getTime())) {
        // Over the update pace: the card is marked and its sync leaves the thread, whose replies
        // go on; requeueDeferredUpdates queues it again once an update may go.
        await tx.deferCardUpdate(message.id, message, now.toISOString());
        this.deferred.mayBeLeft = true;
        return undefined;
      }
      // Marked as being sent in the transaction that renders it: a change recorded from now on
      // queues a sync of its own (see pendingCardSync) instead of relying on this one, which
      // shows the card as it is now.
      await tx.markSending(message.id, now.toISOString());
      return { ref, card: redactCard(await this.o.renderCard(tx, message.incidentId), this.o.redact) };
    });
    if (!prepared) {
      const at = this.updateBucket(message.platform, now.getTime())?.nextAt(now.getTime());
      if (at !== undefined) this.wakeAt(at, now.getTime());
      return;
    }
    const { ref, card } = prepared;
    if (ref && (await this.updateCard(platform, message, ref, card, attempt))) return;
    // No card yet, or it was deleted. An earlier attempt of this message may have posted it already.
    const found = await this.findEarlierPost(platform, message, attempt);
    if (found) {
      // Adopted: its ref is saved first (so it is never posted again), then it is brought up to
      // date like any posted card, since it shows the card as it was rendered back then.
      await this.o.store.transaction((tx) => tx.saveCardMessage(message.incidentId, found));
      if (await this.updateCard(platform, message, found, card, attempt)) return;
    }
    // Marked as being sent already, by the transaction that rendered the card.
    const posted = await this.post(message, attempt, (options) => platform.postCard(message.channel, card, options), { marked: true });
    // Saving the ref and completing happen together, so a card is never posted twice by this worker.
    await this.o.store.transaction(async (tx) => {
      await tx.saveCardMessage(message.incidentId, posted);
      await tx.completeOutbox(message.id, this.o.clock().toISOString());
    });
  }

  /** Updates a posted card and completes the message; false when the card was deleted (it must be posted again). */
  private async updateCard(platform: ChatPlatform, message: IncidentMessage, ref: MessageRef, card: Card, attempt: Attempt): Promise<boolean> {
    try {
      await this.charging(message, attempt, 'updates', () => platform.updateCard(ref, card));
    } catch (error) {
      // Someone deleted the card: post it again (with a new thread) rather than retry for ever.
      if (!(error instanceof ChatDeliveryError && error.details.messageGone)) throw error;
      this.o.log.warn({ incidentId: message.incidentId, platform: message.platform }, 'card was deleted; posting it again');
      return false;
    }
    await this.o.store.transaction((tx) => tx.completeOutbox(message.id, this.o.clock().toISOString()));
    return true;
  }

  /** A message of its own in a channel (no incident, no thread), with the same exactly-once handling as a card. */
  private async postToChannel(platform: ChatPlatform, message: OutboxMessage, attempt: Attempt): Promise<void> {
    const post = message.payload as ThreadMessage;
    const found = await this.findEarlierPost(platform, message, attempt);
    if (!found) await this.post(message, attempt, (options) => platform.postMessage(message.channel, { ...post, text: escapeControls(this.o.redact(post.text)) }, options));
    await this.o.store.transaction((tx) => tx.completeOutbox(message.id, this.o.clock().toISOString()));
  }

  /** Posts in the card's thread: a reply, or an edit whose reply could not be edited. `shown`: the message already redacted. */
  private async reply(platform: ChatPlatform, message: IncidentMessage, attempt: Attempt, shown?: ThreadMessage): Promise<void> {
    const ref = await this.o.store.transaction((tx) => tx.getCardMessage(message.incidentId, message.platform, message.channel));
    if (!ref) throw new CardNotPostedYet();
    const reply = message.payload as ThreadMessage;
    const found = await this.findEarlierPost(platform, message, attempt, ref);
    const posted = found ?? (await this.post(message, attempt, (options) => platform.reply(ref, shown ?? { ...reply, text: escapeControls(this.o.redact(reply.text)) }, options)));
    // A message with a subject may be edited later (editReply): where it landed is kept with it.
    await this.o.store.transaction((tx) => tx.completeOutbox(message.id, this.o.clock().toISOString(), message.subject === undefined ? undefined : posted));
  }

  /**
   * Edits the reply of the same subject in this thread, which was sent before (it was queued first,
   * and a thread goes in order). Paced as an update. Editing twice shows the same, so a retry
   * needs no look-up. False when the update pace does not allow it yet: it stays at the head of its
   * thread until it does.
   *
   * Nothing is lost when the reply cannot be edited: deleted, refused for good (a platform's edit
   * window closed), or sent before replies kept where they landed. The edit is then posted in the
   * thread as a reply of its own, and where it landed is kept with it: later edits of the subject
   * edit that one. That rare post goes out on the update's token, not one of the channel's.
   */
  private async editReply(platform: ChatPlatform, message: IncidentMessage, attempt: Attempt): Promise<boolean> {
    const now = this.o.clock().getTime();
    const log = { outboxId: message.id, platform: message.platform, incidentId: message.incidentId, subject: message.subject };
    const edit = message.payload as ThreadMessage;
    const text = { ...edit, text: escapeControls(this.o.redact(edit.text)) };
    // An attempt in doubt was posting it anew (below): it is looked for, and posted again only if not found.
    if (!attempt.inDoubt) {
      if (!this.mayUpdate(message, now)) {
        const at = this.updateBucket(message.platform, now)?.nextAt(now);
        if (at !== undefined) this.wakeAt(at, now);
        return false;
      }
      const subject = message.subject;
      const ref = subject === undefined ? undefined : await this.o.store.transaction((tx) => tx.postedReply(message.platform, message.channel, message.incidentId, subject));
      if (ref && (await this.updateReply(platform, message, attempt, ref, text, log))) {
        await this.o.store.transaction((tx) => tx.completeOutbox(message.id, this.o.clock().toISOString()));
        return true;
      }
      if (!ref) this.o.log.warn(log, 'no posted reply to edit; posting the edit as a reply of its own');
    }
    await this.reply(platform, message, attempt, text);
    return true;
  }

  /** Replaces a posted reply; false when the platform says it cannot be edited any more (deleted, or refused for good). */
  private async updateReply(platform: ChatPlatform, message: IncidentMessage, attempt: Attempt, ref: MessageRef, edit: ThreadMessage, log: object): Promise<boolean> {
    try {
      await this.charging(message, attempt, 'updates', () => platform.updateMessage(ref, edit));
      return true;
    } catch (error) {
      const details = error instanceof ChatDeliveryError ? error.details : {};
      if (!(details.messageGone || (details.permanent && details.refused))) throw error;
      this.o.log.warn({ ...log, error: error instanceof Error ? error.message : String(error) }, 'the reply to edit was deleted or cannot be edited; posting the edit as a reply of its own');
      return false;
    }
  }

  /**
   * Makes a call charged to one of the message's buckets: a 429 for it pauses that bucket (see
   * deliver), and its answer caps the bucket (TokenBucket.landed).
   */
  private async charging<T>(message: OutboxMessage, attempt: Attempt, bucket: 'channel' | 'updates', call: () => Promise<T>): Promise<T> {
    attempt.charged = bucket;
    try {
      return await call();
    } finally {
      const now = this.o.clock().getTime();
      this.bucketOf(message.platform, message.channel, bucket, now)?.landed(now);
    }
  }

  /** A channel's messages, or the platform's updates (the channel's messages where updates have no pace of their own). */
  private bucketOf(platform: string, channel: string, bucket: 'channel' | 'updates', now: number): TokenBucket | undefined {
    if (bucket === 'updates') return this.updateBucket(platform, now) ?? this.channelBucket(platform, channel, now);
    return this.channelBucket(platform, channel, now);
  }

  /**
   * The platform answered 429 with Retry-After for a bucket: nothing more goes to it (the channel,
   * or the platform's updates) until then, not only the call refused. A tick is set for then.
   */
  private rateLimited(target: DeliveryTarget, bucket: 'channel' | 'updates', retryAfterMs: number): void {
    const now = this.o.clock().getTime();
    const paused = this.bucketOf(target.platform, target.channel, bucket, now);
    if (!paused) return;
    paused.pauseUntil(now + retryAfterMs, now);
    this.o.log.warn({ platform: target.platform, channel: target.channel, bucket, retryAfterMs }, 'rate limited: nothing more goes to this bucket until Retry-After has passed');
    this.wakeAt(now + retryAfterMs, now);
  }

  /**
   * When an earlier attempt may have posted this message, asks the platform for it (top-level in the
   * channel, or in `thread`). Undefined when it is not there, when nothing is in doubt, or when the
   * platform cannot look; the message is then posted (again, in the last case: at-least-once).
   * A failed look-up throws, and the message stays in doubt for the next attempt.
   */
  private async findEarlierPost(platform: ChatPlatform, message: OutboxMessage, attempt: Attempt, thread?: MessageRef): Promise<MessageRef | undefined> {
    if (!attempt.inDoubt || !platform.findDelivered) return undefined;
    const found = await platform.findDelivered(message.channel, deliveryKey(message), thread, new Date(message.createdAt));
    // Settled either way: adopted now, or not there (or not knowable), so posted below.
    attempt.inDoubt = false;
    this.o.log.info(
      { outboxId: message.id, platform: message.platform, kind: message.kind, found: found?.messageId ?? null },
      found ? 'an earlier attempt had posted this message; adopting it instead of posting again' : 'no earlier post of this message found; posting it',
    );
    return found;
  }

  /**
   * Posts with the message's delivery key. Intent is committed first (`markSending`, or with
   * `marked` by the caller's own transaction before any call to the platform), so that a
   * crash during the call leaves the message in doubt for the next attempt; so does a failure that
   * is not a certain refusal (a timeout or a lost answer can hide a post that went through).
   */
  private async post(message: OutboxMessage, attempt: Attempt, send: (options: PostOptions) => Promise<MessageRef>, options: { marked?: boolean } = {}): Promise<MessageRef> {
    const earlierInDoubt = attempt.inDoubt;
    if (!options.marked) await this.o.store.transaction((tx) => tx.markSending(message.id, this.o.clock().toISOString()));
    attempt.inDoubt = true;
    try {
      return await this.charging(message, attempt, 'channel', () => send({ deliveryKey: deliveryKey(message) }));
    } catch (error) {
      // An earlier attempt that could not be looked up stays in doubt whatever this one says.
      attempt.inDoubt = earlierInDoubt || !certainlyNotDelivered(error);
      throw error;
    }
  }
}

/** Heads grouped by (platform, channel), in the order they came (most urgent first, see dueThreadHeads). */
function byChannel(heads: readonly OutboxMessage[]): OutboxMessage[][] {
  const lanes = new Map<string, OutboxMessage[]>();
  for (const m of heads) {
    const key = `${m.platform}\u0000${m.channel}`;
    const lane = lanes.get(key);
    if (lane) lane.push(m);
    else lanes.set(key, [m]);
  }
  return [...lanes.values()];
}

/** A card or reply: a message of an incident's card and thread. */
type IncidentMessage = OutboxMessage & { incidentId: number };

function ofIncident(message: OutboxMessage): message is IncidentMessage {
  return message.incidentId !== null;
}

/** What one delivery attempt knows: whether the message may be on the platform without the store knowing. */
interface Attempt {
  inDoubt: boolean;
  /** Which of the message's buckets the call under way is charged to: a 429 for it pauses that bucket. */
  charged?: 'channel' | 'updates' | undefined;
}

/**
 * The key a message is posted with, so the platform can find it again or recognise a repeat. The
 * queue time is part of it: row ids start again from 1 in a new database (a bot redeployed without
 * its volume), and such a row must not be taken for a message of the old one.
 */
export function deliveryKey(message: Pick<OutboxMessage, 'id' | 'createdAt'>): string {
  return `outbox:${message.id}@${message.createdAt}`;
}

class CardNotPostedYet extends Error {
  constructor() {
    super('the card for this thread is not posted yet');
  }
}
