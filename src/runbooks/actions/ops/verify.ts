import { loadUndici } from '../lazy-clients.js';
import { z } from 'zod';
import { quoteValue } from '../../param-value.js';
import { parseHttpUrl } from '../http.js';
import type { ResultMessage } from '../../../domain/result-message.js';
import type { TypedActionContext } from '../typed-action.js';
import { formatDuration, plural, pollUntil, factDuration, type Attempt, type Budget, type Phase, type PollOutcome } from './common.js';
import { problemOf, say, type Problem } from './said.js';
import { checkFacts, expectedText, type HttpVerify, type PrometheusVerify, type VerifyInputs } from './verify-inputs.js';
import { sqlCheck } from './verify-sql.js';

/*
 * verify: is the system healthy? Polls one check until it passes or the deadline. Used on its own
 * and after a restart or rollback (`verify:`), where its result decides the step's outcome.
 */

/** Body read per HTTP check; the rest is never downloaded. */
const MAX_BODY_BYTES = 64 * 1024;
/** A Prometheus answer may list many series; larger answers are refused rather than half-parsed. */
const MAX_PROMETHEUS_BYTES = 1024 * 1024;
/** One SQL or HTTP attempt never waits longer than this, so a hung connection still leaves room to retry. */
const MAX_ATTEMPT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Running

/**
 * Runs the check until it passes or its deadline. `prefix` starts every fact label, so a verify
 * that follows a restart reports "verify attempts" next to the restart's own facts.
 */
export async function verifyPhase(v: VerifyInputs, ctx: TypedActionContext, budget: Budget, prefix = ''): Promise<Phase> {
  const check = checkFor(v, ctx);
  const label = (name: string) => (prefix === '' ? name : `${prefix}${name}`);
  const facts = checkFacts(v, label);
  if (typeof check !== 'function') return { ok: false, summary: `${prefix}refused: ${check.text}`, said: [say('verify.refused'), check.said], facts, output: '' };

  const outcome = await pollUntil(check, { intervalMs: v.intervalSeconds * 1000, withinMs: v.withinSeconds * 1000, budget, maxAttemptMs: MAX_ATTEMPT_MS });
  facts.push(
    { label: label('attempts'), value: String(outcome.attempts) },
    { label: label('last status'), value: outcome.last.seen ?? outcome.last.detail },
    { label: label(outcome.ok ? 'time to healthy' : 'not healthy after'), value: factDuration(outcome.elapsedMs) },
  );
  return {
    ok: outcome.ok,
    summary: `${prefix}${outcomeSummary(outcome, v.withinSeconds)}`,
    said: outcomeSaid(outcome, v.withinSeconds),
    facts,
    output: outcome.last.output,
    // Cut short by the step's own timeout rather than by withinSeconds: report it as a timeout.
    timedOut: !outcome.ok && outcome.last.fatal !== true && outcome.limitedByStep,
    ...(outcome.last.httpStatus !== undefined ? { httpStatus: outcome.last.httpStatus } : {}),
    ...(outcome.last.exitCode !== undefined ? { exitCode: outcome.last.exitCode } : {}),
  };
}

/** "healthy after 3 attempts in 1.2s (HTTP 200)", "not healthy within 30s after 15 attempts: last HTTP 500 (expected 200)" */
export function outcomeSummary(o: PollOutcome, withinSecondsAsked: number): string {
  const tries = plural(o.attempts, 'attempt');
  if (o.ok) return o.attempts === 1 ? `healthy on the first attempt (${o.last.detail})` : `healthy after ${tries} in ${formatDuration(o.elapsedMs)} (${o.last.detail})`;
  if (o.last.fatal === true) return `check failed after ${tries}, not retried: ${o.last.detail}`;
  if (o.cancelled) return `check cancelled after ${tries} in ${formatDuration(o.elapsedMs)}: last ${o.last.detail}`;
  const window = o.limitedByStep ? `${formatDuration(o.allowedMs)} (what was left of the step's timeout)` : `${withinSecondsAsked}s`;
  return `not healthy within ${window} after ${tries}: last ${o.last.detail}`;
}

/**
 * The outcome in parts: how it ended, then what the last attempt saw (a phrase of its own).
 * A follow-up verify's "verify " prefix is not said: the part's place after the restart says it.
 */
