import type { webApi } from '@slack/bolt';
import { z } from 'zod';

/**
 * Finding a post again after its outcome was lost. chat.postMessage has no idempotency key, so
 * every post of the outbox carries its delivery key as message metadata
 * (docs.slack.dev/messaging/message-metadata), and a retry in doubt reads the channel's recent
 * history (or the card's thread) for a message with that key before posting again.
 *
 * Reading history needs the `channels:history` scope (`groups:history` for private channels) and
 * the bot being a member of the channel. Without them the look-up cannot tell, and the outbox
 * posts again: at-least-once, as before.
 */

/** The metadata event type of the bot's posts. */
export const DELIVERY_EVENT_TYPE = 'chatops_delivery';

/** Slack's `ts` is Slack's clock, the queue time ours: look this much further back. */
const CLOCK_SKEW_MS = 60_000;
/** Messages per page, and pages read at most: a busy channel's last few hundred messages. */
const PAGE_SIZE = 100;
const MAX_PAGES = 5;

/** The `metadata` argument of chat.postMessage for a delivery key (nothing without one). */
export function deliveryMetadata(key: string | undefined): { metadata?: { event_type: string; event_payload: { key: string } } } {
  return key === undefined ? {} : { metadata: { event_type: DELIVERY_EVENT_TYPE, event_payload: { key } } };
}

const Message = z.looseObject({
  ts: z.string(),
  metadata: z.looseObject({ event_type: z.string().optional(), event_payload: z.looseObject({ key: z.unknown() }).optional() }).optional(),
});
const Page = z.looseObject({
  messages: z.array(z.unknown()).optional(),
  response_metadata: z.looseObject({ next_cursor: z.string().optional() }).optional(),
});

export interface DeliveryQuery {
  channel: string;
  key: string;
  /** The thread's parent ts, for a reply; a top-level message otherwise. */
  threadTs?: string | undefined;
  /** When the message was queued: nothing with its key is older. */
  queuedAt?: Date | undefined;
}

/**
 * The ts of the message posted with `key`, or undefined. Errors are the WebClient's (the caller
 * turns them into delivery errors).
 */
export async function findByDeliveryKey(client: webApi.WebClient, q: DeliveryQuery): Promise<string | undefined> {
  const oldest = q.queuedAt ? slackTs(q.queuedAt.getTime() - CLOCK_SKEW_MS) : undefined;
  const common = { channel: q.channel, limit: PAGE_SIZE, include_all_metadata: true, ...(oldest ? { oldest } : {}) };
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const args = { ...common, ...(cursor ? { cursor } : {}) };
    // history: the channel's top-level messages, newest first; replies: the thread, oldest first.
    const answer: unknown = q.threadTs ? await client.conversations.replies({ ...args, ts: q.threadTs }) : await client.conversations.history(args);
    const parsed = Page.safeParse(answer);
    if (!parsed.success) return undefined;
    for (const raw of parsed.data.messages ?? []) {
      const m = Message.safeParse(raw);
      if (!m.success || m.data.ts === q.threadTs) continue;
      if (m.data.metadata?.event_type === DELIVERY_EVENT_TYPE && m.data.metadata.event_payload?.key === q.key) return m.data.ts;
    }
    cursor = parsed.data.response_metadata?.next_cursor || undefined;
    if (!cursor) return undefined;
  }
  return undefined;
}

/** A Slack timestamp ("seconds.micros") for a time in ms. */
function slackTs(ms: number): string {
  const clamped = Math.max(0, Math.floor(ms));
  return `${Math.floor(clamped / 1000)}.${String((clamped % 1000) * 1000).padStart(6, '0')}`;
}
