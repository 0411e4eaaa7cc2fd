import { createHash } from 'node:crypto';
import type { AlertmanagerNotification } from './alertmanager-payload.js';
import { ZERO_TIME } from './alertmanager-payload.js';
import type { Incident, StoredAlert } from './domain.js';
import { recordEvent, syncCard, type DeliveryTarget } from './events.js';
import { highestSeverity } from './severity.js';
import { expireChangesOnResolve } from './step-guards.js';
import { formatDuration } from './time.js';
import type { StoreTx } from './ports/store.js';
import { t } from './i18n/index.js';
import { OPENED_SUBJECT } from './storm-desk.js';

export interface RecordedNotification {
  incidentId: number;
  /** The same notification was already stored (Alertmanager retry, HA peer, repeat). */
  duplicate: boolean;
  /** A new incident (first firing, or the group firing again after it resolved). */
  created: boolean;
  /** Where the incident is shown: the channels its new messages, if any, were queued for. */
  targets: readonly DeliveryTarget[];
}

/**
 * Alertmanager delivers at least once (retries, HA pairs, repeat_interval), so a notification is
 * identified by its content: group, status and every alert's fingerprint, start and status.
 */
export function notificationKey(n: AlertmanagerNotification): string {
  const alerts = n.alerts.map((a) => `${a.fingerprint}:${a.startsAt}:${a.status}`).sort();
  return createHash('sha256').update(JSON.stringify([n.groupKey, n.status, alerts])).digest('hex');
}

export function incidentTitle(n: AlertmanagerNotification): string {
  const names = [...new Set(n.alerts.map((a) => a.labels.alertname).filter(Boolean))];
  const service = n.commonLabels.service ?? n.commonLabels.job;
  const what = names.length > 0 ? names.join(', ') : t('title.alert');
  return service ? t('title.onService', { what, service }) : what;
}

function describeAlert(a: Pick<StoredAlert, 'labels'>): string {
  return a.labels.instance ?? a.labels.pod ?? a.labels.alertname ?? 'alert';
}

function listOf(items: string[], max = 5): string {
  return items.length <= max ? items.join(', ') : t('thread.listMore', { listed: items.slice(0, max).join(', '), more: items.length - max });
}

/**
 * Stores one webhook notification: the incident, its alerts, audit events and queued chat
 * messages, in one transaction. `targets` (from routing) are where a NEW incident is shown; an
 * existing incident keeps the targets it opened with, so its thread never moves.
 */
