import type { Logger } from 'pino';
import type { ActionSettings, Runbook, RunbookStep, StepArtefact, StepProcess, StepResult } from './ports/runbooks.js';
import type { StepRun } from './domain.js';
import { recordRunEvent, timedLine } from './run-thread.js';
import type { Redactor } from '../domain/redact.js';
import { WorkerLoop } from './worker-loop.js';
import { resultDetails, resultSummary, stepDescription } from './result-text.js';
import type { Metrics } from '../metrics.js';
import type { Policy } from '../settings/policy.js';
import { expireStaleRequests } from './steps.js';
import { pinnedFiles } from './chosen-pins.js';
import type { Store } from './ports/store.js';
import { singleProcess, type ReplicaSettings } from './replica.js';
import { stopLeftovers } from './leftovers.js';
import { forEachTargets } from './offers.js';
import { runForEach } from './for-each.js';
import type { Clock } from './ports/clock.js';
import { StepDetached, type StepRunner } from './ports/step-runner.js';
import { t } from './i18n/index.js';
import { recordStepResult } from './step-record.js';

export interface ExecutorOptions {
  store: Store;
  /** Where the steps run. */
  runner: StepRunner;
  runbooks: readonly Runbook[];
  clock: Clock;
  log: Logger;
  redact: Redactor;
  /** The environment exec steps may take allowlisted variables from. */
  env: NodeJS.ProcessEnv;
  settings?: ActionSettings | undefined;
  /** For expiring requests nobody approved in time. */
  policy: Policy;
  metrics: Metrics;
  /** Called after anything was queued for chat. */
  onQueued: () => void;
  pollMs?: number;
  /** This process among the replicas; default: the only one. */
  replica?: ReplicaSettings;
  /** The bot's address as chat users reach it (CONSOLE_PUBLIC_URL): thread links to full output are absolute with it. */
  publicUrl?: string | undefined;
}

/** A step whose executor threw: a bug, but the run still ends, as failed. */
const internalError = (error: string): StepResult => ({ status: 'failed', summary: `internal error: ${error}`, said: { code: 'internalError', params: { error } }, durationMs: 0, outputTail: '' });

/**
 * Runs approved steps. A run is claimed by moving it from `approved` to `running` in one
 * conditional update, so a run is executed once however many presses or workers race for it.
 */
export class StepExecutor {
  private readonly loop: WorkerLoop;
  private readonly inFlight = new Map<number, { done: Promise<void>; abort: AbortController }>();
  private readonly replica: ReplicaSettings;
  /** When this replica last recorded its heartbeat and last looked for orphaned runs (ms). */
  private lastHeartbeat = 0;
  /** Stopping the process groups interrupted runs left on this host, while it lasts. */
  private cleaning: Promise<void> | undefined;

  constructor(private readonly o: ExecutorOptions) {
    this.loop = new WorkerLoop(() => this.tick(), o.pollMs ?? 1000, (error) => o.log.error({ err: error }, 'executor tick failed'));
    this.replica = o.replica ?? singleProcess();
  }

  start(): void {
    this.loop.start();
    this.stopLeftovers();
  }

  nudge(): void {
    this.loop.nudge();
  }

