import type { Severity } from '../card.js';
import type { MessageRef } from './chat-platform.js';

/**
 * A storm in one channel: more new cards waiting than the channel's pace posts within a few
 * seconds. Its incidents are listed in a digest (one or more messages, edited in place) until
 * each has its card. At most one storm is open per (platform, channel): the store refuses a
 * second, so two replicas can never start two digests for one storm.
 */
export interface Storm {
  id: number;
  platform: string;
  channel: string;
  startedAt: string;
  endedAt: string | null;
  /** "Post cards" was pressed: the storm's cards go out at the channel's full pace. */
  released: boolean;
  /** The digest's messages in page order, each with a fingerprint of what it shows now. */
  pages: StormPage[];
  /** A page post was sent at this time and its outcome not recorded: it may be in the channel. */
  postingSince: string | null;
  /** When an incident last joined. */
  joinedAt: string;
}

export interface StormPage {
  ref: MessageRef;
  /** What the page shows (a hash of its rendering), so an unchanged page is not edited. */
  shows: string;
}

/** One incident as its digest line shows it. */
export interface StormMember {
  incidentId: number;
  title: string;
  severity: Severity;
  status: 'firing' | 'resolved';
  service: string | null;
  createdAt: string;
  /** Where its card is in this channel, once posted. */
  card: MessageRef | null;
}

/** The storms' part of a transaction (see Storm). */
export interface StormTx {
  /** Open storms, of every platform and channel. */
  openStorms(): Promise<Storm[]>;
  /** Opens a storm in the channel; the one already open there when there is one. */
  startStorm(platform: string, channel: string, at: string): Promise<Storm>;
  getStorm(id: number): Promise<Storm | undefined>;
  /** Adds incidents to the storm (those already in it are skipped); returns how many were new. */
  joinStorm(stormId: number, incidentIds: readonly number[], at: string): Promise<number>;
  /** The storm's incidents with their cards in its channel. */
  stormMembers(stormId: number): Promise<StormMember[]>;
  /** Whether the incident is listed in a digest of this channel (open or ended storm). */
  inStorm(platform: string, channel: string, incidentId: number): Promise<boolean>;
  /** Records the digest's pages and whether a page post is in doubt. */
  savePages(stormId: number, pages: readonly StormPage[], postingSince: string | null): Promise<void>;
  /** "Post cards": false when the storm was not open. */
  releaseStorm(stormId: number): Promise<boolean>;
  endStorm(stormId: number, at: string): Promise<void>;
  /** Storms of a channel, newest first (the console shows them). */
  recentStorms(limit: number): Promise<Storm[]>;
}
