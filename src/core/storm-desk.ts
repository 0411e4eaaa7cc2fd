import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { buildDigest, shownMembers, type DigestPage } from './digest.js';
import { NEW_CARD_PRIORITY, type OutboxMessage } from './domain.js';
import type { Redactor } from '../domain/redact.js';
import { ChatDeliveryError, certainlyNotDelivered, type ChatPlatform, type MessageRef } from './ports/chat-platform.js';
import type { Storm, StormPage } from './ports/storms.js';
import type { Store } from './ports/store.js';
import type { Clock } from './ports/clock.js';
import { TokenBucket } from './token-bucket.js';

/** The subject of an incident's opening thread message: folded into its card when the incident is listed in a digest. */
export const OPENED_SUBJECT = 'opened';

export interface StormSettings {
  /** A channel whose new cards would take longer than this to post at its pace gets a digest. */
  digestAfterSeconds: number;
  /** Cards a channel in a storm gets per minute until the storm ebbs or "Post cards" is pressed; 0: its full pace. */
  cardsPerMinute: number;
  /** The console's address, for digest lines of incidents whose card is not posted yet. */
  consoleUrl?: string | undefined;
}

export const DEFAULT_STORM_SETTINGS: StormSettings = { digestAfterSeconds: 5, cardsPerMinute: 0 };

/** No incident joined for this long: the storm ebbs, and held cards go out at the full pace. */
const EBB_MS = 30_000;
/** One page is edited at most this often: every posted card changes a line, and edits have a pace of their own. */
const PAGE_EDIT_GAP_MS = 2_000;

export interface StormDeskOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  redact: Redactor;
  settings: StormSettings;
  /**
   * The outbox's pace: a channel's messages (posts of pages) or the platform's updates (edits),
   * shared with its cards and replies; undefined where the platform has no pace.
   */
  bucket: (platform: string, channel: string, which: 'channel' | 'updates') => TokenBucket | undefined;
  /** Asks for a tick at this time (ms since the epoch). */
  wakeAt: (at: number) => void;
}

/**
 * Storm digests, run by the outbox worker on the replica that leads. When a channel's heads hold
 * more new cards than its pace posts within `digestAfterSeconds`, a storm opens there (one per
 * channel, the store makes sure), its new incidents are listed in a digest posted ahead of every
 * card and edited in place as incidents join and their cards are posted. The cards keep going
 * out, most severe first; the storm ends once each listed incident has its card and the digest
 * says so. No incident is ever hidden: it is either carded or listed.
 */
export class StormDesk {
  private readonly cardBuckets = new Map<string, TokenBucket>();
  private readonly editBuckets = new Map<string, TokenBucket>();
  /** When each page was last edited (storm id, page), for PAGE_EDIT_GAP_MS. */
  private readonly editedAt = new Map<string, number>();

  constructor(private readonly o: StormDeskOptions) {}

  /** Open storms by channel, read once per tick (a replica that takes over finds them in the store). */
  async openStorms(): Promise<Map<string, Storm>> {
    const storms = await this.o.store.transaction((tx) => tx.storms.openStorms());
    return new Map(storms.map((s) => [laneKey(s.platform, s.channel), s]));
  }

  /**
   * Before a channel's heads are sent: opens a storm when its new cards are too many for its pace,
   * lists them, and posts or edits the digest (a page post goes before any card). The storm of the
   * lane, if any.
   */
  async beforeLane(platform: ChatPlatform, lane: readonly OutboxMessage[], storms: Map<string, Storm>): Promise<Storm | undefined> {
    const first = lane[0];
    if (!first || !platform.digest || !platform.pacing) return undefined;
    const key = laneKey(first.platform, first.channel);
    const fresh = lane.filter(isNewCard);
    let storm = storms.get(key);
    const now = this.o.clock().toISOString();
    const threshold = Math.floor(platform.pacing.burst + platform.pacing.messagesPerSecond * this.o.settings.digestAfterSeconds);
    if (!storm && fresh.length > threshold) {
      storm = await this.o.store.transaction((tx) => tx.storms.startStorm(first.platform, first.channel, now));
      this.o.log.info({ platform: first.platform, channel: first.channel, stormId: storm.id, waitingCards: fresh.length }, 'storm: new incidents are listed in a digest');
    }
    if (!storm) return undefined;
    const current = storm;
    if (fresh.length > 0) {
      const ids = fresh.map((m) => m.incidentId).filter((id): id is number => id !== null);
      const joined = await this.o.store.transaction((tx) => tx.storms.joinStorm(current.id, ids, now));
      if (joined > 0) storm = { ...current, joinedAt: now };
    }
    storm = await this.show(platform, storm, false);
    storms.set(key, storm);
    return storm;
  }

