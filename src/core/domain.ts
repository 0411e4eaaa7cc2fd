import type { Severity, StepState } from './card.js';
import type { ResultMessage } from '../domain/result-message.js';
import type { MessageRef } from './ports/chat-platform.js';

// Shared value types the store port and the stores speak in, re-exported so that src/store needs
// no other core module than this one and the ports.
export type { AuditHead } from './audit-seal.js';
export type { Severity, StepState, ThreadMessage } from './card.js';

/**
 * The records the core keeps. Incidents and alerts mirror Alertmanager's groups; step runs,
 * approvals and audit events are the bot's own.
 */
export type Labels = Record<string, string>;

/**
 * The reserved param recording which alert of a grouped incident a step run is for (the alert's
 * fingerprint). The store reads it to keep one active request per step and alert.
 */
export const ALERT_PARAM = '@alert';

export type IncidentStatus = 'firing' | 'resolved';

/** A chat channel an incident is shown in: one card and one thread per target. */
export interface DeliveryTarget {
  platform: string;
  channel: string;
}

export interface Incident {
  id: number;
  groupKey: string;
  /** 1 for the first firing of a group, 2 when it fires again after resolving, … */
  episode: number;
  status: IncidentStatus;
  severity: Severity;
  title: string;
  receiver: string;
  groupLabels: Labels;
  commonLabels: Labels;
  commonAnnotations: Labels;
  externalUrl: string;
  truncatedAlerts: number;
  previousIncidentId: number | null;
  /** Where its card and thread live, decided by routing when the incident opened. */
  targets: DeliveryTarget[];
  createdAt: string;
  updatedAt: string;
  lastSeenAt: string;
  resolvedAt: string | null;
  /** Who took ownership (ack), and when; null while nobody has. */
  acknowledgement: PersonAt | null;
  /** The Alertmanager silence made from chat for this incident's group, while it exists. */
  silence: (PersonAt & { id: string; until: string }) | null;
  /** Set when a person resolved the incident from chat (null when Alertmanager resolved it). */
  resolution: (PersonAt & { note: string }) | null;
  /** How many times an unacknowledged incident was escalated, and when last. */
  escalation: { level: number; at: string } | null;
}

/** Someone who did something, as stored: the actor id (`platform:user`), their display name and the time. */
export interface PersonAt {
  by: string;
  byName: string;
  at: string;
}

/** The fields an incident's lifecycle fills in after it opens; a new incident has none of them. */
export type LifecycleField = 'acknowledgement' | 'silence' | 'resolution' | 'escalation';

export type NewIncident = Omit<Incident, 'id' | LifecycleField>;

export interface StoredAlert {
  incidentId: number;
  fingerprint: string;
  status: IncidentStatus;
  labels: Labels;
  annotations: Labels;
  startsAt: string;
  endsAt: string | null;
  generatorUrl: string | null;
}

/** One card of an incident: where it is (or will be) posted. */
export type CardTarget = DeliveryTarget & { incidentId: number };

export interface CardMessage extends MessageRef {
  incidentId: number;
}

export interface StepResultRecord {
  status: 'succeeded' | 'failed' | 'timed_out' | 'interrupted';
  summary: string;
  said?: ResultMessage | undefined;
  saidParts?: ResultMessage[] | undefined;
  exitCode?: number | undefined;
  httpStatus?: number | undefined;
  durationMs: number;
  outputTail: string;
  facts?: Array<{ label: string; value: string }> | undefined;
  artefacts?: Array<{ kind: string; path: string; sizeBytes: number; sha256: string }> | undefined;
}

export interface StepRun {
  id: number;
  incidentId: number;
  runbook: string;
  step: string;
  stepTitle: string;
  params: Labels;
  platform: string;
  requestedBy: string;
  requestedByName: string;
  changes: boolean;
  requiredApprovals: number;
  selfApprove: boolean;
  state: StepState;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  result: StepResultRecord | null;
  /** The replica that claimed the run to execute it (null until it runs). */
  runner: string | null;
  /** The console browser session (a digest) the request came from; absent from chat platforms. */
  requestedSession?: string | null | undefined;
  /** The process group of the program the run started last (null until one started). */
  process: RecordedProcess | null;
}