export function outcomeSaid(o: PollOutcome, withinSecondsAsked: number): ResultMessage[] {
  const seen = o.last.said ?? [say('text', { text: o.last.detail })];
  const attempts = o.attempts;
  let head: ResultMessage;
  if (o.ok) head = attempts === 1 ? say('verify.healthyFirst') : say('verify.healthy', { attempts, tookMs: o.elapsedMs });
  else if (o.last.fatal === true) head = say('verify.fatal', { attempts });
  else if (o.cancelled) head = say('verify.cancelled', { attempts, tookMs: o.elapsedMs });
  else if (o.limitedByStep) head = say('verify.notHealthyStep', { attempts, allowedMs: o.allowedMs });
  else head = say('verify.notHealthy', { attempts, seconds: withinSecondsAsked });
  return [head, ...seen];
}

type Check = (timeoutMs: number) => Promise<Attempt>;

/** The attempt function for a check, or why the rendered inputs cannot be used. */
function checkFor(v: VerifyInputs, ctx: TypedActionContext): Check | Problem {
  const badUrl = (url: string) => problemOf(`not an http(s) URL: ${quoteValue(url, 200)}`, 'verify.badUrl', { url: quoteValue(url, 200) });
  switch (v.kind) {
    case 'http': {
      const url = parseHttpUrl(v.url);
      if (url === undefined) return badUrl(v.url);
      return (timeoutMs) => httpAttempt(url, v, ctx.signal, timeoutMs);
    }
    case 'sql':
      return sqlCheck(v, ctx);
    case 'prometheus': {
      const configured = v.url ?? ctx.settings?.prometheusUrl;
      if (configured === undefined) return problemOf('no Prometheus URL: give with.url or set PROMETHEUS_URL', 'verify.noPrometheus');
      const base = parseHttpUrl(configured);
      if (base === undefined) return badUrl(configured);
      const url = prometheusQueryUrl(base, v.query);
      return (timeoutMs) => prometheusAttempt(url, v, ctx.signal, timeoutMs);
    }
  }
}

// HTTP --------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  body: string;
  truncated: boolean;
}

/** Why a GET got no answer: the one-line reason, said as a code, and the value a finding shows. */
class NoAnswer extends Error {
  constructor(
    message: string,
    readonly said: ResultMessage,
    readonly seen: string,
    cause: unknown,
  ) {
    super(message, { cause });
  }
}

/** The attempt a GET without an answer makes. */
function noAnswer(error: unknown): Attempt {
  const e = error as Error;
  return e instanceof NoAnswer ? { ok: false, detail: e.message, said: [e.said], seen: e.seen, output: '' } : { ok: false, detail: e.message, output: '' };
}

/** One GET, redirects not followed, bounded in time and size. Throws a one-line reason (NoAnswer). */
async function get(url: URL, signal: AbortSignal, timeoutMs: number, maxBytes: number, accept?: string): Promise<Answer> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const { request } = await loadUndici();
    const response = await request(url, {
      method: 'GET',
      signal: AbortSignal.any([signal, timeout]),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      headers: { 'user-agent': 'incident-chatops-bot verify', ...(accept !== undefined ? { accept } : {}) },
    });
    const { body, truncated } = await readLimited(response.body as AsyncIterable<Buffer>, maxBytes);
    return { status: response.statusCode, body, truncated };
  } catch (error) {
    if (timeout.aborted) throw new NoAnswer(`no answer within ${formatDuration(timeoutMs)}`, say('verify.noAnswer', { withinMs: timeoutMs }), `> ${factDuration(timeoutMs)}`, error);
    if (signal.aborted) throw new NoAnswer('cancelled', say('verify.requestCancelled'), '—', error);
    const code = errorCode(error);
    throw new NoAnswer(`request failed: ${code}`, say('verify.requestFailed', { error: code }), code, error);
  }
}

async function httpAttempt(url: URL, v: HttpVerify, signal: AbortSignal, timeoutMs: number): Promise<Attempt> {
  let answer: Answer;
  try {
    answer = await get(url, signal, timeoutMs, MAX_BODY_BYTES);
  } catch (error) {
    return noAnswer(error);
  }
  const head = `HTTP ${answer.status}`;
  const base = { output: answer.body, httpStatus: answer.status, seen: head };
  const status = answer.status;
  if (!v.expectStatus.includes(status)) {
    return { ...base, ok: false, detail: `${head} (expected ${v.expectStatus.join(' or ')})`, said: [say('verify.httpStatus', { status, expected: expectedText(v) })] };
  }
  if (v.bodyContains !== undefined && !answer.body.includes(v.bodyContains)) {
    const wanted = quoteValue(v.bodyContains);
    return { ...base, ok: false, detail: `${head}, but the body does not contain ${wanted}`, said: [say('verify.httpBody', { status, wanted })] };
  }
  return { ...base, ok: true, detail: head, said: [say('verify.http', { status })] };
}