  /** Whether a new card of a storm's channel may go now: always, unless cards are held to STORM_CARDS_PER_MINUTE. */
  mayPostCard(storm: Storm | undefined, message: OutboxMessage): boolean {
    if (!storm || !isNewCard(message) || this.o.settings.cardsPerMinute <= 0 || storm.released) return true;
    const now = this.o.clock().getTime();
    if (now - Date.parse(storm.joinedAt) >= EBB_MS) return true;
    const key = laneKey(storm.platform, storm.channel);
    let bucket = this.cardBuckets.get(key);
    if (!bucket) this.cardBuckets.set(key, (bucket = new TokenBucket(this.o.settings.cardsPerMinute / 60, 1, now)));
    if (bucket.take(now)) return true;
    this.o.wakeAt(Math.min(bucket.nextAt(now), Date.parse(storm.joinedAt) + EBB_MS));
    return false;
  }

  /** An opening thread message of an incident listed in a digest of its channel: the card already says it. */
  async folds(message: OutboxMessage): Promise<boolean> {
    if (message.kind !== 'reply' || message.subject !== OPENED_SUBJECT || message.incidentId === null) return false;
    const incidentId = message.incidentId;
    return this.o.store.transaction((tx) => tx.storms.inStorm(message.platform, message.channel, incidentId));
  }

  /** After a lane was sent: a storm whose every incident is carded says so in its digest, then ends. */
  async afterLane(platform: ChatPlatform, storm: Storm | undefined): Promise<void> {
    if (!storm || !platform.digest) return;
    const members = await this.o.store.transaction((tx) => tx.storms.stormMembers(storm.id));
    if (members.some((m) => m.card === null)) return;
    const shown = await this.show(platform, storm, true);
    if (shown.postingSince !== null || (await this.pagesFor(platform, shown, true)).some((p, i) => shown.pages[i]?.shows !== pageFingerprint(p))) return;
    await this.o.store.transaction((tx) => tx.storms.endStorm(storm.id, this.o.clock().toISOString()));
    this.o.log.info({ platform: storm.platform, channel: storm.channel, stormId: storm.id, incidents: members.length }, 'storm over: every listed incident has its card');
  }

  private async pagesFor(platform: ChatPlatform, storm: Storm, ending: boolean): Promise<DigestPage[]> {
    const members = await this.o.store.transaction((tx) => tx.storms.stormMembers(storm.id));
    const safe = shownMembers(members, this.o.redact);
    const view = ending ? { ...storm, endedAt: this.o.clock().toISOString() } : storm;
    const holding = this.o.settings.cardsPerMinute > 0 && !storm.released;
    return platform.digest?.paginate(buildDigest(view, safe, { consoleUrl: this.o.settings.consoleUrl, holding })) ?? [];
  }

  /**
   * Brings the digest up to date as far as the pace allows now: posts the next missing page (one
   * per call, on a channel token), or edits the pages whose content changed (on update tokens, at
   * most one edit per page per PAGE_EDIT_GAP_MS). A page post in doubt is looked up first.
   */
  private async show(platform: ChatPlatform, storm: Storm, ending: boolean): Promise<Storm> {
    const digest = platform.digest;
    if (!digest) return storm;
    const pages = await this.pagesFor(platform, storm, ending);
    const saved = [...storm.pages];
    const next = pages[saved.length];
    if (next) {
      const key = pageKey(storm, saved.length + 1);
      let ref: MessageRef | undefined;
      if (storm.postingSince !== null && platform.findDelivered) ref = await platform.findDelivered(storm.channel, key, undefined, new Date(storm.postingSince));
      if (!ref) {
        const bucket = this.o.bucket(storm.platform, storm.channel, 'channel');
        if (!this.take(bucket)) return storm;
        const since = this.o.clock().toISOString();
        await this.o.store.transaction((tx) => tx.storms.savePages(storm.id, saved, since));
        try {
          ref = await this.charged(bucket, () => digest.post(storm.channel, next, { deliveryKey: key }));
        } catch (error) {
          // A certain refusal clears the doubt; anything else leaves it for the look-up above.
          if (certainlyNotDelivered(error)) await this.o.store.transaction((tx) => tx.storms.savePages(storm.id, saved, null));
          this.failed(storm, 'post', error, bucket);
          return { ...storm, postingSince: certainlyNotDelivered(error) ? null : since };
        }
      }
      const posted = [...saved, { ref, shows: pageFingerprint(next) }];
      await this.o.store.transaction((tx) => tx.storms.savePages(storm.id, posted, null));
      return { ...storm, pages: posted, postingSince: null };
    }
    let changed = false;
    const now = this.o.clock().getTime();
    // Last page first, and no page before one that could not be edited yet: lines only ever move
    // to later pages (incidents join, lines grow a link), so a line leaving a page is on the next
    // one already. It may show twice for a moment; it is never missing.
    for (let i = saved.length - 1; i >= 0; i -= 1) {
      const page = saved[i];
      if (!page) continue;
      const content: DigestPage = pages[i] ?? { digest: pages[0]?.digest ?? emptyDigest(storm), page: i + 1, pages: pages.length, lines: [] };
      const shows = pageFingerprint(content);
      if (page.shows === shows) continue;
      const at = this.editedAt.get(`${storm.id}:${i}`) ?? Number.NEGATIVE_INFINITY;
      if (now - at < PAGE_EDIT_GAP_MS) {
        this.o.wakeAt(at + PAGE_EDIT_GAP_MS);
        break;
      }
      const bucket = this.editBucket(platform, storm);
      if (!this.take(bucket)) break;
      this.editedAt.set(`${storm.id}:${i}`, now);
      try {
        await this.charged(bucket, () => digest.update(page.ref, content));
      } catch (error) {
        this.failed(storm, 'edit', error, bucket);
        if (!(error instanceof ChatDeliveryError && error.details.messageGone)) break;
        // Someone deleted the page: it is posted again by the next call.
        saved.splice(i);
        changed = true;
        break;
      }
      saved[i] = { ref: page.ref, shows };
      changed = true;
    }
    if (!changed) return storm;
    await this.o.store.transaction((tx) => tx.storms.savePages(storm.id, saved, null));
    return { ...storm, pages: saved };
  }

