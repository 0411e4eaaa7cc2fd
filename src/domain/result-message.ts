import { DATA_RESULT_CODES } from './result-codes-data.js';
import { OPS_RESULT_CODES } from './result-codes-ops.js';

/**
 * A step result's summary as a code and its values, so the bot can say it in its own language
 * (the runbook actions are a lower layer with no catalogue; the core has a text `result.<code>` for
 * each code). The action's English `summary` is always written too: it is the English text, the
 * audit trail's wording, and the fallback for a code the bot does not know (a newer runner).
 *
 * A parameter whose name ends in `Ms` is a duration in milliseconds, one ending in `Bytes` a size,
 * one ending in `At` an ISO time: each shown in the bot's units and time zone.
 */
const BASE_CODES = [
  /** {text}: a part the action said only in English (one phase of several that were said). */
  'text',
  /** Will {method} {url} expecting {expected} (a description). */
  'describe.http',
  /** Will {method} {url} expecting {expected} and a body containing {wanted} (a description). */
  'describe.http.body',
  /** HTTP {status} in {tookMs}. */
  'http.ok',
  /** HTTP {status} in {tookMs}, not one of {expected}. */
  'http.status',
  /** HTTP {status} in {tookMs}, the body lacks {wanted}. */
  'http.body',
  /** The request failed: {error} (a system error code). */
  'http.failed',
  /** Timed out after {seconds}. */
  'timedOut',
  /** Timed out after {seconds}; what the action was doing: {detail} (English). */
  'timedOut.detail',
  /** Cancelled after {tookMs}. */
  'cancelled',
  /** Stopped after {tookMs}: output exceeded {mib} MiB. */
  'exec.outputTooLarge',
  /** Killed by {signal} after {tookMs}. */
  'exec.killed',
  /*
   * What the bot itself reports as a step's result (the executor, the step runners, a forEach
   * run). A value that is itself a result ({why}, {detail}) is put in already said in the bot's
   * language, since it was said by the same bot.
   */
  /** The executor threw: {error} (as thrown). */
  'internalError',
  /** The step is no longer in the runbooks ({runbook}/{step}). */
  'step.gone',
  /** The step's pre-change checkpoint step is no longer in the runbooks. */
  'checkpoint.gone',
  /** The pre-change checkpoint failed ({why}: its result), so the step did not run. */
  'checkpoint.failed',
  /** The pre-change checkpoint made no snapshot file ({why}: its result), so the step did not run. */
  'checkpoint.noFile',
  /** {ok} of the {total} runs of a `forEach: alert` step succeeded. */
  'forEach',
  /** The step was not run: {reason}. */
  'notRun',
  /** The step names a runner, and this bot accepts none. */
  'notRun.noRunners',
  /** Runner {runner} sent a result the bot cannot read. */
  'runner.unreadable',
  /** Runner {runner} refused the step ({reason}: its own words); nothing ran. */
  'runner.refused',
  /** The step was interrupted on runner {runner} ({detail}) and not re-run. */
  'runner.interrupted',
  /** The step ended on runner {runner} without a result ({detail}). */
  'runner.ended',
  /** The step never started on runner {runner} ({detail}). */
  'runner.notRun',
] as const;

/** Every code: the common ones, then those of the typed operations and the data actions. */
export const RESULT_CODES = [...BASE_CODES, ...OPS_RESULT_CODES, ...DATA_RESULT_CODES] as const;

export type ResultCode = (typeof RESULT_CODES)[number];

export interface ResultMessage {
  code: ResultCode;
  params: Record<string, string | number>;
  /** The runner the step ran on, when it ran on one. */
  onRunner?: string | undefined;
}

/**
 * A result said in parts, one per phase of a typed action ("restarted …; active after 2s"), each
 * a code and its values; a part the action had no code for is `text`, in English.
 */
export type ResultParts = ResultMessage[];

/** Whether a code (from a runner, perhaps a newer one) is one this bot can say. */
export function isResultCode(code: string): code is ResultCode {
  return (RESULT_CODES as readonly string[]).includes(code);
}

type Received = { code: string; params: Record<string, string | number> };

/** A code and values as a runner sent them, when this bot can say the code; else undefined (the runner's English stands). */
export function knownResult(m: Received): ResultMessage | undefined {
  return isResultCode(m.code) ? { code: m.code, params: m.params } : undefined;
}

/** Parts as a runner sent them, when this bot can say every one; else undefined (a part left out would change the sense). */
export function knownResults(parts: readonly Received[]): ResultMessage[] | undefined {
  const known = parts.map(knownResult);
  return known.every((p) => p !== undefined) ? known : undefined;
}
