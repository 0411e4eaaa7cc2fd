import type { Logger } from 'pino';
import { matchingRunbooks, renderTemplate, type ActionSettings, type Runbook, type RunbookStep } from './ports/runbooks.js';
import type { AlertmanagerNotification } from './alertmanager-payload.js';
import type { Card } from './card.js';
import { renderIncidentCard } from './card-builder.js';
import { EngineRuntime } from './runtime.js';
import type { IncidentDetails, IncidentUseCases, RunnerStatus } from './use-cases.js';
import type { ChatPlatform } from './ports/chat-platform.js';
import type { AuditEvent, CardMessage, Incident, Labels, StepRun } from './domain.js';
import { acknowledgeIncident } from './acknowledge.js';
import type { DeliveryTarget } from './events.js';
import type { StepExecutor } from './executor.js';
import type { EscalationConfig } from '../settings/escalation.js';
import type { Leadership } from './ports/leadership.js';
import type { ReplicaSettings } from './replica.js';
import { recordNotification, type RecordedNotification } from './notifications.js';
import type { InboxWorker } from './inbox-worker.js';
import type { OutboxWorker } from './outbox-worker.js';
import type { Actor } from './policy.js';
import type { Redactor } from '../domain/redact.js';
import { vetChoices, vetPickedChoice, vetRollback, type ChoiceDeps } from './chosen.js';
import { auditRefusal, decideStep, requestChoice, requestRollback, requestStep, type StepContext } from './steps.js';
import { makeButton } from './button-codec.js';
import { recordEvent } from './events.js';
import { appendAudit } from './audit.js';
import { ALERT_CHOICE, choiceValues, findOffer, storedChoice, targetOf, targetValues, type AlertTarget, type StepOffer } from './offers.js';

/**
 * Alerts offered in the menu when a step runs for one of them: Slack's limit on a select's
 * options, the most any platform shows (Discord shows 25); the rest are chosen by command.
 */
const MAX_TARGET_CHOICES = 100;
import { actorId } from './policy.js';
import { NotAllowedError } from '../domain/errors.js';
import type { Metrics } from '../metrics.js';
import type { Policy } from '../settings/policy.js';
import type { DeliveredReply, Store, StoreTx } from './ports/store.js';
import type { StepRunner } from './ports/step-runner.js';
import { resolveIncident } from './resolve.js';
import { recordSilence, recordUnsilence, silenceable, silenceMatchers, unsilenceable } from './silence.js';
import { SilenceApiError, type SilenceApi } from './ports/silence-api.js';
import { buildTimelineMarkdown } from './timeline.js';
import { gatherTimeline } from './timeline-input.js';
import { timeTargetClocks } from './time-targets.js';
import { choiceLabel } from './result-text.js';
import type { Clock } from './ports/clock.js';
import { t } from './i18n/index.js';
import type { StormSettings } from './storm-desk.js';
import { buildDigest, shownMembers, type ChannelDigest } from './digest.js';

// Over 300 lines: each use case of IncidentUseCases is a short method here; the workers are in
// runtime.ts and the card renderer in card-builder.ts.

/** How long a chat request's replay key is kept: the 5-minute signature window both ways (clock skew). */
const REPLAY_MEMORY_MS = 10 * 60_000;

