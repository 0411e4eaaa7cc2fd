import { argvSchema } from '../../argv.js';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { formatDuration, outputTail } from '../output.js';
import type { ProgramRun } from '../program.js';
import type { TypedActionContext } from '../typed-action.js';
import type { StepArtefact, StepFact, StepResult } from '../types.js';
import type { ResultMessage } from '../../../domain/result-message.js';
import { problemOf, programProblem, programProblemSaid, redactSaid, say, type Problem, type ProgramSaid } from './said.js';

/*
 * Pieces shared by the operation actions (verify, restart, rollback): lenient input schemas for
 * templatable fields, the step's time budget, polling, and turning phases into one step result.
 *
 * Every string inside `with:` may hold a {{param}}, and the schema is also applied to the
 * unrendered inputs when the manifest loads. So string checks here only refuse what can never be
 * right (empty, a template in the program); names, paths and URLs are checked in `run()` on the
 * rendered values, with a failed result that says what is wrong.
 */

/** How long a check may keep trying (seconds). */
export const withinSeconds = (fallback: number) => z.int().min(1).max(3600).default(fallback);
/** Pause between two attempts (seconds, fractions allowed). */
export const intervalSeconds = (fallback: number) => z.number().min(0.1).max(300).default(fallback);

/** A string that params may fill in; checked after rendering. */
export const text = z.string().min(1);

/**
 * A working directory or compose file. Params may fill it in, but only params with a default and
 * no label (checked when the manifest loads): a relative program resolves against it, and a label
 * must never change which program runs.
 */
export const locationText = z.string().min(1);

/** argv, no shell: the program is fixed by the manifest author, its arguments may use params. */
export const argvInput = argvSchema;

/**
 * A TCP port: a number, or a string that is digits or holds a {{param}} (as written in a manifest).
 * Always a number after parsing; a template that has not been rendered yet becomes NaN, and
 * `portProblem` refuses anything outside 1–65535 when the step runs.
 */
export const portInput = (fallback: number) =>
  z
    .union([z.int(), z.string().regex(/^(?:\d+|.*\{\{.*\}\}.*)$/u, 'a port is a number (or a {{param}} that renders to one)')])
    .transform((port) => (typeof port === 'number' ? port : /^\d+$/u.test(port) ? Number(port) : Number.NaN))
    .default(fallback);

export function portProblem(port: number): Problem | undefined {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? undefined : problemOf('port must be a number from 1 to 65535', 'ops.port');
}

/**
 * Why a rendered name cannot be passed to a program, or undefined. Names come from alert labels
 * through params, so besides the pattern a leading "-" is refused: it would be read as an option.
 * `what` is the input's name in the manifest (unit, host, …), shown as written in every language.
 */
export function nameProblem(value: string, what: string, pattern: RegExp, hint: string): Problem | undefined {
  const params = { field: what, value: JSON.stringify(value) };
  if (value.startsWith('-')) return problemOf(`${what} ${JSON.stringify(value)} may not start with "-"`, 'ops.dash', params);
  if (!pattern.test(value)) return problemOf(`${what} ${JSON.stringify(value)} is not valid (${hint})`, 'ops.invalid', params);
  return undefined;
}

/** The step's time budget: its signal (timeout or cancel) and the deadline it implies. */
export interface Budget {
  signal: AbortSignal;
  deadline: number;
  remainingMs(): number;
}

export function budgetOf(ctx: TypedActionContext): Budget {
  const deadline = performance.now() + ctx.timeoutMs;
  // Whole milliseconds: timers and AbortSignal.timeout() refuse fractions.
  return { signal: ctx.signal, deadline, remainingMs: () => Math.max(0, Math.floor(deadline - performance.now())) };
}

/** Waits, unless the signal fires first; false when it did. */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** The outcome of one phase of an action (restart, wait, verify, switch): several make a step result. */
export interface Phase {
  ok: boolean;
  /** One line, in English. */
  summary: string;
  /**
   * The same line as a code and its values, for the bot to say in its language; in parts when a
   * piece of it is a phrase of its own (a check's last answer, a program's failure).
   */
  said?: ResultMessage | readonly ResultMessage[] | undefined;
  facts: StepFact[];
  /** Program output or response body, for the output tail. */
  output: string;
  exitCode?: number | undefined;
  httpStatus?: number | undefined;
  timedOut?: boolean | undefined;
  /** Files the phase produced (a database restore's safety backup). */
  artefacts?: StepArtefact[] | undefined;
}

/**
 * One step result from the phases that ran, in order: it succeeded when every phase did; the
 * summary lists every phase; facts from all of them are kept; the output tail is the failing
 * phase's (else the last one's).
 */
