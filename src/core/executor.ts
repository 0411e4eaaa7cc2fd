import type { Logger } from 'pino';
import type { StepRun } from './domain.js';
import { recordEvent, type DeliveryTarget } from './events.js';
import type { Redactor } from './redact.js';
import { WorkerLoop } from './worker-loop.js';
import type { Metrics } from '../metrics.js';
import { describeStep, runStep } from '../runbooks/actions/index.js';
import type { StepResult } from '../runbooks/actions/types.js';
import type { Runbook } from '../runbooks/schema.js';
import type { Store } from '../store/store.js';

export interface ExecutorOptions {
  store: Store;
  runbooks: readonly Runbook[];
  targets: readonly DeliveryTarget[];
  clock: () => Date;
  log: Logger;
  redact: Redactor;
  /** The environment exec steps may take allowlisted variables from. */
  env: NodeJS.ProcessEnv;
  metrics: Metrics;
  /** Called after anything was queued for chat. */
  onQueued: () => void;
  pollMs?: number;
}

const ICON: Record<StepResult['status'], string> = { succeeded: '✅', failed: '❌', timed_out: '⏱️' };

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** The structured part of a result for the thread: findings, produced files, then the output's end. */
function resultDetails(result: StepResult): string {
  const facts = (result.facts ?? []).map((f) => `\n• ${f.label}: ${f.value}`).join('');
  const files = (result.artefacts ?? []).map((a) => `\n📦 ${a.kind} \`${a.path}\` (${formatBytes(a.sizeBytes)}, sha256 ${a.sha256.slice(0, 16)}…)`).join('');
  const tail = result.outputTail.trim() ? `\n\`\`\`\n${result.outputTail.trim()}\n\`\`\`` : '';
  return `${facts}${files}${tail}`;
}

/**
 * Runs approved steps. A run is claimed by moving it from `approved` to `running` in one
 * conditional update, so a run is executed once however many presses or workers race for it.
 */
export class StepExecutor {
  private readonly loop: WorkerLoop;
  private readonly inFlight = new Map<number, { done: Promise<void>; abort: AbortController }>();

  constructor(private readonly o: ExecutorOptions) {
    this.loop = new WorkerLoop(() => this.tick(), o.pollMs ?? 1000, (error) => o.log.error({ err: error }, 'executor tick failed'));
  }

  start(): void {
    this.loop.start();
  }

  nudge(): void {
    this.loop.nudge();
  }

  /** Stops claiming; waits for running steps up to `graceMs`, then aborts them (they finish as failed). */
  async stop(graceMs: number): Promise<void> {
    await this.loop.stop();
    const all = () => Promise.all([...this.inFlight.values()].map((r) => r.done));
    const timedOut = await Promise.race([all().then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
    if (timedOut) {
      for (const r of this.inFlight.values()) r.abort.abort(new Error('bot shutting down'));
      await all();
    }
  }

  /** Steps left `running` by a crash are reported, never re-run: a half-done restart must be looked at by a person. */
  async markInterrupted(): Promise<number> {
    const now = this.o.clock().toISOString();
    const count = await this.o.store.transaction(async (tx) => {
      const stuck = await tx.listStepRunsInState('running', 1000);
      for (const run of stuck) {
        if (!(await tx.transitionStepRun(run.id, ['running'], 'interrupted', now, { finishedAt: now }))) continue;
        await recordEvent(
          tx,
          this.o.targets,
          { at: now, incidentId: run.incidentId, actor: 'system', kind: 'step.interrupted', text: `⚠️ *${run.stepTitle}* was interrupted by a bot restart. It was not re-run: check the system, then request it again if needed.`, data: { runId: run.id } },
          { refreshCard: true },
        );
      }
      return stuck.length;
    });
    if (count > 0) this.o.onQueued();
    return count;
  }

  private async tick(): Promise<void> {
    const now = this.o.clock().toISOString();
    const claimed = await this.o.store.transaction(async (tx) => {
      const ready = await tx.listStepRunsInState('approved', 10);
      const mine: StepRun[] = [];
      for (const run of ready) {
        if (!(await tx.transitionStepRun(run.id, ['approved'], 'running', now, { startedAt: now }))) continue;
        const step = this.findStep(run);
        const what = step ? describeStep(step, run.params) : 'the step is no longer in the runbooks';
        await recordEvent(
          tx,
          this.o.targets,
          { at: now, incidentId: run.incidentId, actor: 'system', kind: 'step.started', text: `▶️ Started *${run.stepTitle}*: ${this.o.redact(what)}`, data: { runId: run.id } },
          { refreshCard: true },
        );
        mine.push({ ...run, state: 'running', startedAt: now });
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

  private async execute(run: StepRun, signal: AbortSignal): Promise<void> {
    const step = this.findStep(run);
    let result: StepResult;
    if (!step) {
      result = { status: 'failed', summary: `runbook step ${run.runbook}/${run.step} no longer exists`, durationMs: 0, outputTail: '' };
    } else {
      try {
        result = await runStep(step, run.params, { signal, redact: this.o.redact, env: this.o.env });
      } catch (error) {
        // Executors report failures as results; a throw is a bug, but the run must still end.
        this.o.log.error({ err: error, runId: run.id }, 'step executor threw');
        result = { status: 'failed', summary: `internal error: ${this.o.redact(String(error))}`, durationMs: 0, outputTail: '' };
      }
    }
    this.o.metrics.stepRuns.inc({ result: result.status });
    this.o.metrics.stepDuration.observe(result.durationMs / 1000);
    const now = this.o.clock().toISOString();
    const details = resultDetails(result);
    await this.o.store.transaction(async (tx) => {
      await tx.transitionStepRun(run.id, ['running'], result.status, now, {
        finishedAt: now,
        result: {
          status: result.status,
          summary: result.summary,
          exitCode: result.exitCode,
          httpStatus: result.httpStatus,
          durationMs: result.durationMs,
          outputTail: result.outputTail,
          facts: result.facts,
          artefacts: result.artefacts,
        },
      });
      await recordEvent(
        tx,
        this.o.targets,
        {
          at: now,
          incidentId: run.incidentId,
          actor: 'system',
          kind: 'step.finished',
          text: `${ICON[result.status]} *${run.stepTitle}* ${result.status.replace('_', ' ')}: ${result.summary}${details}`,
          data: {
            runId: run.id,
            status: result.status,
            exitCode: result.exitCode ?? null,
            httpStatus: result.httpStatus ?? null,
            durationMs: result.durationMs,
            artefacts: result.artefacts ?? [],
          },
        },
        { refreshCard: true },
      );
    });
    this.o.log.info({ runId: run.id, runbook: run.runbook, step: run.step, status: result.status }, 'step finished');
    this.o.onQueued();
  }
}
