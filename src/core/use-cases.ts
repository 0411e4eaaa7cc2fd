import type { AlertmanagerNotification } from './alertmanager-payload.js';
import type { Card } from './card.js';
import type { ChannelDigest } from './digest.js';
import type { AuditEvent, CardMessage, Incident, StepRun, StoredAlert } from './domain.js';
import type { Accepted } from './engine.js';
import type { Actor } from './policy.js';
import type { Runbook } from './ports/runbooks.js';
import type { StepRunner } from './ports/step-runner.js';
import type { RunnerRecord } from './ports/runner-jobs.js';

export interface RunnerStatus extends RunnerRecord {
  connected: boolean;
  /** Seconds since its last poll. */
  silentSeconds: number;
}
import type { DeliveredReply } from './ports/store.js';
import type { Policy } from '../settings/policy.js';

/** Silences made from a card's button last this long; the command chooses its own. */
export const BUTTON_SILENCE_MS = 3_600_000;

/** An incident with what its `show` command and card need: its alerts and step runs. */
export interface IncidentDetails {
  incident: Incident;
  alerts: StoredAlert[];
  runs: StepRun[];
}

/**
 * What the adapters (webhook, chat platforms, console, commands) may ask of the core. They are
 * typed to this, never to the Engine class that implements it, and never see the store: reading an
 * incident is a query here too.
 */
export interface IncidentUseCases {
  // Accept a notification.
  accept(notification: AlertmanagerNotification, body: string, options?: { atOnce?: boolean }): Promise<Accepted>;

  // Press a button (or type the command that does the same).
  requestStep(
    actor: Actor,
    incidentId: number,
    runbook: string,
    step: string,
    choices?: Record<string, string>,
    options?: { confirmAfterResolve?: boolean },
  ): Promise<StepRun | undefined>;
  requestChoice(actor: Actor, choiceId: number): Promise<StepRun | undefined>;
  requestRollback(actor: Actor, runId: number): Promise<StepRun>;
  decide(actor: Actor, runId: number, decision: 'approve' | 'deny'): Promise<StepRun>;
  acknowledge(actor: Actor, incidentId: number): Promise<Incident>;
  resolve(actor: Actor, incidentId: number, note: string): Promise<Incident>;
  silence(actor: Actor, incidentId: number, durationMs: number): Promise<Incident>;
  unsilence(actor: Actor, incidentId: number): Promise<void>;
  /** "Post cards" on a storm digest: the storm's held cards go out at the channel's full pace. */
  releaseStorm(actor: Actor, stormId: number): Promise<void>;
  /** Whether a signed chat request is new (false: a replay, acknowledged but not handled). */
  firstSighting(key: string): Promise<boolean>;

  // Read an incident.
  incident(id: number): Promise<Incident | undefined>;
  /** The latest incidents, open or resolved, newest first. */
  recentIncidents(limit: number): Promise<Incident[]>;
  /** Open incidents, newest first. */
  openIncidents(limit: number): Promise<Incident[]>;
  incidentDetails(id: number): Promise<IncidentDetails | undefined>;
  /** Where the incident's cards were posted. */
  cardMessages(incidentId: number): Promise<CardMessage[]>;
  /** The incident's card as it is now; undefined when the incident does not exist. */
  incidentCard(id: number): Promise<Card | undefined>;
  /** The replies delivered to the incident's thread on one platform, oldest first. */
  deliveredReplies(platform: string, incidentId: number): Promise<DeliveredReply[]>;
  auditTrail(incidentId: number): Promise<AuditEvent[] | undefined>;
  timeline(incidentId: number): Promise<string | undefined>;
  /**
   * A run's whole output (redacted): undefined when the incident has no such run, null while it
   * has none yet (not finished).
   */
  runOutput(incidentId: number, runId: number): Promise<string | null | undefined>;
  /** The latest posts of scheduled jobs (checklists, backups, missed runs), newest first. */
  schedulePosts(limit: number): Promise<AuditEvent[]>;
  /**
   * The digests of the storms open in chat channels now (redacted, as the channels show them), so
   * the console lists the same incidents with the same counts.
   */
  openStormDigests(): Promise<ChannelDigest[]>;
  /** The runners that have polled this bot, by name; connected while their heartbeat is within the bound. */
  runners(): Promise<RunnerStatus[]>;

  // What commands need to explain and check a step.
  readonly runbooks: readonly Runbook[];
  readonly policy: Policy;
  readonly runner: StepRunner;
  now(): string;
}
