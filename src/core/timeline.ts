import type { Approval, AuditEvent, Incident, StepRun, StoredAlert } from './domain.js';
import type { Redactor } from '../domain/redact.js';
import { formatDuration, formatTime } from './time.js';
import { t } from './i18n/index.js';
import { STEP_STATE_ICON, stepStateText, type StepState } from './card.js';
import { describeClock, type TimeTargetClock } from './time-targets.js';

/** Everything the timeline of one incident is built from, as the store holds it. */
export interface TimelineInput {
  incident: Incident;
  alerts: StoredAlert[];
  runs: StepRun[];
  approvals: Approval[];
  audit: AuditEvent[];
  /** The incident's procedures with time targets (a rollback's decide/execute/verify/total), as clocks. */
  clocks?: TimeTargetClock[];
}

/** The figures people ask for after an incident. Durations are measured from when the incident opened. */
export interface TimelineFigures {
  alertStart: string;
  /** ms from opening to the first acknowledgement; undefined while nobody acknowledged. */
  timeToAcknowledgeMs: number | undefined;
  /** ms from opening to resolution; undefined while it is open. */
  timeToResolveMs: number | undefined;
  actions: Array<{ title: string; state: string; requestedBy: string; approvedBy: string[]; result: string | undefined }>;
}

export function timelineFigures({ incident, alerts, runs, approvals }: Omit<TimelineInput, 'audit'>): TimelineFigures {
  const opened = Date.parse(incident.createdAt);
  const starts = alerts.map((a) => a.startsAt).filter((s) => !Number.isNaN(Date.parse(s)));
  const alertStart = starts.reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a), starts[0] ?? incident.createdAt);
  return {
    alertStart,
    timeToAcknowledgeMs: incident.acknowledgement ? Date.parse(incident.acknowledgement.at) - opened : undefined,
    timeToResolveMs: incident.status === 'resolved' && incident.resolvedAt ? Date.parse(incident.resolvedAt) - opened : undefined,
    actions: runs.map((run) => ({
      title: run.stepTitle,
      state: run.state,
      requestedBy: run.requestedByName,
      approvedBy: approvals.filter((a) => a.runId === run.id && a.decision === 'approve').map((a) => a.approverName),
      result: run.result?.summary,
    })),
  };
}

const durationOr = (ms: number | undefined, none: string): string => (ms === undefined ? none : formatDuration(ms));

function describeAction(a: TimelineFigures['actions'][number]): string {
  const state = stateText(a.state);
  if (a.approvedBy.length === 0) return t('summary.action', { title: a.title, requester: a.requestedBy, state });
  return t('summary.actionApproved', { title: a.title, requester: a.requestedBy, approvers: a.approvedBy.join(t('list.separator')), state });
}

/** A run's state as people read it; a state this build does not know is shown as stored. */
function stateText(state: string): string {
  return state in STEP_STATE_ICON ? stepStateText(state as StepState) : state;
}

/** One paragraph for the thread when an incident is resolved by hand: durations, then what was done and by whom. */
export function timelineSummary(figures: TimelineFigures): string {
  const actions = figures.actions.length > 0 ? figures.actions.map(describeAction).join(t('summary.separator')) : t('summary.noActions');
  return t('summary.line', { ack: durationOr(figures.timeToAcknowledgeMs, t('summary.neverAcked')), resolve: durationOr(figures.timeToResolveMs, t('summary.stillOpen')), actions });
}

/** Table cells and list items must stay on one line and not close the table. */
function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

