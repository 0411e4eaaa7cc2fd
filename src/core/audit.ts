import { createHash } from 'node:crypto';
import type { AuditEvent, NewAuditEvent } from './domain.js';
import type { StoreTx } from './ports/store.js';

/**
 * Each incident's audit events form a hash chain: a record's hash covers the previous record's
 * hash (of the same incident) and its own content, so an edit, insertion or deletion breaks every
 * link after it, and one incident's trail can be verified on its own. Events without an incident
 * (refusals of unknown targets) form a chain of their own.
 */
export function auditHash(prevHash: string, event: NewAuditEvent): string {
  const content = JSON.stringify([prevHash, event.at, event.incidentId, event.actor, event.kind, event.text, event.data]);
  return createHash('sha256').update(content).digest('hex');
}

export async function appendAudit(tx: StoreTx, event: NewAuditEvent): Promise<AuditEvent> {
  const prevHash = await tx.lastAuditHash(event.incidentId);
  return tx.insertAudit({ ...event, prevHash, hash: auditHash(prevHash, event) });
}

/** Returns the seq of the first record whose chain link is broken, or undefined when whole. */
export function firstBrokenLink(events: readonly AuditEvent[], initialPrevHash = ''): number | undefined {
  let prev = initialPrevHash;
  for (const e of events) {
    if (e.prevHash !== prev || e.hash !== auditHash(prev, e)) return e.seq;
    prev = e.hash;
  }
  return undefined;
}
