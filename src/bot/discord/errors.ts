import { DiscordAPIError, HTTPError, RateLimitError } from '@discordjs/rest';
import { ChatDeliveryError } from '../../core/ports/chat-platform.js';

/** Discord JSON error codes (discord.com/developers/docs/topics/opcodes-and-status-codes#json). */
export const DISCORD_ERROR = {
  unknownChannel: 10003,
  unknownGuild: 10004,
  unknownMessage: 10008,
  unknownMember: 10007,
  unknownUser: 10013,
  unknownWebhook: 10015,
  unknownInteraction: 10062,
  missingAccess: 50001,
  cannotSendToUser: 50007,
  cannotSendEmptyMessage: 50006,
  missingPermissions: 50013,
  invalidFormBody: 50035,
  threadAlreadyCreated: 160004,
} as const;

/** Answers that retrying the same call cannot fix (besides any 401, 403 and 404). */
const PERMANENT_CODES = new Set<number>([
  DISCORD_ERROR.unknownChannel,
  DISCORD_ERROR.unknownGuild,
  DISCORD_ERROR.unknownMember,
  DISCORD_ERROR.unknownUser,
  DISCORD_ERROR.unknownWebhook,
  DISCORD_ERROR.unknownInteraction,
  DISCORD_ERROR.missingAccess,
  DISCORD_ERROR.cannotSendToUser,
  DISCORD_ERROR.cannotSendEmptyMessage,
  DISCORD_ERROR.missingPermissions,
  DISCORD_ERROR.invalidFormBody,
]);

/** When Discord gives no usable delay, come back after a second (the outbox backs off further). */
const DEFAULT_RETRY_MS = 1000;

const positive = (n: unknown): number | undefined => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined);

/** The Discord error code of a failed call, if it was an API error. */
export function discordErrorCode(error: unknown): number | undefined {
  return error instanceof DiscordAPIError && typeof error.code === 'number' ? error.code : undefined;
}

/**
 * Turns an @discordjs/rest error into a ChatDeliveryError that says whether and when to retry:
 * rate limits carry `retryAfterMs`; malformed bodies, missing access and unknown channels are
 * permanent; an unknown message is `messageGone`; 5xx, timeouts and network errors are transient.
 */
export function toDeliveryError(operation: string, error: unknown): ChatDeliveryError {
  if (error instanceof ChatDeliveryError) return error;
  if (error instanceof RateLimitError) {
    // Thrown by rejectOnRateLimit: retryAfter (ms) from Retry-After, or the bucket's reset time.
    const retryAfterMs = Math.ceil(positive(error.retryAfter) ?? positive(error.timeToReset) ?? DEFAULT_RETRY_MS);
    return new ChatDeliveryError(`Discord ${operation}: rate limited${error.global ? ' (global)' : ''}`, { retryAfterMs }, { cause: error });
  }
  if (error instanceof DiscordAPIError) {
    const code = typeof error.code === 'number' ? error.code : undefined;
    const what = `Discord ${operation}: ${error.status} ${code ?? error.code} ${error.message}`;
    if (error.status === 429) {
      const seconds = positive((error.rawError as { retry_after?: unknown }).retry_after);
      return new ChatDeliveryError(what, { retryAfterMs: seconds !== undefined ? Math.ceil(seconds * 1000) : DEFAULT_RETRY_MS }, { cause: error });
    }
    if (code === DISCORD_ERROR.unknownMessage) return new ChatDeliveryError(what, { permanent: true, messageGone: true }, { cause: error });
    const permanent = (code !== undefined && PERMANENT_CODES.has(code)) || error.status === 400 || error.status === 401 || error.status === 403 || error.status === 404;
    return new ChatDeliveryError(what, { permanent }, { cause: error });
  }
  if (error instanceof HTTPError) {
    // 5xx after the client's own retries: Discord is having trouble, try again later.
    return new ChatDeliveryError(`Discord ${operation}: HTTP ${error.status}`, { permanent: false }, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  // Timeouts (AbortError), refused or reset connections, DNS failures: transient.
  return new ChatDeliveryError(`Discord ${operation}: ${message}`, {}, { cause: error });
}
