import type { Incident } from './domain.js';
import { NotAllowedError } from '../domain/errors.js';
import { recordEvent } from './events.js';
import { expireChangesOnResolve } from './step-guards.js';
import { actorId, type Actor } from './policy.js';
import { timelineFigures, timelineSummary } from './timeline.js';
import { gatherTimeline } from './timeline-input.js';
import type { StoreTx } from './ports/store.js';
import { t } from './i18n/index.js';

export const MAX_NOTE_LENGTH = 500;

function refuse(incidentId: number | null, reason: string): never {
  throw new NotAllowedError(reason, { incidentId, kind: 'incident.refused', data: { action: 'resolve' } });
}

/**
 * Someone resolves an incident by hand (the fix is in, or the alert is noise). The incident is
 * closed with who, when and their note; the thread gets a summary of the timeline.
 *
 * If the group's alerts keep firing afterwards, Alertmanager's repeats of the same notification
 * are recognised as duplicates and change nothing; a notification that differs (an alert joins,
 * one resolves, or the group fires again later) opens a new incident linked to this one ("fires
 * again"), exactly as after a resolution by Alertmanager. A hand resolve never hides a change.
 */
export async function resolveIncident(tx: StoreTx, actor: Actor, incidentId: number, note: string, now: string): Promise<Incident> {
  const incident = await tx.getIncident(incidentId);
  if (!incident) return refuse(null, t('refusal.incidentMissing', { id: incidentId }));
  if (incident.status === 'resolved') {
    const by = incident.resolution;
    return refuse(incidentId, by ? t('refusal.alreadyResolvedBy', { id: incidentId, name: by.byName }) : t('refusal.alreadyResolvedAlerts', { id: incidentId }));
  }
  const trimmed = note.trim().slice(0, MAX_NOTE_LENGTH);
  const resolution = { by: actorId(actor), byName: actor.name, at: now, note: trimmed };
  const resolved: Incident = { ...incident, status: 'resolved', resolvedAt: now, resolution, updatedAt: now };
  await tx.updateIncident(incidentId, { status: 'resolved', resolvedAt: now, resolution, updatedAt: now });

  const figures = timelineFigures(await gatherTimeline(tx, resolved));
  await recordEvent(
    tx,
    {
      at: now,
      incidentId,
      actor: resolution.by,
      kind: 'incident.resolved',
      text: `${trimmed ? t('thread.resolvedByHandNote', { name: actor.name, id: incidentId, note: trimmed }) : t('thread.resolvedByHand', { name: actor.name, id: incidentId })}\n${timelineSummary(figures)}`,
      data: { manual: true, note: trimmed, timeToAcknowledgeMs: figures.timeToAcknowledgeMs ?? null, timeToResolveMs: figures.timeToResolveMs ?? null },
    },
    { refreshCard: true },
  );
  await expireChangesOnResolve(tx, incidentId, now);
  return resolved;
}