export function stepResult(phases: readonly Phase[], ctx: TypedActionContext, started: number): StepResult {
  const failed = phases.find((p) => !p.ok);
  const shown = failed ?? phases.at(-1);
  const withCode = [...phases].reverse();
  const exitCode = withCode.find((p) => p.exitCode !== undefined)?.exitCode;
  const httpStatus = withCode.find((p) => p.httpStatus !== undefined)?.httpStatus;
  return {
    status: failed === undefined ? 'succeeded' : failed.timedOut ? 'timed_out' : 'failed',
    summary: ctx.redact(phases.map((p) => p.summary).join('; ')),
    // Said in parts once any phase has a code; a phase without one is shown as written.
    ...(phases.some((p) => p.said) ? { saidParts: phases.flatMap((p) => partsOf(p)).map((part) => redactSaid(part, ctx.redact)) } : {}),
    durationMs: performance.now() - started,
    outputTail: outputTail(shown?.output ?? '', ctx.redact),
    facts: phases.flatMap((p) => p.facts).map((f) => ({ label: f.label, value: ctx.redact(f.value) })),
    ...(phases.some((p) => p.artefacts?.length) ? { artefacts: phases.flatMap((p) => p.artefacts ?? []) } : {}),
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(httpStatus !== undefined ? { httpStatus } : {}),
  };
}

/** A phase's line in parts; one without a code is shown as written. */
function partsOf(phase: Phase): readonly ResultMessage[] {
  const said = phase.said;
  if (said === undefined) return [say('text', { text: phase.summary })];
  return 'code' in said ? [said] : said;
}

/** Durations in findings: "339ms", "1.2s" (no word in them, so they read the same in every language). */
export function factDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** A phase that stopped before doing anything, because an input is wrong. */
export function refused(reason: Problem): Phase {
  return { ok: false, summary: `refused: ${reason.text}`, said: [say('ops.refused'), reason.said], facts: [], output: '' };
}

/** A phase from one program run: `what` names it in the summary, `said` in the bot's language. */
export function programPhase(run: ProgramRun, what: string, said: ProgramSaid, facts: StepFact[] = []): Phase {
  const exit = run.exitCode !== undefined ? { exitCode: run.exitCode } : {};
  if (run.ok) return { ok: true, summary: `${what} (${formatDuration(run.durationMs)})`, said: say(said.ok, { ...said.params, tookMs: run.durationMs }), facts, output: run.output, ...exit };
  const failed = [say(said.failed, said.params), ...programProblemSaid(run)];
  return { ok: false, summary: `${what} failed: ${programProblem(run)}`, said: failed, facts, output: run.output, timedOut: run.timedOut, ...exit };
}

/** One attempt of a check that is repeated until it passes. */
export interface Attempt {
  ok: boolean;
  /** What was seen, e.g. "HTTP 500 (expected 200)", "active", "0 series". */
  detail: string;
  /** The same said in parts, for the bot's language. */
  said?: ResultMessage[];
  /** What was seen as a value alone (a finding's), e.g. "HTTP 500", "active", "0". */
  seen?: string;
  output: string;
  /** Retrying cannot help (no such program, a malformed query): stop now. */
  fatal?: boolean;
  httpStatus?: number;
  exitCode?: number;
}

export interface PollOutcome {
  ok: boolean;
  attempts: number;
  last: Attempt;
  /** From the first attempt to the passing one (or to giving up). */
  elapsedMs: number;
  /** The step was cancelled or hit its timeout while polling. */
  cancelled: boolean;
  /** The seconds allowed for polling, after limiting them to the step's remaining time. */
  allowedMs: number;
  /** The step's remaining time was shorter than `withinMs`. */
  limitedByStep: boolean;
}

/** Margin left before the step's own deadline, so a check that gives up can still report why. */
const STEP_MARGIN_MS = 250;

/**
 * Runs `attempt` until it passes, a fatal answer, or the deadline: `withinMs` from now, and never
 * beyond the step's own budget. There is always at least one attempt, and one more right at the
 * deadline. Each attempt gets the time left (at least 1s, at most `maxAttemptMs`).
 */
export async function pollUntil(
  attempt: (timeoutMs: number) => Promise<Attempt>,
  o: { intervalMs: number; withinMs: number; budget: Budget; maxAttemptMs?: number },
): Promise<PollOutcome> {
  const started = performance.now();
  const stepLeft = o.budget.remainingMs() - STEP_MARGIN_MS;
  const allowedMs = Math.max(0, Math.min(o.withinMs, stepLeft));
  const limitedByStep = stepLeft < o.withinMs;
  const deadline = started + allowedMs;
  const maxAttemptMs = o.maxAttemptMs ?? 10_000;
  let attempts = 0;
  let last: Attempt = { ok: false, detail: 'not checked', said: [say('ops.notChecked')], seen: '—', output: '' };
  for (;;) {
    if (o.budget.signal.aborted) break;
    attempts += 1;
    const timeoutMs = Math.round(Math.min(maxAttemptMs, Math.max(1000, deadline - performance.now())));
    last = await attempt(timeoutMs);
    if (last.ok || last.fatal === true) break;
    const left = deadline - performance.now();
    if (left <= 0) break;
    if (!(await sleep(Math.ceil(Math.min(o.intervalMs, left)), o.budget.signal))) break;
  }
  return { ok: last.ok, attempts, last, elapsedMs: performance.now() - started, cancelled: o.budget.signal.aborted && !last.ok, allowedMs, limitedByStep };
}

/** "3 attempts", "1 attempt". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export { formatDuration };
