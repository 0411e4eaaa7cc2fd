import type { Redactor } from '../../domain/redact.js';
import { formatDuration, outputTail } from './output.js';
import { runInGroup, type OnSpawn } from './process-group.js';
import type { StepResult } from './types.js';

/** Output kept in memory per stream; a command printing more than this is stopped and fails. */
const MAX_BUFFER = 8 * 1024 * 1024;

export interface ProgramOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** The complete environment of the process (nothing is inherited). */
  env: Record<string, string>;
  cwd?: string | undefined;
  /** Written to the program's stdin (e.g. a password-less SQL script); stdin is closed otherwise. */
  input?: string | undefined;
  /** Records the program's process group before it runs (the executor's, for crash recovery). */
  onSpawn?: OnSpawn | undefined;
}

export interface ProgramRun {
  argv: readonly string[];
  ok: boolean;
  exitCode: number | undefined;
  /** stdout alone, for programs whose output is parsed. */
  stdout: string;
  /** stdout and stderr interleaved, for people. */
  output: string;
  durationMs: number;
  /** Why it did not succeed, in one line; undefined when it did. */
  failure: string | undefined;
  timedOut: boolean;
}

/**
 * Runs one program: argv only, no shell, explicit environment, bounded time and output. Typed
 * actions compose several of these (dump, then verify, then list) and never build a shell line.
 * Each runs in a process group of its own (see process-group.ts).
 */
export async function runProgram(argv: readonly [string, ...string[]], o: ProgramOptions): Promise<ProgramRun> {
  const [program, ...args] = argv;
  const r = await runInGroup(program, args, { cwd: o.cwd, env: o.env, timeoutMs: o.timeoutMs, signal: o.signal, input: o.input, maxBuffer: MAX_BUFFER, onSpawn: o.onSpawn });
  const took = formatDuration(r.durationMs);
  let failure: string | undefined;
  if (r.timedOut) failure = `${program} timed out after ${formatDuration(o.timeoutMs)}`;
  else if (r.isCanceled) failure = `${program} cancelled after ${took}`;
  else if (r.isMaxBuffer) failure = `${program} printed more than ${MAX_BUFFER / 1024 / 1024} MiB`;
  else if (r.exitCode === undefined && r.signal === undefined) failure = `could not start ${JSON.stringify(program)}: ${r.code ?? r.originalMessage ?? 'unknown error'}`;
  else if (r.exitCode === undefined) failure = `${program} killed by ${r.signal}`;
  else if (r.exitCode !== 0) failure = `${program} exited ${r.exitCode}`;
  return {
    argv,
    ok: failure === undefined,
    exitCode: r.exitCode,
    stdout: r.stdout,
    output: r.all,
    durationMs: r.durationMs,
    failure,
    timedOut: r.timedOut,
  };
}

/** A failed step result from a program run: its failure line, and the end of its output. */
export function programFailure(run: ProgramRun, redact: Redactor, durationMs: number, what?: string): StepResult {
  const summary = redact(what ? `${what}: ${run.failure ?? 'failed'}` : (run.failure ?? 'failed'));
  return { status: run.timedOut ? 'timed_out' : 'failed', summary, ...(run.exitCode !== undefined ? { exitCode: run.exitCode } : {}), durationMs, outputTail: outputTail(run.output, redact) };
}
