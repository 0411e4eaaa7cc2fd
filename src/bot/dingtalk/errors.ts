import { ChatDeliveryError } from '../../core/ports/chat-platform.js';

/**
 * DingTalk's rate-limit answers. The robot may send 20 messages a minute; beyond that DingTalk
 * answers errcode 130101 ("send too fast") and blocks the robot for 10 minutes, during which it
 * answers 660026. The open API (api.dingtalk.com) answers HTTP 429, or a `code` naming a QPS or
 * flow-control limit.
 */
export const DINGTALK_RATE_LIMITED = new Set([130101, 660026]);
export const DINGTALK_BLOCK_MS = 10 * 60_000;
const THROTTLED_CODE = /throttl|qpslimit|flowcontrol|ratelimit/i;

/** What the open API answers on failure: `{code, message}` (api.dingtalk.com) or `{errcode, errmsg}` (oapi and the webhook robot). */
export interface DingTalkAnswer {
  status: number;
  body: Record<string, unknown>;
  retryAfterSeconds?: number | undefined;
}

/** Answers retrying the same call cannot fix: credentials, permissions, parameters, unknown chats or users. */
const PERMANENT_STATUS = new Set([400, 401, 403, 404]);

/** Turns a failed DingTalk answer into a ChatDeliveryError that says whether and when to retry. */
export function answerError(operation: string, answer: DingTalkAnswer): ChatDeliveryError {
  const { status, body } = answer;
  const code = typeof body.code === 'string' ? body.code : undefined;
  const errcode = typeof body.errcode === 'number' ? body.errcode : undefined;
  const message = typeof body.message === 'string' ? body.message : typeof body.errmsg === 'string' ? body.errmsg : '';
  const what = `DingTalk ${operation}: ${status} ${code ?? errcode ?? ''} ${message}`.trim();
  if (errcode !== undefined && DINGTALK_RATE_LIMITED.has(errcode)) return new ChatDeliveryError(what, { retryAfterMs: DINGTALK_BLOCK_MS });
  if (status === 429 || (code !== undefined && THROTTLED_CODE.test(code))) {
    return new ChatDeliveryError(what, { retryAfterMs: Math.max(1, answer.retryAfterSeconds ?? 60) * 1000 });
  }
  if (status >= 500) return new ChatDeliveryError(what, {});
  const gone = status === 404 || (code !== undefined && /notexist|notfound/i.test(code));
  return new ChatDeliveryError(what, { permanent: gone || PERMANENT_STATUS.has(status) || errcode !== undefined, messageGone: gone, refused: true });
}

/** A network failure or timeout: DingTalk may or may not have done the call. */
export function transportError(operation: string, error: unknown): ChatDeliveryError {
  if (error instanceof ChatDeliveryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ChatDeliveryError(`DingTalk ${operation}: ${message}`, {}, { cause: error });
}
