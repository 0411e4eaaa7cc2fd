import type { Incident } from './domain.js';
import { NotAllowedError } from '../domain/errors.js';
import { recordEvent } from './events.js';
import { actorId, type Actor } from './policy.js';
import { formatDuration, formatTime } from './time.js';
import type { StoreTx } from './ports/store.js';
import { t } from './i18n/index.js';

function refuse(incidentId: number | null, reason: string): never {
  throw new NotAllowedError(reason, { incidentId, kind: 'incident.refused', data: { action: 'ack' } });
}

/**
 * Someone takes ownership of an incident ("ack"): recorded once, audited, posted in the thread and
 * shown on the card. Escalation stops for an acknowledged incident. A second ack is refused with
 * who owns it, so two responders pressing at once learn about each other.
 */
export async function acknowledgeIncident(tx: StoreTx, actor: Actor, incidentId: number, now: string): Promise<Incident> {
  const incident = await tx.getIncident(incidentId);
  if (!incident) return refuse(null, t('refusal.incidentMissing', { id: incidentId }));
  if (incident.acknowledgement) {
    const { byName, at } = incident.acknowledgement;
    return refuse(incidentId, t('refusal.alreadyAcked', { id: incidentId, name: byName, time: formatTime(at) }));
  }
  if (incident.status === 'resolved') return refuse(incidentId, t('refusal.ackResolved', { id: incidentId }));

  const acknowledgement = { by: actorId(actor), byName: actor.name, at: now };
  await tx.updateIncident(incidentId, { acknowledgement, updatedAt: now });
  const after = formatDuration(Date.parse(now) - Date.parse(incident.createdAt));
  await recordEvent(
    tx,
    { at: now, incidentId, actor: acknowledgement.by, kind: 'incident.ack', text: t('thread.ack', { name: actor.name, after }), data: { afterMs: Date.parse(now) - Date.parse(incident.createdAt) } },
    { refreshCard: true },
  );
  return { ...incident, acknowledgement, updatedAt: now };
}