  /** Stops claiming; waits for running steps up to `graceMs`, then aborts them (they finish as failed). */
  async stop(graceMs: number): Promise<void> {
    await this.loop.stop();
    await this.cleaning;
    const all = () => Promise.all([...this.inFlight.values()].map((r) => r.done));
    const timedOut = await Promise.race([all().then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
    if (timedOut) {
      for (const r of this.inFlight.values()) r.abort.abort(new Error('bot shutting down'));
      await all();
    }
  }

  /**
   * Steps left `running` by a crash are reported, never re-run: a half-done restart must be looked
   * at by a person. At start-up with one process, every running step is such a step; with several
   * replicas, only those whose replica stopped sending heartbeats (the others are still running).
   */
  async markInterrupted(): Promise<number> {
    const now = this.o.clock();
    const orphanAfterMs = this.replica.orphanAfterMs;
    if (orphanAfterMs !== undefined) await this.heartbeat(now);
    const at = now.toISOString();
    const stuck = await this.o.store.transaction(async (tx) =>
      orphanAfterMs === undefined
        ? await tx.listStepRunsInState('running', 1000)
        : (await tx.orphanedRuns(new Date(now.getTime() - orphanAfterMs).toISOString(), 1000)).filter((run) => !this.inFlight.has(run.id)),
    );
    let marked = 0;
    for (const run of stuck) {
      // A step that runs elsewhere (a runner) outlives this bot: take it over and wait for its result.
      if (await this.reattach(run)) continue;
      const interrupted = await this.o.store.transaction(async (tx) => {
        if (!(await tx.transitionStepRun(run.id, ['running'], 'interrupted', at, { finishedAt: at }))) return false;
        const cause = orphanAfterMs === undefined ? t('cause.restart') : t('cause.replicaLost', { runner: run.runner ?? '?' });
        const text = t('thread.interrupted', { title: run.stepTitle, cause });
        await recordRunEvent(tx, { at, incidentId: run.incidentId, actor: 'system', kind: 'step.interrupted', text, data: { runId: run.id, runner: run.runner } },
          run,
          { line: timedLine(text, at) },
          { refreshCard: true },
        );
        return true;
      });
      if (interrupted) marked += 1;
    }
    if (marked > 0) this.o.onQueued();
    return marked;
  }

  /** Waits, as this replica, for the result of a run still going on elsewhere; false when nothing runs it. */
  private async reattach(run: StepRun): Promise<boolean> {
    const abort = new AbortController();
    let held: { result: Promise<StepResult> } | undefined;
    try {
      held = await this.o.runner.reattach(run.id, abort.signal);
    } catch (error) {
      this.o.log.error({ err: error, runId: run.id }, 'could not look for the runner of an unfinished step');
    }
    if (!held) return false;
    const result = held.result;
    if (!(await this.o.store.transaction((tx) => tx.runners.adoptStepRun(run.id, run.runner, this.replica.id)))) {
      abort.abort(new Error('another replica took it over'));
      return true;
    }
    this.o.log.info({ runId: run.id }, 'a step still running on a runner was taken over; its result will be recorded when it ends');
    const done = result
      .then(
        (r) => this.record(run, r, undefined),
        (error: unknown) =>
          error instanceof StepDetached
            ? this.release(run, error)
            : this.record(run, internalError(this.o.redact(String(error))), undefined),
      )
      .catch((error: unknown) => this.o.log.error({ err: error, runId: run.id }, 'recording the result of a step taken over failed'))
      .finally(() => this.inFlight.delete(run.id));
    this.inFlight.set(run.id, { done, abort });
    return true;
  }

  private heartbeat(now: Date): Promise<void> {
    this.lastHeartbeat = now.getTime();
    return this.o.store.transaction((tx) => tx.touchReplica(this.replica.id, now.toISOString()));
  }

  /**
   * With several replicas: records this one's heartbeat a few times per orphan period, and each
   * time reports the runs of replicas that have gone silent (any replica may; the claim is conditional).
   */
  private async keepAlive(): Promise<void> {
    const orphanAfterMs = this.replica.orphanAfterMs;
    if (orphanAfterMs === undefined || this.o.clock().getTime() - this.lastHeartbeat < orphanAfterMs / 5) return;
    const interrupted = await this.markInterrupted();
    if (interrupted > 0) this.o.log.warn({ interrupted }, 'steps of a replica that stopped were marked interrupted, not re-run');
    this.stopLeftovers();
  }

  /**
   * Stops, in the background (a group gets a grace period between SIGTERM and SIGKILL), the process
   * groups that interrupted runs left on this host; requests for those steps are refused meanwhile.
   */
  private stopLeftovers(): void {
    if (this.cleaning) return;
    const cause = (run: StepRun) => (this.replica.orphanAfterMs === undefined ? t('cause.restart') : t('cause.replicaLost', { runner: run.runner ?? '?' }));
    this.cleaning = stopLeftovers({ store: this.o.store, runner: this.o.runner, clock: this.o.clock, log: this.o.log, onQueued: this.o.onQueued, cause, onlyBot: this.replica.orphanAfterMs === undefined })
      .then(() => undefined, (error: unknown) => this.o.log.error({ err: error }, 'stopping the processes of interrupted steps failed'))
      .finally(() => (this.cleaning = undefined));
  }

  /** Records the process group a step's program is about to run in; the program does not start unless it was. */
  private async recordProcess(run: StepRun, proc: StepProcess): Promise<void> {
    const recorded = await this.o.store.transaction((tx) => tx.recordStepProcess(run.id, proc));
    if (!recorded) throw new Error(`run ${run.id} is no longer running (reported interrupted), so its program was not started`);
  }

  private async tick(): Promise<void> {
    await this.keepAlive();
    const now = this.o.clock().toISOString();
    const expired = await this.o.store.transaction((tx) => expireStaleRequests(tx, { policy: this.o.policy, now }));
    if (expired > 0) this.o.onQueued();
    const claimed = await this.o.store.transaction(async (tx) => {
      const ready = await tx.listStepRunsInState('approved', 10);
      const mine: StepRun[] = [];
      for (const run of ready) {
        if (!(await tx.transitionStepRun(run.id, ['approved'], 'running', now, { startedAt: now, runner: this.replica.id }))) continue;
        const step = this.findStep(run);
        const what = step ? stepDescription(this.o.runner, step, run.params) : t('thread.started.gone');
        // The command line is shown here, once per run: the lines after it do not repeat it.
        const text = t('thread.started', { title: run.stepTitle, what: this.o.redact(what) });
        await recordRunEvent(tx, { at: now, incidentId: run.incidentId, actor: 'system', kind: 'step.started', text, data: { runId: run.id } },
          run,
          { line: timedLine(text, now) },
          { refreshCard: true },
        );
        mine.push({ ...run, state: 'running', startedAt: now, runner: this.replica.id });
      }
      return mine;
    });
    if (claimed.length > 0) this.o.onQueued();
    for (const run of claimed) {
      const abort = new AbortController();
      const done = this.execute(run, abort.signal).finally(() => this.inFlight.delete(run.id));
      this.inFlight.set(run.id, { done, abort });
    }
  }

  private findStep(run: StepRun) {
    return this.o.runbooks.find((r) => r.name === run.runbook)?.steps.find((s) => s.id === run.step);
  }

  private async runSafely(step: RunbookStep, run: StepRun, signal: AbortSignal, purpose: 'step' | 'checkpoint'): Promise<StepResult> {
    try {
      const pins = pinnedFiles(run.params).map((f) => ({ path: f.path, sha256: f.sha256 }));
      const approvers = (await this.o.store.transaction((tx) => tx.listApprovals(run.id), { readOnly: true })).filter((a) => a.decision === 'approve').map((a) => `${a.approverName} (${a.approver})`);
      const origin = { runbook: run.runbook, purpose, incidentId: run.incidentId, runId: run.id, requestedBy: `${run.requestedByName} (${run.requestedBy})`, approvers };
      return await this.o.runner.run(step, run.params, { signal, redact: this.o.redact, env: this.o.env, settings: this.o.settings, pins, origin, onSpawn: (proc) => this.recordProcess(run, proc) });
    } catch (error) {
      if (error instanceof StepDetached) throw error;
      // Executors report failures as results; a throw is a bug, but the run must still end.
      this.o.log.error({ err: error, runId: run.id }, 'step executor threw');
      return internalError(this.o.redact(String(error)));
    }
  }

  /**
   * Takes the step's pre-change checkpoint (a backup or release snapshot) and reports it in the
   * thread. Returns the snapshot, or the failed result that stops the step from running.
   */
  private async takeCheckpoint(run: StepRun, step: RunbookStep, signal: AbortSignal): Promise<{ snapshot?: StepArtefact; stop?: StepResult }> {
    const snapshotStep = this.o.runbooks.find((r) => r.name === run.runbook)?.steps.find((s) => s.id === step.checkpoint?.step);
    if (!snapshotStep) return { stop: { status: 'failed', summary: 'the pre-change checkpoint step no longer exists; the step was not run', said: { code: 'checkpoint.gone', params: {} }, durationMs: 0, outputTail: '' } };
    const result = await this.runSafely(snapshotStep, run, signal, 'checkpoint');
    const artefact = result.artefacts?.find((a) => a.kind === 'backup' || a.kind === 'release') ?? result.artefacts?.[0];
    const ok = result.status === 'succeeded' && artefact !== undefined;
    const now = this.o.clock().toISOString();
    const details = resultDetails(result);
    const checkpointText = t(ok ? 'thread.checkpointTaken' : 'thread.checkpointFailed', { title: run.stepTitle, snapshot: snapshotStep.title, summary: resultSummary(result) });
    await this.o.store.transaction((tx) =>
      recordRunEvent(
        tx,
        {
          at: now,
          incidentId: run.incidentId,
          actor: 'system',
          kind: 'step.checkpoint',
          text: `${checkpointText}${details}`,
          data: { runId: run.id, status: result.status, artefacts: result.artefacts ?? [] },
        },
        run,
        { line: timedLine(checkpointText, now), details },
      ),
    );
    this.o.onQueued();
    if (!ok) {
      const why = artefact ? result.summary : `${result.summary} (it produced no snapshot file)`;
      // The checkpoint's own result, as this bot says it (its line above said it the same way).
      const said = { code: artefact ? 'checkpoint.failed' : 'checkpoint.noFile', params: { why: resultSummary(result) } } as const;
      return { stop: { status: 'failed', summary: `pre-change checkpoint failed, so the step was not run: ${why}`, said, durationMs: result.durationMs, outputTail: '' } };
    }
    return { snapshot: { ...artefact, kind: 'checkpoint' } };
  }

  private async execute(run: StepRun, signal: AbortSignal): Promise<void> {
    try {
      await this.executeHere(run, signal);
    } catch (error) {
      if (!(error instanceof StepDetached)) throw error;
      await this.release(run, error);
    }
  }

  /** This process stops waiting for a step that goes on on its runner: another start (or replica) takes it over at once. */
  private async release(run: StepRun, why: StepDetached): Promise<void> {
    await this.o.store.transaction((tx) => tx.runners.releaseStepRun(run.id, this.replica.id));
    this.o.log.info({ runId: run.id, reason: why.message }, 'a step left running on its runner; the next start or another replica records its result');
  }

  private async executeHere(run: StepRun, signal: AbortSignal): Promise<void> {
    const step = this.findStep(run);
    let result: StepResult;
    let snapshot: StepArtefact | undefined;
    if (!step) {
      result = { status: 'failed', summary: `runbook step ${run.runbook}/${run.step} no longer exists`, said: { code: 'step.gone', params: { runbook: run.runbook, step: run.step } }, durationMs: 0, outputTail: '' };
    } else {
      const checkpoint = step.checkpoint ? await this.takeCheckpoint(run, step, signal) : {};
      snapshot = checkpoint.snapshot;
      const each = forEachTargets(run.params);
      result =
        checkpoint.stop ??
        (each ? await runForEach(each, (params) => this.runSafely(step, { ...run, params }, signal, 'step')) : await this.runSafely(step, run, signal, 'step'));
      if (snapshot) result = { ...result, artefacts: [...(result.artefacts ?? []), snapshot] };
    }
    await this.record(run, result, snapshot);
  }

  /** Records a run's result: its state, the thread's message, the card. */
  private record(run: StepRun, result: StepResult, snapshot: StepArtefact | undefined): Promise<void> {
    return recordStepResult(this.o, run, this.findStep(run), result, snapshot);
  }
}