export interface EngineOptions {
  store: Store;
  /** The bot's address as chat users reach it (CONSOLE_PUBLIC_URL), for links in threads. */
  publicUrl?: string | undefined;
  runbooks: readonly Runbook[];
  /** Where the steps run (the local runbook actions in production). */
  runner: StepRunner;
  platforms: readonly ChatPlatform[];
  /** Where a new incident is shown (one card and thread per target), from its labels. */
  route: (labels: Labels) => DeliveryTarget[];
  /** Who may request and approve what; see settings/policy.ts. */
  policy: Policy;
  clock: Clock;
  log: Logger;
  redact: Redactor;
  env: NodeJS.ProcessEnv;
  /** Settings actions default to (e.g. the Prometheus URL for verify). */
  actionSettings?: ActionSettings;
  metrics: Metrics;
  /** A runner silent for longer is disconnected; default 30 s. */
  runnerHeartbeatTimeoutMs?: number;
  /** Alertmanager's silences; undefined when ALERTMANAGER_URL is not set (no silences from chat). */
  silences?: SilenceApi | undefined;
  outboxPollMs?: number;
  /** Storm digests: when a channel's new cards roll into one digest, and how many cards it gets meanwhile. */
  storms?: StormSettings | undefined;
  executorPollMs?: number;
  /** Escalation of unacknowledged incidents; absent: none. */
  escalation?: EscalationConfig | undefined;
  /**
   * Which replica runs what only one may: escalations, and the outbox (its per-channel pacing
   * is kept in memory, so one sender paces each channel). Default: this one.
   */
  leadership?: Leadership;
  /** This process among the replicas sharing the store; default: the only one. */
  replica?: ReplicaSettings;
  escalationPollMs?: number;
  /**
   * A webhook notification is recorded before it is answered, unless more than this many are
   * being recorded already: then it is acknowledged once in the inbox, and recorded right after
   * (0: always). Default 4.
   */
  ingestQueueAbove?: number;
  /** Past this many waiting in the inbox, notifications are refused (503) so that Alertmanager retries later. */
  inboxLimit?: number;
  inboxPollMs?: number;
}

/** What became of a webhook notification: recorded at once, queued in the inbox, or refused because the inbox is full. */
export type Accepted = ({ outcome: 'recorded' } & RecordedNotification) | { outcome: 'queued'; seq: number } | { outcome: 'inbox_full'; waiting: number };

/** A backup file offered in a picker: its path and a short label for the button. */

/**
 * The platform-agnostic core: the use cases adapters call (IncidentUseCases: notifications, button
 * presses, commands, reading incidents), each stored intent in one transaction. The workers that
 * post to chat and execute approved steps are the runtime's (EngineRuntime).
 */
export class Engine implements IncidentUseCases {
  /** The workers: inbox, outbox, executor, escalation. */
  private readonly runtime: EngineRuntime;

  constructor(private readonly o: EngineOptions) {
    this.runtime = new EngineRuntime(o, (tx, id) => this.renderCard(tx, id));
  }

  /** Starts the workers (see EngineRuntime). */
  start(): Promise<void> {
    return this.runtime.start();
  }

  /** Stops the workers, letting running steps finish for up to `graceMs` (see EngineRuntime). */
  stop(graceMs: number): Promise<void> {
    return this.runtime.stop(graceMs);
  }

  get inbox(): InboxWorker {
    return this.runtime.inbox;
  }

  get outbox(): OutboxWorker {
    return this.runtime.outbox;
  }

  get executor(): StepExecutor {
    return this.runtime.executor;
  }

  /**
   * A notification from the webhook (already validated; `body` is the request body it came in).
   * A quiet bot records it at once, in one transaction. A busy one (more than `ingestQueueAbove`
   * being recorded) only puts it in the inbox, one small insert, so that Alertmanager is answered
   * fast under a storm; so does any bot while an older notification of the same group waits
   * there, so that a group's notifications are recorded in the order they came. `atOnce`: record
   * now however busy the bot is (the console's sample alert), still behind its group's queue.
   */
  async accept(notification: AlertmanagerNotification, body: string, options: { atOnce?: boolean } = {}): Promise<Accepted> {
    const limit = this.o.inboxLimit ?? 100_000;
    if (this.runtime.inboxWaiting >= limit) return { outcome: 'inbox_full', waiting: this.runtime.inboxWaiting };
    const queueFirst = !options.atOnce && this.recordingMany();
    this.runtime.beginIngest();
    try {
      const now = this.o.clock().toISOString();
      const accepted = await this.o.store.transaction(
        async (tx): Promise<Accepted> => {
          if (!queueFirst && !(await tx.hasQueuedNotification(notification.groupKey))) {
            return { outcome: 'recorded', ...(await recordNotification(tx, notification, now, this.o.route(notification.commonLabels))) };
          }
          return { outcome: 'queued', seq: await tx.queueNotification({ groupKey: notification.groupKey, receivedAt: now, body }) };
        },
        { group: notification.groupKey },
      );
      if (accepted.outcome === 'queued') {
        this.runtime.queued();
      } else if (accepted.outcome === 'recorded' && !accepted.duplicate) {
        this.outbox.nudge(accepted.targets);
      }
      return accepted;
    } finally {
      this.runtime.endIngest();
    }
  }

