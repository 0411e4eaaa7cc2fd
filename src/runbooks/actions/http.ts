import { loadUndici } from './lazy-clients.js';
import { quoteValue } from '../param-value.js';
import type { HttpStepFields as HttpStep } from '../step-schema.js';
import { renderTemplate } from '../template.js';
import { applyExpectations, keepPatterns } from './checks.js';
import { formatDuration, fullOutput, shownOutput } from './output.js';
import type { ActionContext, StepResult } from './types.js';

/** Body read for `bodyContains` and the output tail; the rest is never downloaded. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * The rendered URL, parsed, when it is http or https; `undefined` otherwise. Checked on the
 * rendered text because params fill it in: a label must not turn a health check into `file:` or a
 * different kind of request.
 */
export function parseHttpUrl(rendered: string): URL | undefined {
  if (!URL.canParse(rendered)) return undefined;
  const url = new URL(rendered);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
}

/** Seconds the request may take, all of it: connecting, headers and the body read. */
export function httpTimeoutSeconds(step: HttpStep): number {
  return step.with.timeoutSeconds ?? step.timeoutSeconds;
}

/** Makes the step's request and checks its status (and optionally its body). Redirects are not followed. */
export async function runHttp(step: HttpStep, params: Record<string, string>, ctx: ActionContext): Promise<StepResult> {
  const rendered = renderTemplate(step.with.url, params);
  const url = parseHttpUrl(rendered);
  if (url === undefined) {
    return { status: 'failed', summary: ctx.redact(`not an http(s) URL: ${quoteValue(rendered, 200)}`), durationMs: 0, outputTail: '' };
  }

  const timeoutSeconds = httpTimeoutSeconds(step);
  const timeoutMs = timeoutSeconds * 1000;
  // headersTimeout/bodyTimeout are idle timeouts; the timeout signal bounds the request as a whole.
  const timeout = AbortSignal.timeout(timeoutMs);
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  try {
    const { request } = await loadUndici();
    const response = await request(url, {
      method: step.with.method,
      signal: AbortSignal.any([ctx.signal, timeout]),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const body = await readLimited(response.body as AsyncIterable<Buffer>, MAX_BODY_BYTES);
    const durationMs = elapsed();
    const httpStatus = response.statusCode;
    const full = fullOutput(body, ctx.redact);
    const shown = shownOutput(full, keepPatterns(step.keep));
    const base = { httpStatus, durationMs, outputTail: shown, ...(shown === full ? {} : { output: full }) };
    const head = `HTTP ${httpStatus} in ${formatDuration(durationMs)}`;

    const expected = step.with.expectStatus;
    if (!expected.includes(httpStatus)) return { ...base, status: 'failed', summary: `${head} (expected ${expected.join(' or ')})`, said: { code: 'http.status', params: { status: httpStatus, tookMs: durationMs, expected: expected.join('/') } } };
    const wanted = step.with.bodyContains;
    if (wanted !== undefined && !body.includes(wanted)) {
      return { ...base, status: 'failed', summary: `${head}, but the body does not contain ${quoteValue(wanted)}`, said: { code: 'http.body', params: { status: httpStatus, tookMs: durationMs, wanted: quoteValue(wanted) } } };
    }
    return applyExpectations({ ...base, status: 'succeeded', summary: head, said: { code: 'http.ok', params: { status: httpStatus, tookMs: durationMs } } }, full, step.expect);
  } catch (error) {
    const durationMs = elapsed();
    const code = errorCode(error);
    if (timeout.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return { status: 'timed_out', summary: `timed out after ${timeoutSeconds}s`, said: { code: 'timedOut', params: { seconds: timeoutSeconds } }, durationMs, outputTail: '' };
    }
    if (ctx.signal.aborted) return { status: 'failed', summary: `cancelled after ${formatDuration(durationMs)}`, said: { code: 'cancelled', params: { tookMs: durationMs } }, durationMs, outputTail: '' };
    return { status: 'failed', summary: ctx.redact(`request failed: ${code}`), said: { code: 'http.failed', params: { error: ctx.redact(String(code)) } }, durationMs, outputTail: '' };
  }
}

/** Reads up to `limit` bytes as UTF-8. Leaving the loop early destroys the stream, dropping the rest. */
async function readLimited(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) break;
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** The error's code (ECONNREFUSED, ENOTFOUND, UND_ERR_…), looking inside AggregateError, else its message. */
function errorCode(error: unknown): string {
  const first = error instanceof AggregateError && error.errors.length > 0 ? (error.errors[0] as unknown) : error;
  for (const candidate of [error, first]) {
    const code = (candidate as { code?: unknown } | null)?.code;
    if (typeof code === 'string') return code;
  }
  return error instanceof Error ? error.message : String(error);
}