  /** The pace of a storm's page edits: a bucket of the desk's own where the platform paces edits per channel apart (Discord), else the platform's updates. */
  private editBucket(platform: ChatPlatform, storm: Storm): TokenBucket | undefined {
    const perSecond = platform.digest?.editsPerSecond;
    if (perSecond === undefined) return this.o.bucket(storm.platform, storm.channel, 'updates');
    const now = this.o.clock().getTime();
    const key = laneKey(storm.platform, storm.channel);
    let bucket = this.editBuckets.get(key);
    if (!bucket) this.editBuckets.set(key, (bucket = new TokenBucket(perSecond * 0.9, 1, now)));
    return bucket;
  }

  /** Takes a token (true where there is no pace); without one, a tick is asked for when there is. */
  private take(bucket: TokenBucket | undefined): boolean {
    if (!bucket) return true;
    const now = this.o.clock().getTime();
    if (bucket.take(now)) return true;
    this.o.wakeAt(bucket.nextAt(now));
    return false;
  }

  /** A call charged to `bucket`: once answered, the bucket is capped as the platform's may be (TokenBucket.landed). */
  private async charged<T>(bucket: TokenBucket | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } finally {
      bucket?.landed(this.o.clock().getTime());
    }
  }

  /** A 429 pauses the whole bucket the call was charged to until its Retry-After, as for cards. */
  private failed(storm: Storm, what: 'post' | 'edit', error: unknown, bucket: TokenBucket | undefined): void {
    const retryAfterMs = error instanceof ChatDeliveryError ? error.details.retryAfterMs : undefined;
    if (retryAfterMs !== undefined) {
      const now = this.o.clock().getTime();
      bucket?.pauseUntil(now + retryAfterMs, now);
      this.o.wakeAt(now + retryAfterMs);
    }
    this.o.log.warn({ stormId: storm.id, platform: storm.platform, channel: storm.channel, retryAfterMs, error: error instanceof Error ? error.message : String(error) }, `storm digest ${what} failed; will retry`);
  }
}

export function isNewCard(message: OutboxMessage): boolean {
  return message.kind === 'card' && message.priority !== undefined && message.priority < NEW_CARD_PRIORITY;
}

function laneKey(platform: string, channel: string): string {
  return `${platform}\u0000${channel}`;
}

/** A page's delivery key: the storm's start time keeps it apart from a storm of a former database with the same id. */
function pageKey(storm: Storm, page: number): string {
  return `storm:${storm.id}:${page}@${storm.startedAt}`;
}

/** What a page shows: its lines (with their cards) and, on the first page, the header. */
export function pageFingerprint(page: DigestPage): string {
  const d = page.digest;
  const header = page.page === 1 ? [d.ended, d.total, d.carded, d.bySeverity, d.byService, d.button?.id ?? null] : [];
  return createHash('sha256').update(JSON.stringify([page.page, page.pages, header, page.lines])).digest('hex').slice(0, 32);
}

function emptyDigest(storm: Storm) {
  return buildDigest(storm, [], { holding: false });
}

export type { StormPage };
