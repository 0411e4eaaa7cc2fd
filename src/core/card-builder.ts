import type { Card, CardButton, CardField, CardLink, CardStepState } from './card.js';
import { makeButton } from './button-codec.js';
import { layoutButtons } from './card-layout.js';
import type { Approval, Incident, StepRun, StoredAlert } from './domain.js';
import { offersFor, type StepOffer, type UnavailableRunbook } from './offers.js';
import type { Runbook } from './ports/runbooks.js';
import type { StoreTx } from './ports/store.js';
import { isSilenced } from './silence.js';
import { describePinnedFile, pinnedFiles } from './chosen-pins.js';
import { formatClock, formatDuration, formatTime } from './time.js';
import { t } from './i18n/index.js';
import { resultSummary } from './result-text.js';
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

/** Acknowledge, Silence 1h / Unsilence: what can be done to the incident itself. */
function lifecycleButtons(incident: Incident, silencing: boolean, now: string): CardButton[] {
  const buttons: CardButton[] = [];
  const firing = incident.status === 'firing';
  if (firing && !incident.acknowledgement) buttons.push(makeButton({ action: 'ack', incidentId: incident.id }, t('card.button.ack'), { style: 'primary' }));
  if (incident.silence && isSilenced(incident, now)) buttons.push(makeButton({ action: 'unsilence', incidentId: incident.id }, t('card.button.unsilence')));
  else if (firing && silencing) buttons.push(makeButton({ action: 'silence', incidentId: incident.id }, t('card.button.silence')));
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

/** "11:01:45": a time on a step line (the card's fields give the day and the zone). */
const clock = (iso: string) => formatClock(iso);

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
    const names = (list: string[]) => list.join(t('list.separator'));
    const who = [
      t('card.step.requestedBy', { name: run.requestedByName }),
      ...(decided.length > 0 ? [t('card.step.approvedBy', { names: names(decided) })] : []),
      ...(denied.length > 0 ? [t('card.step.deniedBy', { names: names(denied) })] : []),
    ].join(t('clause.separator'));
    const when =
      run.state === 'requested' && approvalTtlMinutes !== undefined
        ? t('card.step.expires', { time: clock(run.createdAt), expires: clock(new Date(Date.parse(run.createdAt) + approvalTtlMinutes * 60_000).toISOString()) })
        : clock(run.finishedAt ?? run.startedAt ?? run.updatedAt);
    const parts = [when, ...(target ? [t('card.step.for', { target })] : []), ...(run.result ? [resultSummary(run.result)] : files ? [files] : []), who];
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
    { label: t('card.field.severity'), value: incident.severity },
    {
      label: t('card.field.status'),
      value: incident.status === 'firing' ? t('card.value.firing', { firing: firing.length, total: alerts.length + incident.truncatedAlerts }) : t('status.resolved'),
    },
    { label: t('card.field.alerts'), value: names.join(', ') || t('none') },
  ];
  if (services.length > 0) fields.push({ label: t('card.field.service'), value: services.join(', ') });
  if (instances.length > 0) {
    const listed = instances.slice(0, MAX_LISTED_ALERTS).join(', ');
    const more = Math.max(0, instances.length - MAX_LISTED_ALERTS) + incident.truncatedAlerts;
    fields.push({ label: t('card.field.instance'), value: more > 0 ? t('card.value.instancesMore', { listed, more }) : listed });
  }
  fields.push({ label: t('card.field.started'), value: formatTime(startedAt) });
  // Next to when it started: Slack shows the first ten fields only.
  const offeredRunbooks = [...new Set(offers.map((o) => o.runbook))];
  const resolvedAt = incident.status === 'resolved' ? (incident.resolvedAt ?? incident.updatedAt) : undefined;
  for (const clock of timeTargetClocks({ runbooks: offeredRunbooks, runs, openedAt: startedAt, now, resolvedAt })) {
    fields.push({ label: t('card.field.timeTargets', { runbook: clock.runbook }), value: describeClock(clock) });
  }
  const ack = incident.acknowledgement;
  if (ack) fields.push({ label: t('card.field.owner'), value: t('card.value.owner', { name: ack.byName, time: formatTime(ack.at) }) });
  if (incident.silence && isSilenced(incident, now)) fields.push({ label: t('card.field.silenced'), value: t('card.value.silenced', { name: incident.silence.byName, time: formatTime(incident.silence.until) }) });
  const resolution = incident.resolution;
  if (resolution) {
    const by = { name: resolution.byName, time: formatTime(resolution.at) };
    fields.push({ label: t('card.field.resolvedBy'), value: resolution.note ? t('card.value.resolvedByNote', { ...by, note: resolution.note }) : t('card.value.resolvedBy', by) });
  }
  if (incident.escalation && incident.status === 'firing' && !incident.acknowledgement) {
    fields.push({ label: t('card.field.escalated'), value: t('card.value.escalated', { level: incident.escalation.level, time: formatTime(incident.escalation.at) }) });
  }
  if (incident.previousIncidentId !== null) fields.push({ label: t('card.field.previous'), value: `#${incident.previousIncidentId}` });

  const links: CardLink[] = [];
  const generator = alerts.find((a) => a.generatorUrl)?.generatorUrl;
  if (generator) links.push({ label: t('card.link.source'), url: generator });
  if (annotations.runbook_url) links.push({ label: t('card.link.runbook'), url: annotations.runbook_url });
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
              title: t('card.confirm.title', { title: step.title }),
              text: t('card.confirm.text', { n: step.approval?.approvers ?? 1 }),
              confirm: t('card.confirm.request'),
              deny: t('card.confirm.cancel'),
            },
          }
        : {},
    ),
  );

  const escalated = incident.status === 'firing' && incident.escalation && !incident.acknowledgement ? t('card.statusLine.escalated', { level: incident.escalation.level }) : '';
  const statusLine =
    incident.status === 'firing'
      ? `${t('card.statusLine.firing', { time: formatTime(startedAt) })}${escalated}`
      : t('card.statusLine.resolved', { duration: formatDuration(Date.parse(incident.resolvedAt ?? incident.updatedAt) - Date.parse(startedAt)) });
  const title = `#${incident.id} ${incident.title}`;
  const notes = unavailable.map((u) => t('card.notOffered', { runbook: u.runbook, problems: u.problems.join('; ') }));
  const description = [annotations.description, ...notes, noRunbook].filter(Boolean).join('\n');

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
    fallbackText: `[${t(incident.status === 'firing' ? 'card.fallback.firing' : 'card.fallback.resolved')}] ${incident.severity}: ${title}${annotations.summary ? ` — ${annotations.summary}` : ''}`,
  };
}

/** The card of one incident as it is now: its alerts, runs, and the steps its runbooks offer. */
export async function renderIncidentCard(tx: StoreTx, incidentId: number, o: { runbooks: readonly Runbook[]; silencing: boolean; now: string; approvalTtlMinutes?: number }): Promise<Card> {
  const incident = await tx.getIncident(incidentId);
  if (!incident) throw new Error(`incident ${incidentId} does not exist`);
  const alerts = await tx.listAlerts(incidentId);
  const { offers, unavailable, noRunbook } = offersFor(o.runbooks, incident.commonLabels, alerts);
  const runs = await tx.listStepRuns(incidentId);
  // One read for every run's approvals: a card is rendered on every change of its incident.
  const approvals = new Map<number, Approval[]>(runs.map((r) => [r.id, []]));
  for (const a of await tx.listIncidentApprovals(incidentId)) approvals.get(a.runId)?.push(a);
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
