import type { MessageRef } from './chat-platform.js';
import type {
  AuditHead,
  StepState,
  ThreadMessage,
  Approval,
  AuditEvent,
  CardMessage,
  CardTarget,
  Choice,
  DeliveryTarget,
  Incident,
  JobClaim,
  JobRun,
  LifecycleField,
  NewAuditEvent,
  NewIncident,
  NewStepRun,
  OutboxKind,
  OutboxMessage,
  QueuedNotification,
  RecordedProcess,
  StepRun,
  StoredAlert,
} from '../domain.js';
import type { RunnerJobsTx } from './runner-jobs.js';
import type { StormTx } from './storms.js';

/**
 * What a transaction promises to touch, so that a store may run it beside others.
 *
 * `group`: the transaction reads and writes only what belongs to this Alertmanager group key: its
 * incidents, their alerts, notifications, audit chains and queued messages (recording a webhook
 * notification). Transactions of different groups cannot see each other's writes, so a store may
 * run them at the same time; two of the same group, and every transaction without a scope, still
 * run alone, as if one at a time.
 *
 * `readOnly`: the transaction writes nothing, and may see group transactions' writes as of each
 * statement rather than as of one point in time (a look at what waits in the inbox, whose rows
 * are then taken one by one by group transactions that check again). A store may run it beside
 * group transactions.
 */
export interface TransactionScope {
  group?: string;
  readOnly?: boolean;
}

/**
 * The storage port. Every read and write happens inside `transaction`, which is atomic and
 * isolated (serialisable: as if transactions ran one at a time); the callback must only await
 * store calls (no network), so transactions stay short. SQLite and PostgreSQL implement it and
 * pass the same contract tests.
 */
export interface Store {
  transaction<T>(work: (tx: StoreTx) => Promise<T>, scope?: TransactionScope): Promise<T>;
  /** Cheap round trip for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type IncidentPatch = Partial<
  Pick<Incident, 'status' | 'severity' | 'title' | 'commonLabels' | 'commonAnnotations' | 'groupLabels' | 'externalUrl' | 'truncatedAlerts' | 'updatedAt' | 'lastSeenAt' | 'resolvedAt' | LifecycleField>
>;

export type StepRunPatch = Partial<Pick<StepRun, 'startedAt' | 'finishedAt' | 'result' | 'runner'>>;

/** A reply queued for a thread: its outbox row, the thread it goes to, and the message. */
export interface QueuedReply {
  id: number;
  platform: string;
  channel: string;
  message: ThreadMessage;
}

/** A thread message that was delivered to a platform: its outbox row id, when it was queued and sent. */
export interface DeliveredReply {
  id: number;
  createdAt: string;
  sentAt: string | null;
  message: ThreadMessage;
}

export interface StoreTx {
  /** Runners and the jobs handed to them. */
  readonly runners: RunnerJobsTx;
  /** Storm digests of busy channels. */
  readonly storms: StormTx;
  /**
   * Remembers a chat request (its replay key) until `expiresAt`, and forgets those expired by
   * `now`. True when the key was not remembered yet: a false answer means a replay.
   */
  firstSighting(key: string, now: string, expiresAt: string): Promise<boolean>;

  hasNotification(key: string): Promise<boolean>;
  insertNotification(key: string, incidentId: number, at: string): Promise<void>;

  /** Puts a notification in the inbox, after every one there; returns its place (seq). */
  queueNotification(n: { groupKey: string; receivedAt: string; body: string }): Promise<number>;
  /** Whether a notification of this group waits in the inbox (so a new one must wait behind it). */
  hasQueuedNotification(groupKey: string): Promise<boolean>;
  /** Waiting notifications, oldest first (those given up on excluded). */
  queuedNotifications(limit: number): Promise<QueuedNotification[]>;
  /**
   * Removes a waiting notification so that it is recorded in this transaction; false when it is
   * gone (another worker recorded it) or an older one of its group still waits (order within a
   * group is the order received).
   */
  takeQueuedNotification(seq: number, groupKey: string): Promise<boolean>;
  /** Records a failed attempt; with `giveUp`, the notification stops waiting (kept with its error). */
  failQueuedNotification(seq: number, error: string, at: string, giveUp: boolean): Promise<void>;
  countQueuedNotifications(): Promise<{ waiting: number; failed: number }>;

