/**
 * Row ↔ domain mapping shared by the SQL stores. SQLite and PostgreSQL keep the same columns with
 * the same encodings (ISO timestamps and JSON as text, booleans as 0/1), so one set of mappers
 * gives both stores exactly the same domain objects: same fields, null where SQL has NULL.
 */
import type { StepState, ThreadMessage, Approval, AuditEvent, CardMessage, Choice, Incident, JobRun, OutboxMessage, QueuedNotification, StepRun, StoredAlert } from '../core/domain.js';
import type { DeliveredReply, IncidentPatch } from '../core/ports/store.js';

export type Row = Record<string, unknown>;

export const json = (value: unknown): string => JSON.stringify(value);
// Column values are TEXT or INTEGER; anything else is a schema bug worth failing loudly on.
export const str = (value: unknown): string => {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  throw new TypeError(`unexpected column value of type ${typeof value}`);
};
export const parse = <T>(value: unknown): T => JSON.parse(str(value)) as T;
export const parseOrNull = <T>(value: unknown): T | null => (value === null || value === undefined ? null : parse<T>(value));
export const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : str(value));
const idOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export function toIncident(r: Row): Incident {
  return {
    id: Number(r.id),
    groupKey: str(r.group_key),
    episode: Number(r.episode),
    status: str(r.status) as Incident['status'],
    severity: str(r.severity) as Incident['severity'],
    title: str(r.title),
    receiver: str(r.receiver),
    groupLabels: parse(r.group_labels),
    commonLabels: parse(r.common_labels),
    commonAnnotations: parse(r.common_annotations),
    externalUrl: str(r.external_url),
    truncatedAlerts: Number(r.truncated_alerts),
    previousIncidentId: idOrNull(r.previous_incident_id),
    targets: parse(r.targets),
    createdAt: str(r.created_at),
    updatedAt: str(r.updated_at),
    lastSeenAt: str(r.last_seen_at),
    resolvedAt: strOrNull(r.resolved_at),
    acknowledgement: parseOrNull(r.acknowledgement),
    silence: parseOrNull(r.silence),
    resolution: parseOrNull(r.resolution),
    escalation: parseOrNull(r.escalation),
  };
}

export function toAlert(r: Row): StoredAlert {
  return {
    incidentId: Number(r.incident_id),
    fingerprint: str(r.fingerprint),
    status: str(r.status) as StoredAlert['status'],
    labels: parse(r.labels),
    annotations: parse(r.annotations),
    startsAt: str(r.starts_at),
    endsAt: strOrNull(r.ends_at),
    generatorUrl: strOrNull(r.generator_url),
  };
}

export function toCard(r: Row): CardMessage {
  return {
    incidentId: Number(r.incident_id),
    platform: str(r.platform),
    channel: str(r.channel),
    messageId: str(r.message_id),
    threadId: str(r.thread_id),
  };
}

export function toRun(r: Row): StepRun {
  return {
    id: Number(r.id),
    incidentId: Number(r.incident_id),
    runbook: str(r.runbook),
    step: str(r.step),
    stepTitle: str(r.step_title),
    params: parse(r.params),
    platform: str(r.platform),
    requestedBy: str(r.requested_by),
    requestedByName: str(r.requested_by_name),
    changes: Number(r.changes) === 1,
    requiredApprovals: Number(r.required_approvals),
    selfApprove: Number(r.self_approve) === 1,
    state: str(r.state) as StepState,
    createdAt: str(r.created_at),
    updatedAt: str(r.updated_at),
    startedAt: strOrNull(r.started_at),
    finishedAt: strOrNull(r.finished_at),
    result: parseOrNull(r.result),
    runner: strOrNull(r.runner),
    requestedSession: strOrNull(r.requested_session),
    process:
      r.proc_pid === null || r.proc_pid === undefined
        ? null
        : { pid: Number(r.proc_pid), pgid: Number(r.proc_pgid), startedAt: str(r.proc_started_at), host: str(r.proc_host), endedAt: strOrNull(r.proc_ended_at) },
  };
}

