import type { ThreadMessage } from './card.js';
import type { NewAuditEvent } from './domain.js';
import { appendAudit } from './audit.js';
import type { StoreTx } from '../store/store.js';

/** A chat channel an incident is shown in: one card and one thread per target. */
export interface DeliveryTarget {
  platform: string;
  channel: string;
}

/** Queues a card refresh for each target, unless one is already waiting (it will render the latest state). */
export async function syncCard(tx: StoreTx, targets: readonly DeliveryTarget[], incidentId: number, at: string): Promise<void> {
  for (const t of targets) {
    if ((await tx.pendingCardSync(t.platform, t.channel, incidentId)) !== undefined) continue;
    await tx.enqueueOutbox({ ...t, incidentId, kind: 'card', payload: null, at });
  }
}

/**
 * Records an audit event and posts it in the incident's thread on every target, in the same
 * transaction: an event is either stored and queued for the thread, or neither.
 */
export async function recordEvent(
  tx: StoreTx,
  targets: readonly DeliveryTarget[],
  event: NewAuditEvent & { incidentId: number },
  options: { buttons?: ThreadMessage['buttons']; refreshCard?: boolean } = {},
): Promise<void> {
  await appendAudit(tx, event);
  if (options.refreshCard) await syncCard(tx, targets, event.incidentId, event.at);
  const message: ThreadMessage = options.buttons ? { text: event.text, buttons: options.buttons } : { text: event.text };
  for (const t of targets) {
    await tx.enqueueOutbox({ ...t, incidentId: event.incidentId, kind: 'reply', payload: message, at: event.at });
  }
}