  insertIncident(incident: NewIncident): Promise<Incident>;
  updateIncident(id: number, patch: IncidentPatch): Promise<void>;
  getIncident(id: number): Promise<Incident | undefined>;
  /** Where the incident is shown (empty for an unknown incident): one column, read for every message queued. */
  incidentTargets(id: number): Promise<DeliveryTarget[]>;
  /** The newest incident (highest episode) of an Alertmanager group. */
  latestIncidentOfGroup(groupKey: string): Promise<Incident | undefined>;
  listIncidents(filter: { status?: Incident['status']; limit: number }): Promise<Incident[]>;
  countIncidents(status: Incident['status']): Promise<number>;
  /**
   * Moves a firing, unacknowledged incident's escalation from level `fromLevel` (0: never escalated)
   * to `toLevel` at `at`; false when it is resolved, acknowledged or at another level already (another
   * worker got there first), so each escalation step is claimed exactly once.
   */
  advanceEscalation(id: number, fromLevel: number, toLevel: number, at: string): Promise<boolean>;

  /** Inserts or replaces the alert; says whether it was new to the incident. */
  upsertAlert(alert: StoredAlert): Promise<'inserted' | 'updated'>;
  listAlerts(incidentId: number): Promise<StoredAlert[]>;

  getCardMessage(incidentId: number, platform: string, channel: string): Promise<CardMessage | undefined>;
  listCardMessages(incidentId: number): Promise<CardMessage[]>;
  saveCardMessage(incidentId: number, ref: MessageRef): Promise<void>;

  insertStepRun(run: NewStepRun): Promise<StepRun>;
  getStepRun(id: number): Promise<StepRun | undefined>;
  listStepRuns(incidentId: number): Promise<StepRun[]>;
  /**
   * The newest run of this step that is not finished yet (requested, approved or running). With a
   * `target` (an alert's fingerprint, see ALERT_PARAM), runs for other alerts of the group do not
   * count: host1's pending restart does not stop host2's. A run for no particular alert counts for
   * every target, and a request for no particular alert meets every run of the step.
   */
  activeStepRun(incidentId: number, runbook: string, step: string, target?: string): Promise<StepRun | undefined>;
  listStepRunsInState(state: StepState, limit: number): Promise<StepRun[]>;
  /**
   * Running steps whose replica has not been seen since `staleBefore` (or that record none): the
   * replica died mid-step, so nobody will finish them.
   */
  orphanedRuns(staleBefore: string, limit: number): Promise<StepRun[]>;
  /**
   * Records the process group a running run is about to start its program in (replacing the one
   * of its previous program); false when the run is no longer running, and then it must not start.
   */
  recordStepProcess(id: number, process: Omit<RecordedProcess, 'endedAt'>): Promise<boolean>;
  /** Interrupted runs whose recorded process group (on `host`; null: anywhere) has not been found ended yet. */
  leftoverStepRuns(host: string | null, limit: number): Promise<StepRun[]>;
  /** Marks a leftover's process group as ended (found gone, or stopped); false when it was already. */
  endStepProcess(id: number, at: string): Promise<boolean>;
  /**
   * Runs of this step (any incident) that may still be executing: running, or interrupted with a
   * recorded process group not yet found ended.
   */
  stepRunsThatMayRun(runbook: string, step: string): Promise<StepRun[]>;
  /** Moves a run to `to` only if it is in one of `from`; false when another actor got there first. */
  transitionStepRun(id: number, from: readonly StepState[], to: StepState, at: string, patch?: StepRunPatch): Promise<boolean>;

  insertChoice(choice: Omit<Choice, 'id'>): Promise<Choice>;
  getChoice(id: number): Promise<Choice | undefined>;

  /** False when this approver already decided on this run. */
  insertApproval(approval: Approval): Promise<boolean>;
  listApprovals(runId: number): Promise<Approval[]>;
  /** Every approval and denial of an incident's runs in one read (a card render, a timeline), by run then time. */
  listIncidentApprovals(incidentId: number): Promise<Approval[]>;

  /** The hash of the newest audit event of this incident (or of the events with no incident); '' when none. */
  lastAuditHash(incidentId: number | null): Promise<string>;
  insertAudit(event: NewAuditEvent & { prevHash: string; hash: string }): Promise<AuditEvent>;
  /** One chain, oldest first: an incident's records, or with null the records of no incident (refusals of unknown targets, scheduled jobs). */
  listAudit(incidentId: number | null): Promise<AuditEvent[]>;
  /** Resolved incidents with audit records, the newest of them older than `before` (retention), lowest id first. */
  listExpiredAuditChains(before: string, limit: number): Promise<number[]>;
  /** Deletes every audit record of one incident (retention of whole chains); returns how many. */
  deleteAudit(incidentId: number): Promise<number>;
  /**
   * The head of each chain that has a record with a seq above `afterSeq`: its newest record (hash,
   * seq, kind, time) and how many records the chain has up to it; ordered by head seq, at most `limit`.
   */
  auditHeads(afterSeq: number, limit: number): Promise<AuditHead[]>;

