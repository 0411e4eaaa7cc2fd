import type { Card, CardButton, CardField, CardLink, CardStepState } from './card.js';
import { makeButton } from './button-codec.js';
import { layoutButtons } from './card-layout.js';
import type { Approval, Incident, StepRun, StoredAlert } from './domain.js';
import { offersFor, type StepOffer, type UnavailableRunbook } from './offers.js';
import type { Runbook } from './ports/runbooks.js';
import type { StoreTx } from './ports/store.js';
import { isSilenced } from './silence.js';
import { describePinnedFile, pinnedFiles } from './chosen-pins.js';
import { formatDuration, formatTime } from './time.js';
import { describeClock, timeTargetClocks } from './time-targets.js';

export interface CardInput {
  incident: Incident;
  alerts: StoredAlert[];
  runs: StepRun[];
  offers: StepOffer[];
  unavailable: UnavailableRunbook[];
  /** Why no runbook matches the incident's labels (offers.ts), shown on the card. */
  noRunbook?: string | undefined;
  /** Whether silences can be made from chat (Alertmanager's URL is configured). */
  silencing?: boolean;
  /** The time the card is rendered at: a silence past its end is no longer shown as in force. */
  now?: string;
  /** Each run's approvals and denials, for the step lines. */
  approvals?: ReadonlyMap<number, readonly Approval[]>;
  /** How long a request waits for approval, for its step line. */
  approvalTtlMinutes?: number;
}

/** "Acknowledge", "Silence 1h" / "Unsilence": what can be done to the incident itself. */
function lifecycleButtons(incident: Incident, silencing: boolean, now: string): CardButton[] {
  const buttons: CardButton[] = [];
  const firing = incident.status === 'firing';
  if (firing && !incident.acknowledgement) buttons.push(makeButton({ action: 'ack', incidentId: incident.id }, 'Acknowledge', { style: 'primary' }));
  if (incident.silence && isSilenced(incident, now)) buttons.push(makeButton({ action: 'unsilence', incidentId: incident.id }, 'Unsilence'));
  else if (firing && silencing) buttons.push(makeButton({ action: 'silence', incidentId: incident.id }, 'Silence 1h'));
  return buttons;
}

const MAX_LISTED_ALERTS = 10;

function unique(values: Array<string | undefined>): string[] {
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))];
}