  /** More webhook notifications than `ingestQueueAbove` are being stored at once in this process. */
  private recordingMany(): boolean {
    return this.runtime.ingesting >= (this.o.ingestQueueAbove ?? 4);
  }

  /**
   * A step button. A step that needs a backup chosen first gets a picker in the thread instead
   * (listing files happens outside any transaction); everything else becomes a step run.
   */
  async requestStep(
    actor: Actor,
    incidentId: number,
    runbook: string,
    step: string,
    choices: Record<string, string> = {},
    options: { confirmAfterResolve?: boolean } = {},
  ): Promise<StepRun | undefined> {
    const ctx = this.context();
    const lookup = await this.o.store.transaction(async (tx) => {
      const incident = await tx.getIncident(incidentId);
      return incident && findOffer(this.o.runbooks, incident.commonLabels, runbook, step, choices, await tx.listAlerts(incidentId));
    });
    if (lookup?.ok === 'target') {
      await this.auditingRefusals(actor, () => this.offerTargets(actor, incidentId, lookup.offer, lookup.targets, ctx.now));
      this.outbox.nudge();
      return undefined;
    }
    if (lookup?.ok === 'pick') {
      await this.auditingRefusals(actor, () => this.offerPicker(actor, incidentId, lookup.offer, lookup.pick, ctx.now));
      this.outbox.nudge();
      return undefined;
    }
    const confirmAfterResolve = options.confirmAfterResolve === true;
    return this.afterRequest(
      await this.auditingRefusals(actor, async (c) => {
        // Chosen values (typed in a command) are checked against what the picker offers, outside the transaction.
        const pinned = lookup?.ok === true ? await vetChoices(this.choiceDeps(), incidentId, lookup.offer, { kind: 'command' }) : [];
        return this.o.store.transaction((tx) => requestStep(tx, { ...c, confirmAfterResolve }, actor, incidentId, runbook, step, choices, pinned));
      }),
    );
  }

  private choiceDeps(): ChoiceDeps {
    return { store: this.o.store, runbooks: this.o.runbooks, runner: this.o.runner };
  }

  /**
   * A press on a picker option, or a choice in the menu of alerts. An alert chosen for a step that
   * also needs a backup gets the picker of that alert's backups next (the alert kept with each
   * option); everything else becomes a step run.
   */
  async requestChoice(actor: Actor, choiceId: number): Promise<StepRun | undefined> {
    const next = await this.o.store.transaction(async (tx) => {
      const choice = await tx.getChoice(choiceId);
      const incident = choice && (await tx.getIncident(choice.incidentId));
      if (!choice || !incident) return undefined;
      const found = findOffer(this.o.runbooks, incident.commonLabels, choice.runbook, choice.step, choiceValues(choice), await tx.listAlerts(incident.id));
      return found.ok === 'pick' ? { incidentId: incident.id, found, carried: choiceValues(choice) } : undefined;
    });
    if (next?.found.ok === 'pick') {
      const { offer, pick } = next.found;
      await this.auditingRefusals(actor, () => this.offerPicker(actor, next.incidentId, offer, pick, this.o.clock().toISOString(), targetOf(next.carried)));
      this.outbox.nudge();
      return undefined;
    }
    return this.afterRequest(
      await this.auditingRefusals(actor, async (c) => {
        const pinned = await vetPickedChoice(this.choiceDeps(), choiceId);
        return this.o.store.transaction((tx) => requestChoice(tx, c, actor, choiceId, pinned));
      }),
    );
  }