export function toChoice(r: Row): Choice {
  return {
    id: Number(r.id),
    incidentId: Number(r.incident_id),
    runbook: str(r.runbook),
    step: str(r.step),
    param: str(r.param),
    value: str(r.value),
    label: str(r.label),
    createdAt: str(r.created_at),
  };
}

export function toApproval(r: Row): Approval {
  return {
    runId: Number(r.run_id),
    approver: str(r.approver),
    approverName: str(r.approver_name),
    decision: str(r.decision) as Approval['decision'],
    at: str(r.at),
    session: strOrNull(r.session),
  };
}

export function toAudit(r: Row): AuditEvent {
  return {
    seq: Number(r.seq),
    at: str(r.at),
    incidentId: idOrNull(r.incident_id),
    actor: str(r.actor),
    kind: str(r.kind),
    text: str(r.text),
    data: parse(r.data),
    prevHash: str(r.prev_hash),
    hash: str(r.hash),
  };
}

export function toJobRun(r: Row): JobRun {
  return {
    job: str(r.job),
    lastSlot: str(r.last_slot),
    runningSince: strOrNull(r.running_since),
    lastFinishedAt: strOrNull(r.last_finished_at),
    lastStatus: strOrNull(r.last_status),
  };
}

export function toOutbox(r: Row): OutboxMessage {
  return {
    id: Number(r.id),
    platform: str(r.platform),
    channel: str(r.channel),
    incidentId: idOrNull(r.incident_id),
    kind: str(r.kind) as OutboxMessage['kind'],
    payload: parse(r.payload),
    attempts: Number(r.attempts),
    nextAttemptAt: str(r.next_attempt_at),
    lastError: strOrNull(r.last_error),
    createdAt: str(r.created_at),
    // Absent rather than undefined when no attempt is in doubt, so toEqual against a literal holds.
    ...(r.sending_since !== null && r.sending_since !== undefined ? { sendingSince: str(r.sending_since) } : {}),
    ...(r.subject !== null && r.subject !== undefined ? { subject: str(r.subject) } : {}),
  };
}

export function toQueuedNotification(r: Row): QueuedNotification {
  return { seq: Number(r.seq), groupKey: str(r.group_key), receivedAt: str(r.received_at), body: str(r.body), attempts: Number(r.attempts) };
}

/** A delivered reply from the columns id, payload, created_at and sent_at of an outbox row. */
export function toDeliveredReply(r: Row): DeliveredReply {
  return { id: Number(r.id), createdAt: str(r.created_at), sentAt: strOrNull(r.sent_at), message: parse<ThreadMessage>(r.payload) };
}

const INCIDENT_COLUMNS: Record<keyof IncidentPatch, string> = {
  status: 'status',
  severity: 'severity',
  title: 'title',
  commonLabels: 'common_labels',
  commonAnnotations: 'common_annotations',
  groupLabels: 'group_labels',
  externalUrl: 'external_url',
  truncatedAlerts: 'truncated_alerts',
  updatedAt: 'updated_at',
  lastSeenAt: 'last_seen_at',
  resolvedAt: 'resolved_at',
  acknowledgement: 'acknowledgement',
  silence: 'silence',
  resolution: 'resolution',
  escalation: 'escalation',
};

const JSON_FIELDS = new Set<keyof IncidentPatch>(['commonLabels', 'commonAnnotations', 'groupLabels']);
/** Nullable JSON columns: NULL stays NULL rather than becoming the text 'null'. */
const NULLABLE_JSON_FIELDS = new Set<keyof IncidentPatch>(['acknowledgement', 'silence', 'resolution', 'escalation']);

/**
 * The columns and values an incident patch sets, in the patch's order; the column names come from
 * a fixed table (never from the patch), so they are safe to put into SQL text.
 */
export function incidentPatchColumns(patch: IncidentPatch): Array<{ column: string; value: unknown }> {
  return (Object.entries(patch) as Array<[keyof IncidentPatch, unknown]>).map(([key, value]) => ({
    column: INCIDENT_COLUMNS[key],
    value: JSON_FIELDS.has(key) || (NULLABLE_JSON_FIELDS.has(key) && value !== null) ? json(value) : value,
  }));
}