function alertmanagerLink(incident: Incident): CardLink | undefined {
  if (!/^https?:\/\//.test(incident.externalUrl)) return undefined;
  const filter = Object.entries(incident.groupLabels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  return { label: 'Alertmanager', url: `${incident.externalUrl.replace(/\/$/, '')}/#/alerts?filter=${encodeURIComponent(`{${filter}}`)}` };
}

/** "11:01:45": a time on a step line (the card's fields give the day). */
const clock = (iso: string) => new Date(iso).toISOString().slice(11, 19);

/**
 * One line per step, its latest run (older runs are in the thread): what it did, when, and who:
 * "succeeded 11:01:45 · exit 0 in 1.2s · requested by alice, approved by bob".
 */
function stepStates(runs: StepRun[], approvals: ReadonlyMap<number, readonly Approval[]>, approvalTtlMinutes: number | undefined): CardStepState[] {
  const latest = new Map<string, StepRun>();
  for (const run of runs) latest.set(`${run.runbook}/${run.step}`, run);
  return [...latest.values()].map((run) => {
    // Until it has a result, a run on a chosen file names that file: what is being approved.
    const files = pinnedFiles(run.params).map(describePinnedFile).join('; ');
    const target = run.params['@alert-label'];
    const decided = (approvals.get(run.id) ?? []).filter((a) => a.decision === 'approve').map((a) => a.approverName);
    const denied = (approvals.get(run.id) ?? []).filter((a) => a.decision === 'deny').map((a) => a.approverName);
    const who = [`requested by ${run.requestedByName}`, ...(decided.length > 0 ? [`approved by ${decided.join(', ')}`] : []), ...(denied.length > 0 ? [`denied by ${denied.join(', ')}`] : [])].join(', ');
    const when =
      run.state === 'requested' && approvalTtlMinutes !== undefined
        ? `${clock(run.createdAt)}, expires ${clock(new Date(Date.parse(run.createdAt) + approvalTtlMinutes * 60_000).toISOString())}`
        : clock(run.finishedAt ?? run.startedAt ?? run.updatedAt);
    const parts = [when, ...(target ? [`for ${target}`] : []), ...(run.result ? [run.result.summary] : files ? [files] : []), who];
    return { title: run.stepTitle, state: run.state, detail: parts.join(' · ') };
  });
}

/** Builds the neutral card for an incident from what the store holds. Pure: same input, same card. */
export function buildCard({ incident, alerts, runs, offers, unavailable, noRunbook, silencing = false, now = incident.updatedAt, approvals = new Map(), approvalTtlMinutes }: CardInput): Card {
  const firing = alerts.filter((a) => a.status === 'firing');
  const shown = incident.status === 'firing' && firing.length > 0 ? firing : alerts;
  const names = unique(alerts.map((a) => a.labels.alertname));
  const services = unique(alerts.map((a) => a.labels.service ?? a.labels.job));
  const instances = unique(shown.map((a) => a.labels.instance ?? a.labels.pod));
  // One start for the card, the thread and the commands: when the incident's first alert reached the bot.
  const startedAt = incident.createdAt;
  // Common annotations first; otherwise the first alert that has a summary speaks for the group.
  const annotations = { ...(alerts.find((a) => a.annotations.summary)?.annotations ?? alerts[0]?.annotations ?? {}), ...incident.commonAnnotations };

  const fields: CardField[] = [
    { label: 'Severity', value: incident.severity },
    { label: 'Status', value: incident.status === 'firing' ? `firing (${firing.length} of ${alerts.length + incident.truncatedAlerts})` : 'resolved' },
    { label: 'Alerts', value: names.join(', ') || '—' },
  ];
  if (services.length > 0) fields.push({ label: 'Service', value: services.join(', ') });
  if (instances.length > 0) {
    const listed = instances.slice(0, MAX_LISTED_ALERTS).join(', ');
    const more = Math.max(0, instances.length - MAX_LISTED_ALERTS) + incident.truncatedAlerts;
    fields.push({ label: 'Instance', value: more > 0 ? `${listed} and ${more} more` : listed });
  }
  fields.push({ label: 'Started', value: formatTime(startedAt) });
  // Next to when it started: Slack shows the first ten fields only.
  const offeredRunbooks = [...new Set(offers.map((o) => o.runbook))];
  const resolvedAt = incident.status === 'resolved' ? (incident.resolvedAt ?? incident.updatedAt) : undefined;
  for (const clock of timeTargetClocks({ runbooks: offeredRunbooks, runs, openedAt: startedAt, now, resolvedAt })) {
    fields.push({ label: `Time targets (${clock.runbook})`, value: describeClock(clock) });
  }
  if (incident.acknowledgement) fields.push({ label: 'Owner', value: `${incident.acknowledgement.byName} (since ${formatTime(incident.acknowledgement.at)})` });
  if (incident.silence && isSilenced(incident, now)) fields.push({ label: 'Silenced', value: `by ${incident.silence.byName} until ${formatTime(incident.silence.until)}` });
  if (incident.resolution) {
    const note = incident.resolution.note ? `: ${incident.resolution.note}` : '';
    fields.push({ label: 'Resolved by', value: `${incident.resolution.byName} at ${formatTime(incident.resolution.at)}${note}` });
  }
  if (incident.escalation && incident.status === 'firing' && !incident.acknowledgement) {
    fields.push({ label: 'Escalated', value: `level ${incident.escalation.level} (last ${formatTime(incident.escalation.at)}); nobody has acknowledged it` });
  }
  if (incident.previousIncidentId !== null) fields.push({ label: 'Previous', value: `#${incident.previousIncidentId}` });

  const links: CardLink[] = [];
  const generator = alerts.find((a) => a.generatorUrl)?.generatorUrl;
  if (generator) links.push({ label: 'Source', url: generator });
  if (annotations.runbook_url) links.push({ label: 'Runbook', url: annotations.runbook_url });
  const am = alertmanagerLink(incident);
  if (am) links.push(am);
  // A link from an alert is clicked by responders: javascript:, data: and other schemes are dropped.
  const safeLinks = links.filter((l) => /^https?:\/\/[^\s]+$/i.test(l.url));

  // A resolved incident keeps its read-only checks; changing steps are gone (a command with --confirm remains for afterResolve steps).
  const shownOffers = incident.status === 'resolved' ? offers.filter((o) => !o.step.changes) : offers;
  const stepButtons: CardButton[] = shownOffers.map(({ runbook, step }) =>
    makeButton(
      { action: 'run-step', incidentId: incident.id, runbook: runbook.name, step: step.id },
      step.title,
      step.changes
        ? {
            style: 'danger',
            confirm: {
              title: `Run "${step.title}"?`,
              text: `This changes a system and needs ${step.approval?.approvers ?? 1} approval(s) before it runs.`,
              confirm: 'Request',
              deny: 'Cancel',
            },
          }
        : {},
    ),
  );

  const escalated = incident.status === 'firing' && incident.escalation && !incident.acknowledgement ? ` · ⏰ escalated (level ${incident.escalation.level})` : '';
  const statusLine =
    incident.status === 'firing'
      ? `Firing since ${formatTime(startedAt)}${escalated}`
      : `Resolved after ${formatDuration(Date.parse(incident.resolvedAt ?? incident.updatedAt) - Date.parse(startedAt))}`;
  const title = `#${incident.id} ${incident.title}`;
  const notes = unavailable.map((u) => `${u.runbook}: ${u.problems.join('; ')}`);
  const description = [annotations.description, ...notes.map((n) => `Not offered: ${n}`), noRunbook].filter(Boolean).join('\n');

  return {
    incidentId: String(incident.id),
    title,
    severity: incident.severity,
    status: incident.status,
    statusLine,
    ...(annotations.summary ? { summary: annotations.summary } : {}),
    ...(description ? { description } : {}),
    fields,
    links: safeLinks,
    steps: stepStates(runs, approvals, approvalTtlMinutes),
    ...layoutButtons([...lifecycleButtons(incident, silencing, now), ...stepButtons], shownOffers),
    fallbackText: `[${incident.status.toUpperCase()}] ${incident.severity}: ${title}${annotations.summary ? ` — ${annotations.summary}` : ''}`,
  };
}

/** The card of one incident as it is now: its alerts, runs, and the steps its runbooks offer. */
export async function renderIncidentCard(tx: StoreTx, incidentId: number, o: { runbooks: readonly Runbook[]; silencing: boolean; now: string; approvalTtlMinutes?: number }): Promise<Card> {
  const incident = await tx.getIncident(incidentId);
  if (!incident) throw new Error(`incident ${incidentId} does not exist`);
  const alerts = await tx.listAlerts(incidentId);
  const { offers, unavailable, noRunbook } = offersFor(o.runbooks, incident.commonLabels, alerts);
  const runs = await tx.listStepRuns(incidentId);
  const approvals = new Map<number, Approval[]>();
  for (const run of runs) approvals.set(run.id, await tx.listApprovals(run.id));
  return buildCard({
    incident,
    alerts,
    runs,
    approvals,
    ...(o.approvalTtlMinutes !== undefined ? { approvalTtlMinutes: o.approvalTtlMinutes } : {}),
    offers,
    unavailable,
    ...(noRunbook ? { noRunbook } : {}),
    silencing: o.silencing,
    now: o.now,
  });
}