  /** "Roll back" to the snapshot a step took before it ran. */
  async requestRollback(actor: Actor, runId: number): Promise<StepRun> {
    return this.afterRequest(
      await this.auditingRefusals(actor, async (c) => {
        const pinned = await vetRollback(this.choiceDeps(), runId);
        return this.o.store.transaction((tx) => requestRollback(tx, c, actor, runId, pinned));
      }),
    );
  }

  private afterRequest(run: StepRun): StepRun {
    this.outbox.nudge();
    if (run.state === 'approved') this.executor.nudge();
    return run;
  }

  /**
   * A step whose params differ per alert of the group: the thread asks which alert it is for, in
   * a menu (a select where the platform has one) of up to MAX_TARGET_CHOICES alerts; its note says
   * how to choose any other by command.
   */
  private async offerTargets(actor: Actor, incidentId: number, offer: StepOffer, targets: readonly AlertTarget[], now: string): Promise<void> {
    await this.o.store.transaction(async (tx) => {
      const options = [];
      for (const target of targets.slice(0, MAX_TARGET_CHOICES)) {
        const choice = await tx.insertChoice({ incidentId, runbook: offer.runbook.name, step: offer.step.id, param: ALERT_CHOICE, value: target.fingerprint, label: target.label, createdAt: now });
        options.push(makeButton({ action: 'pick', choiceId: choice.id }, target.label.slice(0, 75)));
      }
      const example = targets[Math.min(targets.length, MAX_TARGET_CHOICES) - 1] ?? targets[0];
      const rest = t('thread.pickTarget.rest', { command: `/runbook run ${offer.runbook.name} ${offer.step.id} --incident ${incidentId} alert=${example ? targetValues(example) : '<alert>'}` });
      await recordEvent(tx, {
          at: now,
          incidentId,
          actor: actorId(actor),
          kind: 'step.pick',
          text: t('thread.pickTarget', { name: actor.name, title: offer.step.title, count: targets.length }),
          data: { runbook: offer.runbook.name, step: offer.step.id, targets: targets.map((t) => ({ fingerprint: t.fingerprint, alert: t.label })) },
        },
        { menu: { label: t('menu.chooseAlert'), options, total: targets.length, rest } },
      );
    });
  }

  /** The thread lists backups to choose from; `carried`: values each option keeps (the alert it was listed for). */
  private async offerPicker(actor: Actor, incidentId: number, offer: StepOffer, pick: NonNullable<RunbookStep['pick']>, now: string, carried: Record<string, string> = {}): Promise<void> {
    const dir = renderTemplate(pick.dir, offer.params);
    const prefix = renderTemplate(pick.prefix, offer.params);
    let files: Awaited<ReturnType<StepRunner['listChoices']>>;
    try {
      files = await this.o.runner.listChoices(offer.step, offer.params, { runbook: offer.runbook.name, purpose: 'query', incidentId });
    } catch (error) {
      const why = this.o.redact(error instanceof Error ? error.message : String(error));
      throw new NotAllowedError(t('refusal.listBackups', { title: offer.step.title, why }), { incidentId, kind: 'step.refused', data: { runbook: offer.runbook.name, step: offer.step.id, dir } });
    }
    const where = `${dir}${prefix ? ` (${prefix}*)` : ''}`;
    if (files.length === 0) {
      throw new NotAllowedError(t('refusal.noBackups', { where, title: offer.step.title }), { incidentId, kind: 'step.refused', data: { runbook: offer.runbook.name, step: offer.step.id, dir } });
    }
    await this.o.store.transaction(async (tx) => {
      const buttons = [];
      for (const file of files) {
        const stored = storedChoice({ ...carried, [pick.param]: file.path });
        const label = choiceLabel(file);
        const choice = await tx.insertChoice({ incidentId, runbook: offer.runbook.name, step: offer.step.id, ...stored, label, createdAt: now });
        buttons.push(makeButton({ action: 'pick', choiceId: choice.id }, label));
      }
      await recordEvent(tx, {
          at: now,
          incidentId,
          actor: actorId(actor),
          kind: 'step.pick',
          // Each label in full as well: platforms cut button texts (Slack at 75 characters), which can drop the checksum state.
          text: `${t('thread.pickBackup', { name: actor.name, title: offer.step.title, count: files.length, where, target: offer.target ? t('thread.forAlert', { alert: offer.target.label }) : '' })}\n${files.map((f) => `• ${f.label}`).join('\n')}`,
          data: { runbook: offer.runbook.name, step: offer.step.id, choices: files.map((f) => f.path) },
        },
        { buttons },
      );
    });
  }

