import type { Card } from './card.js';
import type { EngineOptions } from './engine.js';
import { EscalationWorker } from './escalation.js';
import { StepExecutor } from './executor.js';
import { InboxWorker } from './inbox-worker.js';
import { recordNotification } from './notifications.js';
import { OutboxWorker } from './outbox-worker.js';
import { alwaysLeader } from './ports/leadership.js';
import type { StoreTx } from './ports/store.js';

/** A webhook within this long means more are coming (a storm): the inbox records in small slices meanwhile. */
const RECENT_WEBHOOK_MS = 50;

/**
 * The engine's workers, started and stopped together: the inbox records queued notifications, the
 * outbox posts to chat, the executor runs approved steps, the escalation worker re-announces
 * unacknowledged incidents. The use cases (Engine) only nudge them; the webhook load they share
 * with the inbox (how many notifications are being stored) is kept here.
 */
export class EngineRuntime {
  readonly outbox: OutboxWorker;
  readonly executor: StepExecutor;
  readonly escalation: EscalationWorker | undefined;
  readonly inbox: InboxWorker;
  /** Webhook notifications being stored right now, in this process. */
  ingesting = 0;
  /** Waiting in the inbox, as last counted plus those this process queued since. */
  inboxWaiting = 0;
  private lastAcceptAt = -Infinity;

  constructor(
    private readonly o: EngineOptions,
    renderCard: (tx: StoreTx, incidentId: number) => Promise<Card>,
  ) {
    this.inbox = new InboxWorker({
      store: o.store,
      record: (tx, n, now) => recordNotification(tx, n, now, o.route(n.commonLabels)),
      onRecorded: (result) => {
        o.metrics.notificationsReceived.inc({ result: result.duplicate ? 'duplicate' : 'stored' });
        if (!result.duplicate) this.outbox.nudge(result.targets);
      },
      // Webhooks keep coming while one arrived lately: the inbox then waits between small slices.
      busy: () => this.ingesting > 0 || performance.now() - this.lastAcceptAt < RECENT_WEBHOOK_MS,
      onCounted: (waiting) => {
        this.inboxWaiting = waiting;
      },
      clock: o.clock,
      log: o.log.child({ worker: 'inbox' }),
      ...(o.inboxPollMs ? { pollMs: o.inboxPollMs } : {}),
    });
    this.outbox = new OutboxWorker({
      store: o.store,
      platforms: new Map(o.platforms.map((p) => [p.name, p])),
      renderCard,
      clock: o.clock,
      log: o.log.child({ worker: 'outbox' }),
      metrics: o.metrics,
      redact: o.redact,
      ...(o.leadership ? { leadership: o.leadership } : {}),
      ...(o.outboxPollMs ? { pollMs: o.outboxPollMs } : {}),
      storms: o.storms,
    });
    this.executor = new StepExecutor({
      store: o.store,
      runner: o.runner,
      runbooks: o.runbooks,
      clock: o.clock,
      log: o.log.child({ worker: 'executor' }),
      redact: o.redact,
      env: o.env,
      settings: o.actionSettings,
      policy: o.policy,
      metrics: o.metrics,
      onQueued: () => this.outbox.nudge(),
      ...(o.executorPollMs ? { pollMs: o.executorPollMs } : {}),
      ...(o.replica ? { replica: o.replica } : {}),
      publicUrl: o.publicUrl,
    });
    this.escalation = o.escalation
      ? new EscalationWorker({
          store: o.store,
          config: o.escalation,
          leadership: o.leadership ?? alwaysLeader,
          clock: o.clock,
          log: o.log.child({ worker: 'escalation' }),
          onQueued: () => this.outbox.nudge(),
          ...(o.escalationPollMs ? { pollMs: o.escalationPollMs } : {}),
        })
      : undefined;
  }

  async start(): Promise<void> {
    const interrupted = await this.executor.markInterrupted();
    if (interrupted > 0) this.o.log.warn({ interrupted }, 'steps interrupted by the previous shutdown were marked, not re-run');
    this.inbox.start();
    this.outbox.start();
    this.executor.start();
    this.escalation?.start();
  }

  /**
   * Records what waits in the inbox (for up to the grace period), stops executing (grace period for
   * running steps), then sends what is still queued once.
   */
  async stop(graceMs: number): Promise<void> {
    // Webhooks no longer come in: record what they queued, for up to the grace period. Anything
    // left stays in the inbox, durable, for the next start (or another replica).
    await this.inbox.drain(graceMs).catch((error: unknown) => this.o.log.warn({ err: error }, 'inbox drain at shutdown failed'));
    await this.escalation?.stop();
    await this.executor.stop(graceMs);
    await this.outbox.stop();
    await this.outbox.runOnce().catch((error: unknown) => this.o.log.warn({ err: error }, 'final outbox drain failed'));
  }

  /** A webhook notification is being stored. */
  beginIngest(): void {
    this.ingesting += 1;
    this.lastAcceptAt = performance.now();
  }

  endIngest(): void {
    this.ingesting -= 1;
  }

  /** A notification went to the inbox instead of being recorded at once. */
  queued(): void {
    this.inboxWaiting += 1;
    this.inbox.nudge();
  }
}
