import type { Logger } from 'pino';
import type { AlertmanagerNotification } from './alertmanager-payload.js';
import type { Card } from './card.js';
import { buildCard } from './card-builder.js';
import type { ChatPlatform } from './chat-platform.js';
import type { AuditEvent, StepRun } from './domain.js';
import type { DeliveryTarget } from './events.js';
import { StepExecutor } from './executor.js';
import { recordNotification, type RecordedNotification } from './notifications.js';
import { offersFor } from './offers.js';
import { OutboxWorker } from './outbox-worker.js';
import type { Actor } from './policy.js';
import type { Redactor } from './redact.js';
import { auditRefusal, decideStep, requestStep, type StepContext } from './steps.js';
import { NotAllowedError } from './errors.js';
import type { Metrics } from '../metrics.js';
import type { Runbook } from '../runbooks/schema.js';
import type { Store, StoreTx } from '../store/store.js';

export interface EngineOptions {
  store: Store;
  runbooks: readonly Runbook[];
  platforms: readonly ChatPlatform[];
  /** Where incidents are shown: one card and thread per target. */
  targets: readonly DeliveryTarget[];
  approvers: readonly string[];
  clock: () => Date;
  log: Logger;
  redact: Redactor;
  env: NodeJS.ProcessEnv;
  metrics: Metrics;
  outboxPollMs?: number;
  executorPollMs?: number;
}

/**
 * The platform-agnostic core: turns notifications and button presses into stored intent (one
 * transaction each), and owns the workers that post to chat and execute approved steps.
 */
export class Engine {
  readonly outbox: OutboxWorker;
  readonly executor: StepExecutor;

  constructor(private readonly o: EngineOptions) {
    this.outbox = new OutboxWorker({
      store: o.store,
      platforms: new Map(o.platforms.map((p) => [p.name, p])),
      renderCard: (tx, id) => this.renderCard(tx, id),
      clock: o.clock,
      log: o.log.child({ worker: 'outbox' }),
      metrics: o.metrics,
      ...(o.outboxPollMs ? { pollMs: o.outboxPollMs } : {}),
    });
    this.executor = new StepExecutor({
      store: o.store,
      runbooks: o.runbooks,
      targets: o.targets,
      clock: o.clock,
      log: o.log.child({ worker: 'executor' }),
      redact: o.redact,
      env: o.env,
      metrics: o.metrics,
      onQueued: () => this.outbox.nudge(),
      ...(o.executorPollMs ? { pollMs: o.executorPollMs } : {}),
    });
  }

  async start(): Promise<void> {
    const interrupted = await this.executor.markInterrupted();
    if (interrupted > 0) this.o.log.warn({ interrupted }, 'steps interrupted by the previous shutdown were marked, not re-run');
    this.outbox.start();
    this.executor.start();
  }

  /** Stops executing (grace period for running steps), then sends what is still queued once. */
  async stop(graceMs: number): Promise<void> {
    await this.executor.stop(graceMs);
    await this.outbox.stop();
    await this.outbox.runOnce().catch((error: unknown) => this.o.log.warn({ err: error }, 'final outbox drain failed'));
  }

  async ingest(notification: AlertmanagerNotification): Promise<RecordedNotification> {
    const now = this.o.clock().toISOString();
    const result = await this.o.store.transaction((tx) => recordNotification(tx, notification, now, this.o.targets));
    if (!result.duplicate) this.outbox.nudge();
    return result;
  }

  async requestStep(actor: Actor, incidentId: number, runbook: string, step: string): Promise<StepRun> {
    const run = await this.auditingRefusals(actor, (ctx) => this.o.store.transaction((tx) => requestStep(tx, ctx, actor, incidentId, runbook, step)));
    this.outbox.nudge();
    if (run.state === 'approved') this.executor.nudge();
    return run;
  }

  async decide(actor: Actor, runId: number, decision: 'approve' | 'deny'): Promise<StepRun> {
    const run = await this.auditingRefusals(actor, (ctx) => this.o.store.transaction((tx) => decideStep(tx, ctx, actor, runId, decision)));
    this.outbox.nudge();
    if (run.state === 'approved') this.executor.nudge();
    return run;
  }

  /** The audit trail of one incident, oldest first; undefined when the incident does not exist. */
  async auditTrail(incidentId: number): Promise<AuditEvent[] | undefined> {
    return this.o.store.transaction(async (tx) => ((await tx.getIncident(incidentId)) ? tx.listAudit(incidentId) : undefined));
  }

  async renderCard(tx: StoreTx, incidentId: number): Promise<Card> {
    const incident = await tx.getIncident(incidentId);
    if (!incident) throw new Error(`incident ${incidentId} does not exist`);
    const { offers, unavailable } = offersFor(this.o.runbooks, incident.commonLabels);
    return buildCard({ incident, alerts: await tx.listAlerts(incidentId), runs: await tx.listStepRuns(incidentId), offers, unavailable });
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
    return { runbooks: this.o.runbooks, targets: this.o.targets, approvers: this.o.approvers, now: this.o.clock().toISOString() };
  }
}
