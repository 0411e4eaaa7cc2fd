import type { Logger } from 'pino';
import type { Store } from '../core/ports/store.js';
import type { Clock } from '../core/ports/clock.js';
import type { RunnerJob, RunnerJobKind, RunnerRecord } from '../core/ports/runner-jobs.js';
import { StepDetached, type ActionContext, type FileInspection, type StepOrigin } from '../core/ports/step-runner.js';
import { describeTarget, resolveRunOn, stepHash, type BackupExpiry, type RunbookStep, type RunnerTarget, type StepResult } from '../runbooks/index.js';
import { answerSchema, stepResultSchema, type Answer, type Job } from './protocol.js';
import { jobKey, runnerKey, type RunnerHub } from './hub.js';
import { knownResult, knownResults, type ResultMessage } from '../domain/result-message.js';
import { t } from '../core/i18n/index.js';
import { detailText, jobDetail } from './job-detail.js';
import { runnerTarget } from '../core/result-text.js';

export interface RemoteRunnerOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  hub: RunnerHub;
  /** A runner silent for longer than this is disconnected; a job it holds is then interrupted. */
  heartbeatTimeoutMs: number;
  /** How often a waiting step looks at its job in the store (reports may reach another replica). */
  waitPollMs?: number;
  /** How long a picker or file check may take on a runner. */
  queryTimeoutMs?: number;
  /** After a cancel (shutdown), how long to wait for the runner to report the step stopped. */
  cancelGraceMs?: number;
  /** Counts finished jobs per runner and outcome. */
  onFinished?: (runner: string, outcome: string) => void;
}

/** Thrown when a query cannot be answered on the runner; its message is for the requester. */
export class RunnerUnavailableError extends Error {}

/** A failed result: the English summary, and the same said as a code for the bot's language. */
/** A finding from a runner: its value's code kept when this bot can say it, else the runner's English value alone. */
function knownFact({ said, ...fact }: { label: string; value: string; said?: { code: string; params: Record<string, string | number> } | undefined }) {
  const known = said && knownResult(said);
  return known ? { ...fact, said: known } : fact;
}

const failed = (summary: string, said: ResultMessage): StepResult => ({ status: 'failed', summary, said, durationMs: 0, outputTail: '' });

/** Why no runner takes a step: in English (a result's summary) and in the bot's language. */
interface NoRunner {
  english: string;
  shown: string;
}

/** A job's detail in the bot's language, or `fallback`'s text when it has none. */
const detailOr = (job: RunnerJob, fallback: 'runner.detail.none' | 'runner.detail.lost' | 'runner.detail.cancelledShort' | `runner.jobState.${'refused' | 'interrupted' | 'cancelled'}`) => (job.detail !== null ? detailText(job.detail) : t(fallback));

/** Whether a connected runner is the one `target` asks for: its name, and every label it lists. */
function matches(runner: RunnerRecord, target: RunnerTarget): boolean {
  if (target.runner !== undefined && runner.name !== target.runner) return false;
  return Object.entries(target.labels ?? {}).every(([k, v]) => runner.labels[k] === v);
}

/**
 * Runs steps that name a runner (`runOn`) there: each is a job in the store that the runner's poll
 * takes (on whichever replica it reaches), and this waits for the job's outcome. A step whose runner
 * is not connected fails at once; it never runs anywhere else.
 */
export class RemoteStepRunner {
  constructor(private readonly o: RemoteRunnerOptions) {}

  private staleBefore(): string {
    return new Date(this.o.clock().getTime() - this.o.heartbeatTimeoutMs).toISOString();
  }

