import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { formatArgv } from '../exec.js';
import { formatDuration, outputTail } from '../output.js';
import { runProgram, type ProgramRun } from '../program.js';
import type { TypedActionContext } from '../typed-action.js';
import type { StepArtefact, StepFact, StepResult } from '../types.js';
import { redactSaid } from '../ops/said.js';
import { ActionError, errorLine, fsProblem, type Said, type Summary } from './common.js';

/*
 * `Job` runs the programs of one data step (checkpoint, backup, restore) within its time budget,
 * collects facts and artefacts, removes temporary files whatever happens, and turns the outcome
 * into one step result.
 */

function isTimeout(reason: unknown): boolean {
  return reason instanceof DOMException && reason.name === 'TimeoutError';
}

/** Why an aborted step stopped: its time ran out, or it was cancelled. */
function abortError(signal: AbortSignal): ActionError {
  const timedOut = isTimeout(signal.reason);
  return new ActionError(timedOut ? 'the step ran out of time' : 'the step was cancelled', timedOut, [{ code: timedOut ? 'data.outOfTime' : 'data.cancelled', params: {} }]);
}

/** Output kept for the step result's tail: enough for the last commands, not megabytes. */
const LOG_KEEP_CHARS = 64 * 1024;

export interface ProgramCall {
  /** What this program does, for the failure summary ("pg_dump of orders"). */
  what: string;
  /** Extra variables on top of the step's program environment. */
  env?: Record<string, string>;
  input?: string;
  /** Return a failed run instead of throwing. */
  allowFailure?: boolean;
  /** A shorter time limit than the rest of the step's budget. */
  timeoutMs?: number;
}

/**
 * One running data step: its time budget, the programs it ran and their output, the facts and
 * artefacts it found, and the temporary files it must remove whatever happens.
 */
export class Job {
  readonly facts: StepFact[] = [];
  readonly artefacts: StepArtefact[] = [];
  private readonly started = performance.now();
  private log = '';
  private readonly temps = new Set<string>();

  constructor(readonly ctx: TypedActionContext) {}

  get signal(): AbortSignal {
    return this.ctx.signal;
  }

  elapsedMs(): number {
    return performance.now() - this.started;
  }

  remainingMs(): number {
    return Math.max(0, this.ctx.timeoutMs - this.elapsedMs());
  }

  note(line: string): void {
    this.log = `${this.log}${line}\n`.slice(-LOG_KEEP_CHARS);
  }

  fact(label: string, value: string): void {
    this.facts.push({ label, value });
  }

  /** Stops with the signal's reason when the step was cancelled or ran out of time. */
  throwIfAborted(): void {
    if (!this.signal.aborted) return;
    throw abortError(this.signal);
  }

  /** Runs one program within what is left of the budget; throws ActionError when it fails (unless allowFailure). */
  async program(argv: readonly [string, ...string[]], call: ProgramCall): Promise<ProgramRun> {
    this.throwIfAborted();
    this.note(`$ ${formatArgv(argv)}`);
    const timeoutMs = Math.max(1, Math.min(call.timeoutMs ?? Infinity, this.remainingMs()));
    const run = await runProgram(argv, { timeoutMs, signal: this.signal, env: { ...this.ctx.programEnv, ...call.env }, input: call.input, onSpawn: this.ctx.onSpawn });
    if (run.output !== '') this.note(run.output);
    if (!run.ok && call.allowFailure !== true) {
      const detail = errorLine(run.output);
      const timedOut = run.timedOut || (this.signal.aborted && isTimeout(this.signal.reason));
      throw new ActionError(`${call.what}: ${run.failure ?? 'failed'}${detail !== undefined && !timedOut ? `: ${detail}` : ''}`, timedOut);
    }
    return run;
  }

  /** A fresh temporary path `<dir>/.<base>.<kind>-<random>`, removed by `cleanup()` unless `keep()` is called. */
  tempPath(dir: string, base: string, kind: string): string {
    const file = path.join(dir, `.${base.replace(/^\.+/u, '')}.${kind}-${randomBytes(4).toString('hex')}`);
    this.temps.add(file);
    return file;
  }

  /** Removes `file` at cleanup too (e.g. the -wal/-shm SQLite may create beside a temporary database). */
  track(file: string): void {
    this.temps.add(file);
  }

  /** The path is no longer temporary (it was renamed or removed on purpose). */
  keep(file: string): void {
    this.temps.delete(file);
  }

  /** The temporary paths registered now, for a later `cleanup(except)`. */
  temporaries(): ReadonlySet<string> {
    return new Set(this.temps);
  }

  /** Removes every temporary path still registered (except those in `except`); never throws. */
  async cleanup(except: ReadonlySet<string> = new Set()): Promise<void> {
    const paths = [...this.temps].filter((file) => !except.has(file));
    for (const file of paths) this.temps.delete(file);
    for (const file of paths.reverse()) {
      try {
        await rm(file, { recursive: true, force: true });
      } catch (error) {
        this.fact('warning', `could not remove temporary ${file}: ${fsProblem(error)}`);
      }
    }
  }

  result(status: StepResult['status'], summary: string, said: readonly Said[] = []): StepResult {
    const redact = this.ctx.redact;
    const parts = said.map((part) => redactSaid(part, redact));
    return {
      status,
      summary: redact(summary),
      ...(parts.length === 1 ? { said: parts[0] } : parts.length > 1 ? { saidParts: parts } : {}),
      durationMs: Math.round(this.elapsedMs()),
      outputTail: outputTail(this.log, redact),
      ...(this.facts.length > 0 ? { facts: this.facts.map((f) => ({ label: f.label, value: redact(f.value) })) } : {}),
      ...(this.artefacts.length > 0 ? { artefacts: [...this.artefacts] } : {}),
    };
  }

  succeeded(done: Summary): StepResult {
    const elapsed = this.elapsedMs();
    return this.result('succeeded', `${done.text} in ${formatDuration(elapsed)}`, done.said ? [{ code: done.said.code, params: { ...done.said.params, tookMs: Math.round(elapsed) } }] : []);
  }

  /** A failed (or timed out) result from whatever was thrown. */
  failed(error: unknown): StepResult {
    const timedOut = (error instanceof ActionError && error.timedOut) || (this.signal.aborted && isTimeout(this.signal.reason));
    const stopped = !(error instanceof ActionError) && this.signal.aborted ? abortError(this.signal) : error;
    const summary = stopped instanceof Error ? stopped.message : String(stopped);
    const said = stopped instanceof ActionError ? stopped.said : [];
    if (!timedOut || summary.includes('timed out')) return this.result(timedOut ? 'timed_out' : 'failed', summary, said);
    // "timed out after 60s: <why>"; when the why is only that the time ran out, it is said once.
    const seconds = Math.round(this.ctx.timeoutMs / 1000);
    const why = said.filter((part) => part.code !== 'data.outOfTime');
    const parts: Said[] = said.length === 0 ? [{ code: 'timedOut.detail', params: { seconds, detail: summary } }] : [{ code: 'timedOut', params: { seconds } }, ...why];
    return this.result('timed_out', `timed out after ${formatDuration(this.ctx.timeoutMs)}: ${summary}`, parts);
  }

  /** Runs the body, always removing temporaries; any failure becomes a failed or timed_out result. */
  async perform(body: () => Promise<Summary>): Promise<StepResult> {
    try {
      const done = await body();
      await this.cleanup();
      return this.succeeded(done);
    } catch (error) {
      await this.cleanup();
      return this.failed(error);
    }
  }
}