/**
 * A step's process group as recorded before its program ran: enough for a bot restarted on the
 * same host to tell whether it is still alive (pid and start time) and to stop it.
 */
export interface RecordedProcess {
  pid: number;
  pgid: number;
  /** Boot id and start time of the process (a reused pid has another). */
  startedAt: string;
  /** Host name and pid namespace where the pid means something. */
  host: string;
  /** When it was found gone or was stopped after the run was interrupted; null while it may still run. */
  endedAt: string | null;
}

export type NewStepRun = Omit<StepRun, 'id' | 'startedAt' | 'finishedAt' | 'result' | 'updatedAt' | 'runner' | 'process'>;

export interface Approval {
  runId: number;
  /** Who, as `platform:userId` (older records: the bare id, on the run's platform). */
  approver: string;
  approverName: string;
  decision: 'approve' | 'deny';
  at: string;
  /** The console browser session (a digest) the decision came from; absent from chat platforms. */
  session?: string | null | undefined;
}

export interface AuditEvent {
  seq: number;
  at: string;
  incidentId: number | null;
  /** A platform user as `platform:userId`, or `system`. */
  actor: string;
  kind: string;
  /** Human-readable one-liner, also posted in the thread. */
  text: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export type NewAuditEvent = Omit<AuditEvent, 'seq' | 'prevHash' | 'hash'>;

/**
 * card and reply belong to an incident's card and thread; edit replaces a reply already queued in
 * the same thread (the one with its `subject`), so it goes out after it; post is a message of its
 * own in a channel (scheduled jobs), with no incident.
 */
export type OutboxKind = 'card' | 'reply' | 'post' | 'edit';

export interface OutboxMessage {
  id: number;
  platform: string;
  channel: string;
  /** Null for posts (kind 'post'), which belong to no incident. */
  incidentId: number | null;
  kind: OutboxKind;
  /** For replies and posts: the message. For cards: nothing; the card is rendered when sent, so it is never stale. */
  payload: unknown;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  /**
   * Set while a post may have reached the platform without the outcome being recorded: from the
   * moment an attempt starts sending until it is recorded, and kept after a failure that is not a
   * certain refusal (timeout, lost answer, 5xx). Absent when no attempt is in doubt.
   */
  sendingSince?: string | undefined;
  /**
   * What a reply is about, so that it can be edited once that is settled (`run:<id>`: a request for
   * approval); for an edit, the subject of the reply it replaces. Absent on other messages.
   */
  subject?: string | undefined;
  /**
   * Set on thread heads (dueThreadHeads): how urgent the message is, lowest first. Under 10: the
   * card of an incident not yet shown in the channel; the rest of the number is the incident's
   * severity (0 critical, 1 warning, 2 info, 3 none).
   */
  priority?: number | undefined;
  /** Set on thread heads of an incident: its severity. */
  severity?: Severity | undefined;
}

/** A head's priority below this: the card of an incident not yet shown in its channel. */
export const NEW_CARD_PRIORITY = 10;

/**
 * A notification acknowledged while the bot was busy, waiting in the inbox to be recorded: the
 * request body exactly as received (it passed validation before it was acknowledged).
 */
export interface QueuedNotification {
  seq: number;
  groupKey: string;
  receivedAt: string;
  body: string;
  /** Attempts to record it that failed (a failure is retried until the worker gives up). */
  attempts: number;
}

/** One option of a picker posted in a thread (a backup to restore); pressing it requests the step with `param = value`. */
export interface Choice {
  id: number;
  incidentId: number;
  runbook: string;
  step: string;
  param: string;
  value: string;
  label: string;
  createdAt: string;
}

/** The state of one scheduled job, kept in the store so that any replica that leads can carry on. */
export interface JobRun {
  job: string;
  /** The newest scheduled time (slot) that was run, skipped or reported missed; '' before the first. */
  lastSlot: string;
  /** Set while a run is in progress (its start). */
  runningSince: string | null;
  lastFinishedAt: string | null;
  lastStatus: string | null;
}

/** What claiming a job's slot found: it is ours to run; the previous run is still going (skipped); or another replica had it. */
export type JobClaim = 'claimed' | 'overlap' | 'taken';