  /** The runner a step goes to now, or why there is none. */
  private async choose(step: RunbookStep, params: Record<string, string>): Promise<RunnerRecord | NoRunner> {
    if (!step.runOn) return { english: `step ${step.id} names no runner`, shown: t('runner.none', { step: step.id }) };
    const target = resolveRunOn(step.runOn, params);
    // The runbook layer's own words: why its runOn names no runner.
    if (typeof target === 'string') return { english: target, shown: target };
    const stale = this.staleBefore();
    const runners = await this.o.store.transaction((tx) => tx.runners.listRunners(), { readOnly: true });
    const connected = runners.filter((r) => r.seenAt >= stale);
    const fit = connected.filter((r) => matches(r, target));
    const others = connected.map((r) => r.name).join(', ');
    if (fit.length === 0) {
      return { english: `${describeTarget(target)} is not connected (connected runners: ${others || 'none'})`, shown: t('runner.notConnected', { target: runnerTarget(describeTarget(target)), others: others || t('runner.noneConnected') }) };
    }
    const names = fit.map((r) => r.name).join(', ');
    if (fit.length > 1) return { english: `${fit.length} connected runners match ${describeTarget(target)} (${names}): runOn must name one`, shown: t('runner.ambiguous', { count: fit.length, target: runnerTarget(describeTarget(target)), names }) };
    return fit[0] as RunnerRecord;
  }

  private async queue(runner: string, kind: RunnerJobKind, step: RunbookStep, params: Record<string, string>, origin: StepOrigin, extra: Partial<Job> = {}): Promise<number> {
    const job: Omit<Job, 'id'> = {
      kind,
      runbook: origin.runbook,
      step: step.id,
      stepHash: stepHash(origin.runbook, step),
      // Only declared params: the reserved ones (`<param>#sha256`, … of a chosen file) travel as pins.
      params: Object.fromEntries(Object.entries(params).filter(([name]) => !name.includes('#') && !name.startsWith('@'))),
      pins: extra.pins ?? [],
      ...(extra.path !== undefined ? { path: extra.path } : {}),
      ...(extra.within !== undefined ? { within: extra.within } : {}),
      ...(extra.now !== undefined ? { now: extra.now } : {}),
      evidence: {
        purpose: origin.purpose,
        approvers: origin.approvers ?? [],
        ...(origin.incidentId !== undefined ? { incidentId: origin.incidentId } : {}),
        ...(origin.runId !== undefined ? { runId: origin.runId } : {}),
        ...(origin.requestedBy !== undefined ? { requestedBy: origin.requestedBy } : {}),
      },
    };
    const at = this.o.clock().toISOString();
    const runId = kind === 'run' && origin.purpose !== 'job' ? (origin.runId ?? null) : null;
    const id = await this.o.store.transaction((tx) => tx.runners.addRunnerJob({ runner, runId, kind, payload: JSON.stringify(job), at }));
    this.o.hub.notify(runnerKey(runner));
    return id;
  }

  /**
   * Waits for a job to end. A runner that stops polling for longer than the heartbeat bound loses
   * the job: it is interrupted, and its late report (if any) is refused. An abort asks the runner
   * to stop the step, then waits `cancelGraceMs` for it to say so.
   */
  private async await(jobId: number, signal: AbortSignal | undefined, deadline?: number, detachOnAbort = false): Promise<RunnerJob> {
    const pollMs = this.o.waitPollMs ?? 500;
    // Silence counts from when this process began waiting: while the bot itself was down, its runners could not poll it.
    const waitingSince = this.o.clock().getTime();
    let cancelBy: number | undefined;
    for (;;) {
      // The job and its runner's last poll in one read: a waiting step looks twice a second.
      const { job, runner } = await this.o.store.transaction(
        async (tx) => {
          const found = await tx.runners.getRunnerJob(jobId);
          return { job: found, runner: found ? await tx.runners.getRunner(found.runner) : undefined };
        },
        { readOnly: true },
      );
      if (!job) throw new Error(`runner job ${jobId} is gone`);
      if (job.state !== 'queued' && job.state !== 'running') return job;
      const now = this.o.clock().getTime();
      const silentFor = runner ? now - Math.max(Date.parse(runner.seenAt), waitingSince) : Infinity;
      let end: { detail: string; to: 'interrupted' | 'cancelled' } | undefined;
      if (silentFor > this.o.heartbeatTimeoutMs) {
        end = { to: job.state === 'queued' ? 'cancelled' : 'interrupted', detail: jobDetail('runner.detail.silent', { runner: job.runner, silent: Math.round(silentFor / 1000), bound: Math.round(this.o.heartbeatTimeoutMs / 1000) }) };
      } else if (deadline !== undefined && now > deadline) {
        end = { to: 'cancelled', detail: jobDetail('runner.detail.noAnswer', { runner: job.runner, seconds: Math.round((this.o.queryTimeoutMs ?? 15_000) / 1000) }) };
      } else if (signal?.aborted && detachOnAbort) {
        throw new StepDetached(`this bot stopped waiting for job ${jobId}; runner ${job.runner} goes on with it`);
      } else if (signal?.aborted && cancelBy === undefined) {
        cancelBy = now + (this.o.cancelGraceMs ?? 5000);
        await this.o.store.transaction((tx) => tx.runners.requestRunnerJobCancel(jobId));
        this.o.hub.notify(runnerKey(job.runner));
      } else if (cancelBy !== undefined && now > cancelBy) {
        end = { to: 'cancelled', detail: jobDetail('runner.detail.cancelled', { reason: String(signal?.reason instanceof Error ? signal.reason.message : 'aborted'), runner: job.runner }) };
      }
      if (end) {
        const at = this.o.clock().toISOString();
        const detail = end.detail;
        const to = end.to;
        await this.o.store.transaction((tx) => tx.runners.finishRunnerJob(jobId, ['queued', 'running'], to, at, { detail }));
        continue;
      }
      await this.o.hub.wait(jobKey(jobId), pollMs, cancelBy === undefined ? signal : undefined);
    }
  }

