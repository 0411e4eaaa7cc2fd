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

  const lines: string[] = [`# Incident #${incident.id}: ${cell(incident.title)}`, ''];
  const labels = Object.entries(incident.groupLabels).map(([k, v]) => `${k}=${v}`).join(', ');
  lines.push(
    `- **Severity:** ${incident.severity}`,
    `- **Status:** ${incident.status}`,
    ...(labels ? [`- **Group:** ${cell(labels)}`] : []),
    `- **Alert started:** ${formatTime(figures.alertStart)}`,
    `- **Incident opened:** ${formatTime(incident.createdAt)}`,
  );
  lines.push(
    incident.acknowledgement
      ? `- **Acknowledged:** ${formatTime(incident.acknowledgement.at)} by ${cell(incident.acknowledgement.byName)}`
      : '- **Acknowledged:** not yet',
  );
  if (incident.silence) lines.push(`- **Silenced:** by ${cell(incident.silence.byName)} at ${formatTime(incident.silence.at)} until ${formatTime(incident.silence.until)} (silence ${incident.silence.id})`);
  if (incident.escalation) lines.push(`- **Escalated:** level ${incident.escalation.level}, last at ${formatTime(incident.escalation.at)}`);
  if (incident.status === 'resolved') {
    const how = incident.resolution ? `by ${cell(incident.resolution.byName)}${incident.resolution.note ? `: ${cell(incident.resolution.note)}` : ''}` : 'by Alertmanager (alerts resolved)';
    lines.push(`- **Resolved:** ${formatTime(incident.resolvedAt ?? incident.updatedAt)} ${how}`);
  } else {
    lines.push('- **Resolved:** not yet');
  }
  lines.push(`- **Time to acknowledge:** ${durationOr(figures.timeToAcknowledgeMs, '—')}`, `- **Time to resolve:** ${durationOr(figures.timeToResolveMs, '—')}`);
  for (const clock of input.clocks ?? []) lines.push(`- **Time targets (${clock.runbook}):** ${describeClock(clock)}`);
  lines.push('');

  lines.push('## Actions', '');
  if (figures.actions.length === 0) lines.push('No runbook steps were run.');
  else {
    lines.push('| step | requested by | approved by | state | result |', '| --- | --- | --- | --- | --- |');
    for (const a of figures.actions) {
      lines.push(`| ${cell(a.title)} | ${cell(a.requestedBy)} | ${cell(a.approvedBy.join(', ') || '—')} | ${a.state} | ${cell(a.result ?? '—')} |`);
    }
  }
  lines.push('', '## Events', '');
  for (const event of audit) {
    lines.push(`- ${stamp(event.at)} · \`${event.kind}\` · ${cell(actorName(event, names))}: ${cell(event.text)}`);
  }
  if (audit.length === 0) lines.push('No events recorded.');
  return redact(`${lines.join('\n')}\n`);
}