  async decide(actor: Actor, runId: number, decision: 'approve' | 'deny'): Promise<StepRun> {
    const run = await this.auditingRefusals(actor, (ctx) => this.o.store.transaction((tx) => decideStep(tx, ctx, actor, runId, decision)));
    this.outbox.nudge();
    if (run.state === 'approved') this.executor.nudge();
    if (run.state === 'expired') {
      // The press found the request expired (now recorded); tell the presser, as for any refusal.
      const minutes = this.o.policy.defaults.approvalTtlMinutes;
      const error = new NotAllowedError(t('answer.expired', { title: run.stepTitle, minutes }), { incidentId: run.incidentId, kind: 'approval.refused', data: { runId, decision } });
      await this.o.store.transaction((tx) => auditRefusal(tx, actor, error, this.o.clock().toISOString()));
      throw error;
    }
    return run;
  }


  /** "Acknowledge": the actor owns the incident; escalation stops. Refusals (unknown, already owned, resolved) are audited and thrown. */
  async acknowledge(actor: Actor, incidentId: number): Promise<Incident> {
    const incident = await this.auditingRefusals(actor, (ctx) => this.o.store.transaction((tx) => acknowledgeIncident(tx, actor, incidentId, ctx.now)));
    this.outbox.nudge();
    return incident;
  }

  /** Resolves an incident by hand, with an optional note; the thread gets a summary of its timeline. */
  async resolve(actor: Actor, incidentId: number, note: string): Promise<Incident> {
    const incident = await this.auditingRefusals(actor, (ctx) => this.o.store.transaction((tx) => resolveIncident(tx, actor, incidentId, note, ctx.now)));
    this.outbox.nudge();
    return incident;
  }

  /** Whether silences can be made from chat. */
  get silencing(): boolean {
    return this.o.silences !== undefined;
  }

  /**
   * Silences the incident's group in Alertmanager, then records it. Alertmanager first: when it is
   * down nothing is recorded. Should recording fail after the silence exists (the store is down,
   * or someone else silenced the group meanwhile), the new silence is expired again, so Alertmanager
   * never keeps a silence the bot does not know about.
   */
  async silence(actor: Actor, incidentId: number, durationMs: number): Promise<Incident> {
    const api = this.requireSilences();
    const ctx = this.context();
    const incident = await this.auditingRefusals(actor, () => this.o.store.transaction((tx) => silenceable(tx, incidentId, ctx.now)));
    const until = new Date(Date.parse(ctx.now) + durationMs).toISOString();
    const silenceId = await api.create({
      matchers: silenceMatchers(incident),
      startsAt: ctx.now,
      endsAt: until,
      createdBy: actor.name,
      comment: t('silence.comment', { id: incident.id, title: incident.title, name: actor.name }),
    });
    try {
      const silenced = await this.auditingRefusals(actor, () => this.o.store.transaction((tx) => recordSilence(tx, actor, incidentId, silenceId, until, ctx.now)));
      this.outbox.nudge();
      return silenced;
    } catch (error) {
      await api.expire(silenceId).catch((expireError: unknown) =>
        this.o.log.error({ err: expireError, silenceId, incidentId }, 'a silence was created but could not be recorded nor expired; expire it in Alertmanager'),
      );
      throw error;
    }
  }