// Prometheus -------------------------------------------------------------------------------------

/** `<base>/api/v1/query?query=<PromQL>`, keeping a path prefix such as `/prometheus`. */
export function prometheusQueryUrl(base: URL, query: string): URL {
  const url = new URL(base.href);
  url.pathname = `${url.pathname.replace(/\/+$/u, '')}/api/v1/query`;
  url.search = '';
  url.hash = '';
  url.searchParams.set('query', query);
  return url;
}

const prometheusAnswer = z.object({
  status: z.string(),
  data: z.object({ resultType: z.string(), result: z.unknown() }).optional(),
  errorType: z.string().optional(),
  error: z.string().optional(),
});

async function prometheusAttempt(url: URL, v: PrometheusVerify, signal: AbortSignal, timeoutMs: number): Promise<Attempt> {
  let answer: Answer;
  try {
    answer = await get(url, signal, timeoutMs, MAX_PROMETHEUS_BYTES, 'application/json');
  } catch (error) {
    return noAnswer(error);
  }
  const status = answer.status;
  const base = { output: answer.body, httpStatus: status, seen: `HTTP ${status}` };
  const mib = MAX_PROMETHEUS_BYTES / 1024 / 1024;
  if (answer.truncated) return { ...base, ok: false, fatal: true, detail: `the answer is larger than ${mib} MiB; narrow the query`, said: [say('verify.promTooLarge', { mib })] };
  let parsed: z.output<typeof prometheusAnswer> | undefined;
  try {
    const result = prometheusAnswer.safeParse(JSON.parse(answer.body));
    parsed = result.success ? result.data : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined) return { ...base, ok: false, detail: `HTTP ${status}, not a Prometheus API answer`, said: [say('verify.promNotApi', { status })] };
  if (parsed.status !== 'success') {
    const errorType = parsed.errorType ?? 'unknown';
    const detail = `HTTP ${status}, Prometheus error ${errorType}: ${parsed.error ?? 'no message'}`;
    // bad_data is a malformed query: asking again gives the same answer.
    return { ...base, ok: false, fatal: parsed.errorType === 'bad_data', detail, said: [say('verify.promError', { status, errorType, error: parsed.error ?? '—' })] };
  }
  const data = parsed.data;
  if (data === undefined || !Array.isArray(data.result) || (data.resultType !== 'vector' && data.resultType !== 'matrix')) {
    const resultType = data?.resultType ?? 'missing';
    return { ...base, ok: false, fatal: true, detail: `the query returns a ${resultType} result, not series (use an instant vector query)`, said: [say('verify.promNotSeries', { resultType })] };
  }
  const series = data.result as unknown[];
  const ok = v.expect === 'empty' ? series.length === 0 : series.length > 0;
  const count = series.length;
  if (count === 0) return { ...base, ok, detail: '0 series', said: [say('verify.promSeries', { count })], seen: '0' };
  const first = seriesLabels(series[0]);
  return { ...base, ok, detail: `${count} series (first: ${first})`, said: [say('verify.promSeriesFirst', { count, first })], seen: `${count} ${first}` };
}

/** `{alertname="X", instance="y"}` for a series in a query answer. */
function seriesLabels(series: unknown): string {
  const metric = (series as { metric?: unknown } | null)?.metric;
  if (metric === null || typeof metric !== 'object') return '{}';
  const pairs = Object.entries(metric as Record<string, unknown>).map(([k, val]) => `${k}=${JSON.stringify(String(val))}`);
  const joined = `{${pairs.join(', ')}}`;
  return joined.length > 160 ? `${joined.slice(0, 159)}…}` : joined;
}


// helpers ----------------------------------------------------------------------------------------

async function readLimited(body: AsyncIterable<Buffer>, limit: number): Promise<{ body: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    // Leaving the loop destroys the stream, so the rest is never downloaded.
    if (size > limit) break;
  }
  return { body: Buffer.concat(chunks).subarray(0, limit).toString('utf8'), truncated: size > limit };
}

/** ECONNREFUSED, ENOTFOUND, UND_ERR_…, looking inside AggregateError; else the message. */
function errorCode(error: unknown): string {
  const first = error instanceof AggregateError && error.errors.length > 0 ? (error.errors[0] as unknown) : error;
  for (const candidate of [error, first]) {
    const code = (candidate as { code?: unknown } | null)?.code;
    if (typeof code === 'string') return code;
  }
  return error instanceof Error ? error.message : String(error);
}