export async function recordNotification(
  tx: StoreTx,
  n: AlertmanagerNotification,
  now: string,
  targets: readonly DeliveryTarget[],
): Promise<RecordedNotification> {
  const key = notificationKey(n);
  const latest = await tx.latestIncidentOfGroup(n.groupKey);
  if (latest && (await tx.hasNotification(key))) {
    await tx.updateIncident(latest.id, { lastSeenAt: now });
    return { incidentId: latest.id, duplicate: true, created: false, targets: latest.targets };
  }

  const severity = highestSeverity(n.alerts.map((a) => a.labels));
  const fields = {
    severity,
    title: incidentTitle(n),
    groupLabels: n.groupLabels,
    commonLabels: n.commonLabels,
    commonAnnotations: n.commonAnnotations,
    externalUrl: n.externalURL,
    truncatedAlerts: n.truncatedAlerts,
  };

  // A group that fires after it resolved is a new episode; a resolved notification for a group
  // we never saw firing (the bot was down) still gets an incident, so nothing is lost.
  const startsNewEpisode = !latest || (latest.status === 'resolved' && n.status === 'firing');
  let incident: Incident;
  let before: StoredAlert[] = [];
  if (startsNewEpisode) {
    incident = await tx.insertIncident({
      ...fields,
      groupKey: n.groupKey,
      episode: (latest?.episode ?? 0) + 1,
      status: n.status,
      receiver: n.receiver,
      previousIncidentId: latest?.id ?? null,
      targets: [...targets],
      createdAt: now,
      updatedAt: now,
      lastSeenAt: now,
      resolvedAt: n.status === 'resolved' ? now : null,
    });
  } else {
    incident = latest;
    before = await tx.listAlerts(incident.id);
  }
  await tx.insertNotification(key, incident.id, now);

  const previous = new Map(before.map((a) => [a.fingerprint, a]));
  const joined: StoredAlert[] = [];
  const resolvedAlerts: StoredAlert[] = [];
  for (const a of n.alerts) {
    const stored: StoredAlert = {
      incidentId: incident.id,
      fingerprint: a.fingerprint,
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt,
      endsAt: a.endsAt && a.endsAt !== ZERO_TIME ? a.endsAt : null,
      generatorUrl: a.generatorURL || null,
    };
    await tx.upsertAlert(stored);
    const was = previous.get(a.fingerprint);
    if (!was && !startsNewEpisode && a.status === 'firing') joined.push(stored);
    if (was?.status === 'firing' && a.status === 'resolved' && n.status === 'firing') resolvedAlerts.push(stored);
  }

  const becameResolved = !startsNewEpisode && incident.status === 'firing' && n.status === 'resolved';
  const refiring = !startsNewEpisode && incident.status === 'firing';
  // A new episode was inserted with all of this already.
  if (!startsNewEpisode) {
    await tx.updateIncident(incident.id, {
      ...(refiring ? fields : { truncatedAlerts: n.truncatedAlerts }),
      status: n.status,
      updatedAt: now,
      lastSeenAt: now,
      ...(becameResolved ? { resolvedAt: now } : {}),
    });
  }

  const event = { at: now, incidentId: incident.id, actor: 'system' };
  if (startsNewEpisode) {
    const count = n.alerts.length + n.truncatedAlerts;
    const again = latest ? t('thread.opened.again', { previous: latest.id }) : '';
    await recordEvent(tx, {
        ...event,
        kind: 'alert.received',
        text: `${t('thread.opened', { id: incident.id, title: fields.title, count, severity })}${again}`,
        data: { groupKey: n.groupKey, episode: incident.episode, status: n.status, fingerprints: n.alerts.map((a) => a.fingerprint), previousIncidentId: latest?.id ?? null },
      },
      { refreshCard: true, subject: OPENED_SUBJECT },
    );
  }
  if (joined.length > 0) {
    await recordEvent(tx, { ...event, kind: 'alert.joined', text: t('thread.alertsJoined', { count: joined.length, alerts: listOf(joined.map(describeAlert)) }), data: { fingerprints: joined.map((a) => a.fingerprint) } },
      { refreshCard: true },
    );
  }
  if (resolvedAlerts.length > 0) {
    await recordEvent(tx, { ...event, kind: 'alert.resolved', text: t('thread.alertsResolved', { count: resolvedAlerts.length, alerts: listOf(resolvedAlerts.map(describeAlert)) }), data: { fingerprints: resolvedAlerts.map((a) => a.fingerprint) } },
      { refreshCard: true },
    );
  }
  if (becameResolved) {
    const duration = formatDuration(Date.parse(now) - Date.parse(incident.createdAt));
    await recordEvent(tx, { ...event, kind: 'incident.resolved', text: t('thread.resolved', { id: incident.id, duration }), data: { durationMs: Date.parse(now) - Date.parse(incident.createdAt) } },
      { refreshCard: true },
    );
    await expireChangesOnResolve(tx, incident.id, now);
  }
  if (!startsNewEpisode && joined.length === 0 && resolvedAlerts.length === 0 && !becameResolved) {
    // A changed notification with nothing to announce (annotations moved, say): refresh the card quietly.
    await syncCard(tx, incident.id, now);
  }
  return { incidentId: incident.id, duplicate: false, created: startsNewEpisode, targets: incident.targets };
}