  /** Expires the incident's silence in Alertmanager, then clears it from the incident. */
  async unsilence(actor: Actor, incidentId: number): Promise<void> {
    const api = this.requireSilences();
    const { silence } = await this.auditingRefusals(actor, () => this.o.store.transaction((tx) => unsilenceable(tx, incidentId)));
    await api.expire(silence.id);
    await this.o.store.transaction((tx) => recordUnsilence(tx, actor, incidentId, silence.id, this.o.clock().toISOString()));
    this.outbox.nudge();
  }

  /** Audited in the chain of no incident (a storm spans many); refused once the storm is over. */
  async releaseStorm(actor: Actor, stormId: number): Promise<void> {
    const now = this.o.clock().toISOString();
    await this.auditingRefusals(actor, () =>
      this.o.store.transaction(async (tx) => {
        if (!(await tx.storms.releaseStorm(stormId))) throw new NotAllowedError('That storm is over: every card is posted.', { incidentId: null, kind: 'incident.refused', data: { stormId } });
        await appendAudit(tx, { at: now, incidentId: null, actor: actorId(actor), kind: 'storm.released', text: t('audit.stormReleased', { name: actor.name }), data: { stormId } });
      }),
    );
    this.outbox.nudge();
  }

  private requireSilences(): SilenceApi {
    if (!this.o.silences) throw new SilenceApiError(t('error.noSilences'));
    return this.o.silences;
  }

  /** The incident's timeline as Markdown (redacted); undefined when the incident does not exist. */
  async timeline(incidentId: number): Promise<string | undefined> {
    const input = await this.o.store.transaction(async (tx) => {
      const incident = await tx.getIncident(incidentId);
      return incident && gatherTimeline(tx, incident);
    });
    if (!input) return undefined;
    const { incident, runs } = input;
    const clocks = timeTargetClocks({
      runbooks: matchingRunbooks(this.o.runbooks, incident.commonLabels),
      runs,
      openedAt: incident.createdAt,
      now: this.o.clock().toISOString(),
      resolvedAt: incident.status === 'resolved' ? (incident.resolvedAt ?? incident.updatedAt) : undefined,
    });
    return buildTimelineMarkdown({ ...input, clocks }, this.o.redact);
  }

  async incident(id: number): Promise<Incident | undefined> {
    return this.o.store.transaction((tx) => tx.getIncident(id));
  }

  async recentIncidents(limit: number): Promise<Incident[]> {
    return this.o.store.transaction((tx) => tx.listIncidents({ limit }));
  }

  async deliveredReplies(platform: string, incidentId: number): Promise<DeliveredReply[]> {
    return this.o.store.transaction((tx) => tx.listDeliveredReplies(platform, incidentId));
  }

  async openIncidents(limit: number): Promise<Incident[]> {
    return this.o.store.transaction((tx) => tx.listIncidents({ status: 'firing', limit }));
  }

  async incidentDetails(id: number): Promise<IncidentDetails | undefined> {
    return this.o.store.transaction(async (tx) => {
      const incident = await tx.getIncident(id);
      return incident && { incident, alerts: await tx.listAlerts(id), runs: await tx.listStepRuns(id) };
    });
  }

  async cardMessages(incidentId: number): Promise<CardMessage[]> {
    return this.o.store.transaction((tx) => tx.listCardMessages(incidentId));
  }

  async incidentCard(id: number): Promise<Card | undefined> {
    return this.o.store.transaction(async (tx) => ((await tx.getIncident(id)) ? this.renderCard(tx, id) : undefined));
  }

