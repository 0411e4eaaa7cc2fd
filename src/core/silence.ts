import type { Incident } from './domain.js';
import { NotAllowedError } from '../domain/errors.js';
import { recordEvent } from './events.js';
import { actorId, type Actor } from './policy.js';
import type { SilenceMatcher } from './ports/silence-api.js';
import { formatDuration, formatStamp, formatTime } from './time.js';
import type { StoreTx } from './ports/store.js';
import { t } from './i18n/index.js';

function refuse(incidentId: number | null, action: string, reason: string): never {
  throw new NotAllowedError(reason, { incidentId, kind: 'incident.refused', data: { action } });
}

/** Whether the incident's recorded silence is still in force at `now`. */
export function isSilenced(incident: Pick<Incident, 'silence'>, now: string): boolean {
  return incident.silence !== null && Date.parse(incident.silence.until) > Date.parse(now);
}

/** The group's labels as exact matchers: the silence covers this group's alerts and nothing broader. */
export function silenceMatchers(incident: Pick<Incident, 'groupLabels'>): SilenceMatcher[] {
  return Object.entries(incident.groupLabels).map(([name, value]) => ({ name, value, isEqual: true, isRegex: false }));
}

/** The incident, when it may be silenced now; a refusal otherwise. Checked before Alertmanager is called, and again when recording. */
export async function silenceable(tx: StoreTx, incidentId: number, now: string): Promise<Incident> {
  const incident = await tx.getIncident(incidentId);
  if (!incident) return refuse(null, 'silence', t('refusal.incidentMissing', { id: incidentId }));
  if (incident.status === 'resolved') return refuse(incidentId, 'silence', t('refusal.silenceResolved', { id: incidentId }));
  if (isSilenced(incident, now)) {
    const s = incident.silence;
    return refuse(incidentId, 'silence', t('refusal.alreadySilenced', { id: incidentId, name: s?.byName ?? '?', time: formatTime(s?.until ?? now) }));
  }
  if (silenceMatchers(incident).length === 0) {
    return refuse(incidentId, 'silence', t('refusal.noGroupLabels', { id: incidentId }));
  }
  return incident;
}

/** Records a silence Alertmanager has created: on the incident, in the audit trail and the thread, and on the card. */
export async function recordSilence(tx: StoreTx, actor: Actor, incidentId: number, silenceId: string, until: string, now: string): Promise<Incident> {
  const incident = await silenceable(tx, incidentId, now);
  const silence = { id: silenceId, by: actorId(actor), byName: actor.name, at: now, until };
  await tx.updateIncident(incidentId, { silence, updatedAt: now });
  const matchers = silenceMatchers(incident);
  await recordEvent(
    tx,
    {
      at: now,
      incidentId,
      actor: silence.by,
      kind: 'incident.silenced',
      text: t('thread.silenced', { name: actor.name, duration: formatDuration(Date.parse(until) - Date.parse(now)), time: formatStamp(until), silence: silenceId }),
      data: { silenceId, until, matchers },
    },
    { refreshCard: true },
  );
  return { ...incident, silence, updatedAt: now };
}

/** The recorded silence, when there is one to expire. */
export async function unsilenceable(tx: StoreTx, incidentId: number): Promise<Incident & { silence: NonNullable<Incident['silence']> }> {
  const incident = await tx.getIncident(incidentId);
  if (!incident) return refuse(null, 'unsilence', t('refusal.incidentMissing', { id: incidentId }));
  const { silence } = incident;
  if (!silence) return refuse(incidentId, 'unsilence', t('refusal.noSilence', { id: incidentId }));
  return { ...incident, silence };
}

/** Records that the silence was expired in Alertmanager. */
export async function recordUnsilence(tx: StoreTx, actor: Actor, incidentId: number, silenceId: string, now: string): Promise<void> {
  const incident = await unsilenceable(tx, incidentId);
  // Someone else replaced or removed it meanwhile: theirs is the record now.
  if (incident.silence.id !== silenceId) return;
  await tx.updateIncident(incidentId, { silence: null, updatedAt: now });
  await recordEvent(
    tx,
    { at: now, incidentId, actor: actorId(actor), kind: 'incident.unsilenced', text: t('thread.unsilenced', { name: actor.name, silence: silenceId }), data: { silenceId } },
    { refreshCard: true },
  );
}