  /**
   * Queues a message; `incidentId` is null exactly for kind 'post' (a channel message of its own).
   * `subject`: see OutboxMessage.subject.
   */
  enqueueOutbox(message: { platform: string; channel: string; incidentId: number | null; kind: OutboxKind; payload: unknown; at: string; subject?: string | undefined }): Promise<number>;
  /**
   * The replies of an incident queued with this subject (sent or not), one per thread they went to,
   * oldest first, each as its newest queued edit shows it (the id stays the reply's).
   */
  repliesAbout(incidentId: number, subject: string): Promise<QueuedReply[]>;
  /**
   * Where the reply with this subject in this thread is: where it was posted, or where the newest
   * edit that found it deleted posted it anew. Undefined when there is no such reply, or it was
   * sent without its ref being recorded (before edits existed).
   */
  postedReply(platform: string, channel: string, incidentId: number, subject: string): Promise<MessageRef | undefined>;
  /**
   * A card sync still waiting for this card and not yet being sent, if any: a change joins it
   * rather than queue another. One being sent was rendered before the change, so it does not count.
   */
  pendingCardSync(platform: string, channel: string, incidentId: number): Promise<number | undefined>;
  /**
   * An update of a posted card that the platform's pace does not allow now: removes the card sync
   * `outboxId` from the outbox (the thread's replies no longer wait behind it) and marks the card
   * as wanting a refresh, keeping the earliest time it was wanted.
   */
  deferCardUpdate(outboxId: number, card: CardTarget, at: string): Promise<void>;
  /** Cards of `platform` marked by deferCardUpdate, the longest waiting first. */
  cardsWantingRefresh(platform: string, limit: number): Promise<CardTarget[]>;
  /** Unmarks a card (its sync is queued again); false when it was not marked. */
  clearCardRefresh(card: CardTarget): Promise<boolean>;
  /** Unsent messages, oldest first, due or not. */
  pendingOutbox(limit: number): Promise<OutboxMessage[]>;
  /**
   * The oldest unsent message of each thread (platform, channel, incident), when it is due. Only
   * heads are returned, so a thread stays in order, and one stuck thread never hides the others.
   */
  dueThreadHeads(now: string, limit: number): Promise<OutboxMessage[]>;
  /**
   * Records that a post of this message is about to be sent (`sendingSince`), committed before the
   * platform is called: if the process dies mid-send, the next attempt knows it may be there already.
   */
  markSending(id: number, at: string): Promise<void>;
  /** Marks the message sent (and no longer in doubt); `posted`: where a reply landed, kept for editing it later. */
  completeOutbox(id: number, at: string, posted?: MessageRef): Promise<void>;
  /**
   * Schedules another attempt. `sendingSince` is cleared, unless `mayHaveBeenDelivered`: the attempt
   * failed in a way that does not say whether the platform took the message.
   */
  retryOutbox(id: number, nextAttemptAt: string, error: string, options?: { mayHaveBeenDelivered?: boolean }): Promise<void>;
  countPendingOutbox(): Promise<number>;
  /**
   * The thread messages delivered to `platform` for this incident, in the order they were queued,
   * each as its newest delivered edit left it (the web console renders its threads from these).
   */
  listDeliveredReplies(platform: string, incidentId: number): Promise<DeliveredReply[]>;

  /** Records that replica `id` is alive at `at` (its first call records when it started). */
  touchReplica(id: string, at: string): Promise<void>;

  /** Every scheduled job's state, by name. */
  listJobRuns(): Promise<JobRun[]>;
  /** Records a job the first time it is seen, with `slot` as its last slot (nothing before it counts as missed). */
  initJobRun(job: string, slot: string): Promise<void>;
  /**
   * Claims the run of `job` for `slot` (its scheduled time): 'claimed' when the slot is newer than the
   * last one and no run is in progress (the run is marked in progress); 'overlap' when a run is still
   * going (the slot is recorded as skipped); 'taken' when this slot or a later one was handled already.
   */
  claimJobRun(job: string, slot: string, at: string): Promise<JobClaim>;
  /** Ends the run in progress. */
  finishJobRun(job: string, at: string, status: string): Promise<void>;
  /** Moves the last slot from `fromSlot` to `toSlot` (a missed slot being reported); false when another replica moved it. */
  advanceJobSlot(job: string, fromSlot: string, toSlot: string): Promise<boolean>;
  /** The latest events scheduled jobs posted (finished, missed, interrupted), newest first. */
  recentSchedulePosts(limit: number): Promise<AuditEvent[]>;

  /** Keeps a run's full output (redacted and bounded by the step action); a second save for a run is ignored. */
  saveStepOutput(runId: number, output: string, at: string): Promise<void>;
  /** A run's full output, when one was kept (short output is all in its result's outputTail). */
  getStepOutput(runId: number): Promise<string | undefined>;
}
