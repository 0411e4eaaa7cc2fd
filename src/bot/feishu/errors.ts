import { ChatDeliveryError } from '../../core/ports/chat-platform.js';

/**
 * Feishu's answers on failure: `{code, msg}` with an HTTP 4xx or 5xx (sometimes an HTTP 200 with a
 * non-zero code). Rate limits are code 99991400 ("request trigger frequency limit"), usually with
 * HTTP 429 and `x-ogw-ratelimit-reset` (seconds until the window resets); a custom bot's webhook
 * answers 11232 ("frequency limited") or 9499.
 */
export const FEISHU_RATE_LIMITED = new Set([99991400, 11232, 9499]);
/** The tenant access token was refused (invalid or expired): a new one fixes it. */
export const FEISHU_TOKEN_REFUSED = new Set([99991661, 99991663, 99991668, 99991677]);
/** The message was recalled or deleted: nothing to update. */
const GONE = new Set([230011, 231003]);

interface AxiosLikeError {
  message?: string;
  code?: string;
  response?: { status?: number; data?: unknown; headers?: Record<string, unknown> };
}

export interface FeishuAnswer {
  status: number;
  code: number | undefined;
  msg: string;
  resetSeconds?: number | undefined;
}

export function answerError(operation: string, a: FeishuAnswer): ChatDeliveryError {
  const what = `Feishu ${operation}: ${a.status} ${a.code ?? ''} ${a.msg}`.trim();
  if (a.status === 429 || (a.code !== undefined && FEISHU_RATE_LIMITED.has(a.code))) {
    return new ChatDeliveryError(what, { retryAfterMs: Math.max(1, a.resetSeconds ?? 1) * 1000 });
  }
  if (a.status >= 500 || (a.code !== undefined && FEISHU_TOKEN_REFUSED.has(a.code))) return new ChatDeliveryError(what, {});
  const gone = a.status === 404 || (a.code !== undefined && GONE.has(a.code));
  return new ChatDeliveryError(what, { permanent: true, messageGone: gone, refused: true });
}

/** The Feishu code of a failed call that reached Feishu, if it answered one. */
export function feishuCode(error: unknown): number | undefined {
  const data = (error as AxiosLikeError | undefined)?.response?.data as { code?: unknown } | undefined;
  return typeof data?.code === 'number' ? data.code : undefined;
}

/** Turns what the SDK's HTTP client threw into a ChatDeliveryError. */
export function toDeliveryError(operation: string, error: unknown): ChatDeliveryError {
  if (error instanceof ChatDeliveryError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as AxiosLikeError;
  const res = e.response;
  if (res?.status !== undefined) {
    const body = (typeof res.data === 'object' && res.data !== null ? res.data : {}) as { code?: unknown; msg?: unknown };
    const reset = Number(res.headers?.['x-ogw-ratelimit-reset']);
    return answerError(operation, { status: res.status, code: typeof body.code === 'number' ? body.code : undefined, msg: typeof body.msg === 'string' ? body.msg : '', resetSeconds: Number.isFinite(reset) && reset > 0 ? reset : undefined });
  }
  // Timeouts, refused or reset connections: Feishu may or may not have done the call.
  return new ChatDeliveryError(`Feishu ${operation}: ${e.message ?? String(error)}`, {}, { cause: error });
}
