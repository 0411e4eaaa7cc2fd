import { ChatDeliveryError } from '../../core/ports/chat-platform.js';

/** Slack answers that retrying the same call cannot fix. */
const PERMANENT = new Set([
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'msg_blocks_too_long',
  'no_text',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'missing_scope',
  'message_not_found',
  'cant_update_message',
]);

/**
 * Answers after which the call may have been done anyway: Slack says "it's possible some aspect of
 * the operation succeeded before the error was raised". Every other `ok:false` answer is a refusal.
 */
const MAYBE_DONE = new Set(['internal_error', 'fatal_error', 'service_unavailable']);

interface SlackLikeError {
  code?: string;
  retryAfter?: number;
  data?: { error?: string };
  message?: string;
}

/** Turns a WebClient error into a ChatDeliveryError that says whether and when to retry. */
export function toDeliveryError(operation: string, error: unknown): ChatDeliveryError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SlackLikeError;
  const slackError = e.data?.error;
  if (e.code === 'slack_webapi_rate_limited_error') {
    return new ChatDeliveryError(`Slack ${operation}: rate limited`, { retryAfterMs: (e.retryAfter ?? 1) * 1000 }, { cause: error });
  }
  if (slackError) {
    return new ChatDeliveryError(
      `Slack ${operation}: ${slackError}`,
      { permanent: PERMANENT.has(slackError), messageGone: slackError === 'message_not_found', refused: !MAYBE_DONE.has(slackError) },
      { cause: error },
    );
  }
  // Timeouts, reset connections, HTTP 5xx: Slack may or may not have done the call.
  return new ChatDeliveryError(`Slack ${operation}: ${e.message ?? String(error)}`, {}, { cause: error });
}