  get runner(): StepRunner {
    return this.o.runner;
  }

  get runbooks(): readonly Runbook[] {
    return this.o.runbooks;
  }

  async runners(): Promise<RunnerStatus[]> {
    const runners = await this.o.store.transaction((tx) => tx.runners.listRunners(), { readOnly: true });
    const now = this.o.clock().getTime();
    const bound = this.o.runnerHeartbeatTimeoutMs ?? 30_000;
    return runners.map((r) => {
      const silentMs = Math.max(0, now - Date.parse(r.seenAt));
      return { ...r, connected: silentMs <= bound, silentSeconds: Math.round(silentMs / 1000) };
    });
  }

  get policy(): Policy {
    return this.o.policy;
  }

  now(): string {
    return this.o.clock().toISOString();
  }

  /**
   * Whether a signed chat request is new: its key is remembered (in the store, so every replica
   * knows it) for longer than the platform's 5-minute signature window, in which a captured
   * request could be sent again. A replay is acknowledged as usual but not handled.
   */
  async firstSighting(key: string): Promise<boolean> {
    const now = this.o.clock();
    const expires = new Date(now.getTime() + REPLAY_MEMORY_MS).toISOString();
    return this.o.store.transaction((tx) => tx.firstSighting(key, now.toISOString(), expires));
  }

  /** The audit trail of one incident, oldest first; undefined when the incident does not exist. */
  async auditTrail(incidentId: number): Promise<AuditEvent[] | undefined> {
    return this.o.store.transaction(async (tx) => ((await tx.getIncident(incidentId)) ? tx.listAudit(incidentId) : undefined));
  }

  async runOutput(incidentId: number, runId: number): Promise<string | null | undefined> {
    return this.o.store.transaction(
      async (tx) => {
        const run = await tx.getStepRun(runId);
        if (run?.incidentId !== incidentId) return undefined;
        // Output short enough for the thread was not kept apart: the thread shows all of it.
        return (await tx.getStepOutput(runId)) ?? run.result?.outputTail ?? null;
      },
      { readOnly: true },
    );
  }

  async schedulePosts(limit: number): Promise<AuditEvent[]> {
    return this.o.store.transaction((tx) => tx.recentSchedulePosts(limit), { readOnly: true });
  }

  async openStormDigests(): Promise<ChannelDigest[]> {
    const open = await this.o.store.transaction(
      async (tx) => {
        const found = [];
        // One query at a time: a transaction is one connection.
        for (const storm of await tx.storms.openStorms()) found.push({ storm, members: await tx.storms.stormMembers(storm.id) });
        return found;
      },
      { readOnly: true },
    );
    // The button is the chat digest's own ("Post cards" is pressed there); the counts are the same.
    return open.map(({ storm, members }) => ({ platform: storm.platform, channel: storm.channel, digest: buildDigest(storm, shownMembers(members, this.o.redact), { holding: false }) }));
  }

  /** The card of an incident as it is now (the outbox posts and updates it). */
  renderCard(tx: StoreTx, incidentId: number): Promise<Card> {
    return renderIncidentCard(tx, incidentId, { runbooks: this.o.runbooks, silencing: this.silencing, now: this.o.clock().toISOString(), approvalTtlMinutes: this.o.policy.defaults.approvalTtlMinutes });
  }

  /** Runs a step transaction; a refusal rolls it back, then is audited on its own and rethrown for the user. */
  private async auditingRefusals<T>(actor: Actor, work: (ctx: StepContext) => Promise<T>): Promise<T> {
    const ctx = this.context();
    try {
      return await work(ctx);
    } catch (error) {
      if (error instanceof NotAllowedError) await this.o.store.transaction((tx) => auditRefusal(tx, actor, error, ctx.now));
      throw error;
    }
  }

  private context(): StepContext {
    return { runbooks: this.o.runbooks, policy: this.o.policy, now: this.o.clock().toISOString() };
  }
}