  /** A finished run job as the step's result; counts it. */
  private resultOf(job: RunnerJob): StepResult {
    const where = `on runner ${job.runner}`;
    const parsed = job.state === 'done' ? stepResultSchema.safeParse(JSON.parse(job.result ?? 'null')) : undefined;
    this.o.onFinished?.(job.runner, parsed ? (parsed.data?.status ?? 'invalid') : job.state);
    switch (job.state) {
      case 'done': {
        if (!parsed?.success) return failed(`runner ${job.runner} reported a result the bot cannot read`, { code: 'runner.unreadable', params: { runner: job.runner } });
        const result = parsed.data;
        const { said, saidParts, facts, ...rest } = result;
        // A code this bot does not know (a newer runner's) leaves that text in the runner's English.
        const one = said && knownResult(said);
        const parts = saidParts && knownResults(saidParts);
        return {
          ...rest,
          summary: `${result.summary} ${where}`,
          ...(one ? { said: { ...one, onRunner: job.runner } } : {}),
          // The runner is named once, after the last part.
          ...(parts ? { saidParts: parts.map((p, i) => (i === parts.length - 1 ? { ...p, onRunner: job.runner } : p)) } : {}),
          ...(facts ? { facts: facts.map(knownFact) } : {}),
        };
      }
      case 'refused':
        return failed(`refused by runner ${job.runner}, nothing was run: ${job.detail ?? 'no reason given'}`, { code: 'runner.refused', params: { runner: job.runner, reason: detailOr(job, 'runner.detail.none') } });
      case 'interrupted': {
        const said: ResultMessage = { code: 'runner.interrupted', params: { runner: job.runner, detail: detailOr(job, 'runner.detail.lost') } };
        return { status: 'interrupted', summary: `interrupted ${where}: ${job.detail ?? 'lost'}. It was not re-run: check the system, then request it again if needed`, said, durationMs: 0, outputTail: job.output ?? '' };
      }
      default: {
        const detail = detailOr(job, 'runner.detail.cancelledShort');
        return job.startedAt
          ? { status: 'failed', summary: `${job.detail ?? 'cancelled'} ${where}`, said: { code: 'runner.ended', params: { detail, runner: job.runner } }, durationMs: 0, outputTail: job.output ?? '' }
          : failed(`not run ${where}: ${job.detail ?? 'cancelled'}`, { code: 'runner.notRun', params: { runner: job.runner, detail } });
      }
    }
  }