/** Seconds matter in an event log: "2026-11-22 01:37:05 UTC". */
function stamp(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function actorName(event: AuditEvent, names: Map<string, string>): string {
  return names.get(event.actor) ?? event.actor;
}

/**
 * The incident's timeline as Markdown: figures first, then every action with who requested and
 * approved it, then every audit event oldest first. Events are rendered from their kind and text,
 * so kinds this module has never heard of still appear. The whole document is redacted, like
 * everything else the bot sends out.
 */
export function buildTimelineMarkdown(input: TimelineInput, redact: Redactor): string {
  const { incident, audit } = input;
  const figures = timelineFigures(input);
  // Actor ids (`slack:U123`) read better as the names the same records carry.
  const names = new Map<string, string>();
  for (const run of input.runs) names.set(`${run.platform}:${run.requestedBy}`, run.requestedByName);
  for (const a of input.approvals) {
    const run = input.runs.find((r) => r.id === a.runId);
    // Approvals record `platform:id`; records from before that, the bare id on the run's platform.
    if (run) names.set(a.approver.includes(':') ? a.approver : `${run.platform}:${a.approver}`, a.approverName);
  }
  for (const p of [incident.acknowledgement, incident.silence, incident.resolution]) if (p) names.set(p.by, p.byName);

  const lines: string[] = [t('timeline.title', { id: incident.id, title: cell(incident.title) }), ''];
  const labels = Object.entries(incident.groupLabels).map(([k, v]) => `${k}=${v}`).join(', ');
  lines.push(
    t('timeline.severity', { severity: incident.severity }),
    t('timeline.status', { status: t(`status.${incident.status}`) }),
    ...(labels ? [t('timeline.group', { labels: cell(labels) })] : []),
    t('timeline.alertStarted', { time: formatTime(figures.alertStart) }),
    t('timeline.opened', { time: formatTime(incident.createdAt) }),
  );
  lines.push(
    incident.acknowledgement
      ? t('timeline.acked', { time: formatTime(incident.acknowledgement.at), name: cell(incident.acknowledgement.byName) })
      : t('timeline.notAcked'),
  );
  if (incident.silence) lines.push(t('timeline.silenced', { name: cell(incident.silence.byName), time: formatTime(incident.silence.at), until: formatTime(incident.silence.until), silence: incident.silence.id }));
  if (incident.escalation) lines.push(t('timeline.escalated', { level: incident.escalation.level, time: formatTime(incident.escalation.at) }));
  if (incident.status === 'resolved') {
    const r = incident.resolution;
    const how = r ? (r.note ? t('timeline.resolvedByNote', { name: cell(r.byName), note: cell(r.note) }) : t('timeline.resolvedBy', { name: cell(r.byName) })) : t('timeline.resolvedByAlertmanager');
    lines.push(t('timeline.resolved', { time: formatTime(incident.resolvedAt ?? incident.updatedAt), how }));
  } else {
    lines.push(t('timeline.notResolved'));
  }
  lines.push(t('timeline.timeToAck', { duration: durationOr(figures.timeToAcknowledgeMs, t('none')) }), t('timeline.timeToResolve', { duration: durationOr(figures.timeToResolveMs, t('none')) }));
  for (const clock of input.clocks ?? []) lines.push(t('timeline.timeTargets', { runbook: clock.runbook, clock: describeClock(clock) }));
  lines.push('');

  lines.push(t('timeline.actions'), '');
  if (figures.actions.length === 0) lines.push(t('timeline.noActions'));
  else {
    lines.push(t('timeline.tableHead'), '| --- | --- | --- | --- | --- |');
    for (const a of figures.actions) {
      lines.push(`| ${cell(a.title)} | ${cell(a.requestedBy)} | ${cell(a.approvedBy.join(t('list.separator')) || t('none'))} | ${stateText(a.state)} | ${cell(a.result ?? t('none'))} |`);
    }
  }
  lines.push('', t('timeline.events'), '');
  for (const event of audit) {
    lines.push(`- ${stamp(event.at)} · \`${event.kind}\` · ${cell(actorName(event, names))}: ${cell(event.text)}`);
  }
  if (audit.length === 0) lines.push(t('timeline.noEvents'));
  return redact(`${lines.join('\n')}\n`);
}
