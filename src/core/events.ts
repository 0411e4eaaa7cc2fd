import type { Mention, ThreadMessage } from './card.js';
import type { DeliveryTarget, NewAuditEvent } from './domain.js';
import { appendAudit } from './audit.js';
import type { StoreTx } from './ports/store.js';

export type { DeliveryTarget } from './domain.js';

/**
 * Queues a card refresh on each of the incident's targets, unless one is already waiting (it will
 * render the latest state). `targets`: the incident's, when the caller has just read them.
 */
export async function syncCard(tx: StoreTx, incidentId: number, at: string, targets?: readonly DeliveryTarget[]): Promise<void> {
  for (const t of targets ?? (await tx.incidentTargets(incidentId))) {
    if ((await tx.pendingCardSync(t.platform, t.channel, incidentId)) !== undefined) continue;
    await tx.enqueueOutbox({ ...t, incidentId, kind: 'card', payload: null, at });
  }
}

/**
 * Records an audit event and posts it in the incident's thread on each of its targets, in the same
 * transaction: an event is either stored and queued for the thread, or neither. Events of a step
 * run after its request are lines of the run's message instead (run-thread.ts).
 */
export async function recordEvent(
  tx: StoreTx,
  event: NewAuditEvent & { incidentId: number },
  options: { buttons?: ThreadMessage['buttons']; menu?: ThreadMessage['menu']; refreshCard?: boolean; mentions?: readonly Mention[]; subject?: string; shown?: string } = {},
): Promise<void> {
  await appendAudit(tx, event);
  const targets = await tx.incidentTargets(event.incidentId);
  if (options.refreshCard) await syncCard(tx, event.incidentId, event.at, targets);
  // `shown`: what the thread shows when it differs from the record (a run's message carries its time).
  const text = options.shown ?? event.text;
  const message: ThreadMessage = { text, ...(options.buttons ? { buttons: options.buttons } : {}), ...(options.menu ? { menu: options.menu } : {}) };
  for (const t of targets) {
    // Every thread gets every mention: each platform's renderer pings its own and names the others' (the console names all).
    const payload = options.mentions?.length ? { ...message, mentions: [...options.mentions] } : message;
    await tx.enqueueOutbox({ ...t, incidentId: event.incidentId, kind: 'reply', payload, at: event.at, subject: options.subject });
  }
}