  async run(step: RunbookStep, params: Record<string, string>, context: ActionContext & { origin: StepOrigin }): Promise<StepResult> {
    const runner = await this.choose(step, params);
    if (!('name' in runner)) return failed(`not run: ${runner.english}`, { code: 'notRun', params: { reason: runner.shown } });
    const jobId = await this.queue(runner.name, 'run', step, params, context.origin, { pins: [...(context.pins ?? [])] });
    this.o.log.info({ jobId, runner: runner.name, runbook: context.origin.runbook, step: step.id, runId: context.origin.runId }, 'step handed to a runner');
    // A step of an incident outlives this process on its runner; a scheduled job's is cancelled with it.
    const detach = context.origin.runId !== undefined && context.origin.purpose !== 'job';
    return this.resultOf(await this.await(jobId, context.signal, undefined, detach));
  }

  /** The step's open job, if a runner still holds one: its result, when it ends. */
  async reattach(runId: number, signal: AbortSignal): Promise<{ result: Promise<StepResult> } | undefined> {
    // Its latest job, even one that ended while nobody waited for it (its result is then recorded now).
    const job = await this.o.store.transaction((tx) => tx.runners.latestJobOfRun(runId), { readOnly: true });
    if (!job || job.kind !== 'run') return undefined;
    const purpose = (JSON.parse(job.payload) as Job).evidence.purpose;
    // The step itself runs after its checkpoint; with the executor's sequence gone, only the step itself can be reattached.
    if (purpose !== 'step') return undefined;
    return { result: this.await(job.id, signal, undefined, true).then((ended) => this.resultOf(ended)) };
  }

  /** A picker's list, a file check or a retention run on the step's runner; throws RunnerUnavailableError when it cannot. */
  private async ask(kind: 'list' | 'inspect' | 'expire', step: RunbookStep, params: Record<string, string>, origin: StepOrigin, extra: Partial<Job> = {}): Promise<Answer> {
    const runner = await this.choose(step, params);
    if (!('name' in runner)) throw new RunnerUnavailableError(t('runner.ask.cannot', { reason: runner.shown }));
    const jobId = await this.queue(runner.name, kind, step, params, origin, extra);
    const job = await this.await(jobId, undefined, this.o.clock().getTime() + (this.o.queryTimeoutMs ?? 15_000));
    if (job.state !== 'done') {
      const detail = detailOr(job, job.state === 'refused' ? 'runner.jobState.refused' : job.state === 'interrupted' ? 'runner.jobState.interrupted' : 'runner.jobState.cancelled');
      throw new RunnerUnavailableError(t(job.state === 'refused' ? 'runner.ask.refused' : 'runner.ask.noAnswer', { runner: runner.name, detail }));
    }
    const answer = answerSchema.safeParse(JSON.parse(job.result ?? 'null'));
    if (!answer.success || answer.data.kind !== kind) throw new RunnerUnavailableError(t('runner.ask.unreadable', { runner: runner.name }));
    return answer.data;
  }

  async listChoices(step: RunbookStep, params: Record<string, string>, origin: StepOrigin) {
    const answer = await this.ask('list', step, params, origin);
    if (answer.kind !== 'list') return [];
    // Codes this bot does not know (a newer runner's) leave the label in the runner's English.
    return answer.choices.map(({ said, ...choice }) => {
      const known = said && knownResults(said);
      return known ? { ...choice, said: known } : choice;
    });
  }

  async inspectFile(step: RunbookStep, params: Record<string, string>, origin: StepOrigin, file: string, within?: string): Promise<FileInspection> {
    const answer = await this.ask('inspect', step, params, origin, { path: file, ...(within !== undefined ? { within } : {}) });
    return answer.kind === 'inspect' ? answer.inspection : { ok: false, reason: t('runner.ask.none') };
  }

  async expireBackups(step: RunbookStep, params: Record<string, string>, now: Date, origin: StepOrigin): Promise<BackupExpiry | undefined> {
    const answer = await this.ask('expire', step, params, origin, { now: now.toISOString() });
    return answer.kind === 'expire' ? (answer.expiry ?? undefined) : undefined;
  }
}
