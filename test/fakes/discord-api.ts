/**
 * A fake Discord REST API (v10) on 127.0.0.1 that answers like the documented one, for the real
 * `@discordjs/rest` client (and discord.js, which uses it):
 *
 *   const discord = await startFakeDiscord({ channels: ['1100000000000000003'] });
 *   const rest = new REST({ api: discord.url }).setToken(discord.token);
 *
 * `url` ends in `/api`; the client appends `/v10/...`. Behaviour mirrored from Discord
 * (discord.com/developers/docs: resources/message, resources/channel, components/reference,
 * interactions/receiving-and-responding, interactions/application-commands, topics/rate-limits,
 * topics/opcodes-and-status-codes; the team's platform notes §3):
 * - `Authorization: Bot <token>` on every route except the interaction webhooks and callbacks;
 *   otherwise 401 `{message:'401: Unauthorized', code:0}`.
 * - Errors are JSON `{message, code}`; 400 Invalid Form Body (50035) carries `errors`, nested by
 *   field path with `_errors: [{code, message}]` leaves, e.g.
 *   `{embeds: {'0': {title: {_errors: [{code:'BASE_TYPE_MAX_LENGTH', message:'Must be 256 or fewer in length.'}]}}}}`.
 *   BASE_TYPE_*, MAX_EMBED_SIZE_EXCEEDED, COMPONENT_CUSTOM_ID_DUPLICATED, COMPONENT_LAYOUT_WIDTH_EXCEEDED
 *   and APPLICATION_COMMAND_INVALID_NAME are codes Discord uses; Discord documents no code for a link
 *   button carrying a custom_id, so BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED is our own, and FAKE_*
 *   codes mark things the fake does not model. Tests should assert on the path, not the wording.
 * - Characters are counted as Unicode code points, as Discord does.
 * - Ids are snowflakes; a path id that is not one answers 404 like an unknown route.
 * - Message create, message edit and thread start are rate limited per channel (each its own
 *   bucket): a token bucket `burst` deep refilled at `perChannelPerSecond` (default 5 per 5 s).
 *   Successes carry `X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`; a refusal is 429 with
 *   `Retry-After` (whole seconds, rounded up), `X-RateLimit-Scope: user` and
 *   `{message:'You are being rate limited.', retry_after:<float seconds>, global:false}`.
 * - Message create honours `nonce` (a string of at most 25 characters, or an integer) with
 *   `enforce_nonce: true`: a create with a nonce the bot used in the last 2 minutes answers the
 *   message made then (200, nothing new is posted), as Discord does "for a few minutes".
 * - Interaction follow-ups (`/webhooks/{app}/{token}`) need no bot token but a token registered
 *   with `registerInteraction()` and younger than 15 minutes; else 404 Unknown Webhook (10015).
 *   The fake cannot see what the app answered over HTTP, so `registerInteraction` is told what
 *   `@original` means: the clicked message (after a type 6/7 answer) or a separate response.
 * - Not modelled: file uploads (multipart bodies answer 400), Components V2 (flag 32768 answers
 *   400), the global 50 requests/s limit, archived threads, permissions.
 */
import { createHash } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_APPLICATION_ID,
  DEFAULT_BOT_USERNAME,
  DEFAULT_GUILD_ID,
  DEFAULT_MEMBERS,
  EPHEMERAL_FLAG,
  nextSnowflake,
  type FakeMember,
  type JsonObject,
} from './discord-signing.js';

export type { FakeMember, JsonObject } from './discord-signing.js';
export { DEFAULT_APPLICATION_ID, DEFAULT_GUILD_ID, DEFAULT_MEMBERS, DEFAULT_ROLE_IDS } from './discord-signing.js';

export const DEFAULT_TOKEN = 'fake-bot-token';

/** Limits enforced by the fake (Discord's documented ones). */
export const DISCORD_API_LIMITS = {
  content: 2000,
  embeds: 10,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  embedFieldName: 256,
  embedFieldValue: 1024,
  embedFooterText: 2048,
  embedAuthorName: 256,
  /** Title, description, field names and values, footer text and author name across all embeds. */
  embedsTotal: 6000,
  actionRows: 5,
  rowComponents: 5,
  customId: 100,
  buttonLabel: 80,
  buttonUrl: 512,
  selectOptions: 25,
  selectPlaceholder: 150,
  selectOptionText: 100,
  threadName: 100,
  commands: 100,
  commandName: 32,
  commandDescription: 100,
  commandOptions: 25,
  optionChoices: 25,
  /** Interaction tokens stay valid this long for follow-ups. */
  interactionTokenTtlMs: 15 * 60 * 1000,
  /** The initial interaction response must come this soon. */
  interactionResponseMs: 3000,
  nonce: 25,
  /** How long an enforced nonce finds the message it made (Discord says "the past few minutes"). */
  enforcedNonceMs: 2 * 60 * 1000,
} as const;

export const THREAD_ARCHIVE_DURATIONS = [60, 1440, 4320, 10080] as const;
/** Message flag set on a message a thread was started from. */
export const HAS_THREAD_FLAG = 32;
export const SUPPRESS_EMBEDS_FLAG = 4;
export const SUPPRESS_NOTIFICATIONS_FLAG = 4096;
/** Flags an interaction response or follow-up may set. */
const INTERACTION_FLAGS = SUPPRESS_EMBEDS_FLAG | SUPPRESS_NOTIFICATIONS_FLAG | EPHEMERAL_FLAG;
/** Components V2 message flag (not modelled). */
export const IS_COMPONENTS_V2_FLAG = 32768;
/** Discord's JSON error codes the fake answers with. */
export const DISCORD_ERROR = {
  unknownChannel: 10003,
  unknownGuild: 10004,
  unknownMember: 10007,
  unknownMessage: 10008,
  unknownUser: 10013,
  unknownWebhook: 10015,
  unknownInteraction: 10062,
  missingAccess: 50001,
  emptyMessage: 50006,
  cannotSendToUser: 50007,
  wrongChannelType: 50024,
  invalidFormBody: 50035,
  invalidJson: 50109,
  alreadyAcknowledged: 40060,
  threadAlreadyCreated: 160004,
} as const;

export interface RateLimitOptions {
  /** Sustained rate per channel and bucket (default 1, i.e. 5 per 5 s with the default burst). */
  perChannelPerSecond?: number;
  /** Bucket size: how many requests may go back to back (default 5). */
  burst?: number;
}

export interface FakeDiscordOptions {
  /** The bot token the fake accepts (default `fake-bot-token`). */
  token?: string;
  /** Application id, also the bot user's id (default `1100000000000000001`). */
  applicationId?: string;
  /** The one guild the bot is in (default `1100000000000000002`). */
  guildId?: string;
  /** Guild members by user id (default DEFAULT_MEMBERS). */
  members?: Record<string, FakeMember>;
  /** When given, other channel ids answer 404 Unknown Channel (threads and DMs the fake made are known). */
  channels?: string[];
  /** `false` disables the per-channel rate limits. */
  rateLimit?: false | RateLimitOptions;
  /** The bot user's username (default `incident-bot`). */
  botUsername?: string;
}

export interface RecordedCall {
  method: string;
  /** Route template, e.g. `/channels/:id/messages` (the raw path when no route matched). */
  route: string;
  /** Path after `/api/v10`, without the query. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON body (undefined when there was none or it was not JSON). */
  body: unknown;
  /** HTTP status answered. */
  status: number;
  /** The JSON answered (undefined for 204). */
  response: unknown;
  /** Response headers the fake set (lower-case names). */
  responseHeaders: Record<string, string>;
  /** Date.now() when the request arrived. */
  at: number;
  /** Whether the answer came from failNext(). */
  injected: boolean;
}

export interface MessageVersion {
  content: string;
  embeds: JsonObject[];
  components: JsonObject[];
  flags: number;
  allowed_mentions?: unknown;
  at: number;
}

export interface Pinged {
  users: string[];
  roles: string[];
  everyone: boolean;
}

export interface StoredMessage {
  id: string;
  /** The channel, thread or DM channel the message is in. */
  channel_id: string;
  guild_id?: string;
  content: string;
  embeds: JsonObject[];
  components: JsonObject[];
  flags: number;
  tts: boolean;
  /** `allowed_mentions` exactly as the last create/edit request sent it (undefined when left out). */
  allowed_mentions?: unknown;
  /** Who the content notifies, given allowed_mentions (mentions in embeds never ping). */
  pinged: Pinged;
  message_reference?: unknown;
  nonce?: unknown;
  /** Position in a thread (thread messages only). */
  position?: number;
  /** Set on interaction responses and follow-ups: the application id. */
  webhook_id?: string;
  postedAt: number;
  /** Date.now() of the last edit. */
  updatedAt?: number;
  /** Earlier versions, oldest first (one per edit). */
  history: MessageVersion[];
  /** The id of the thread started from this message (= this id). */
  threadId?: string;
}

export interface FollowUpMessage extends StoredMessage {
  /** The interaction token it was sent with. */
  token: string;
  ephemeral: boolean;
}

export interface StoredThread {
  id: string;
  parent_id: string;
  guild_id?: string;
  name: string;
  auto_archive_duration: number;
  createdAt: number;
  message_count: number;
  total_message_sent: number;
  last_message_id: string | null;
}

export interface StoredCommand extends JsonObject {
  id: string;
  application_id: string;
  version: string;
  type: number;
  name: string;
  description: string;
  guild_id?: string;
}

export interface RegisterInteractionOptions {
  /** The interaction's id, checked by the callback route when given. */
  interactionId?: string;
  channelId?: string;
  /** For component interactions: the message the clicked component is on. */
  messageId?: string;
  /**
   * How the app answered over HTTP (the fake cannot see that answer). With 6/7, or by default when
   * `messageId` is given, `@original` is the clicked message; with 4/5 it is a separate response.
   * When given, the interaction counts as acknowledged (the callback route answers 40060).
   */
  initialResponse?: 4 | 5 | 6 | 7 | 9;
  /** Date.now() when Discord issued the token (default now). */
  createdAt?: number;
}

export interface InteractionResponse {
  interactionId: string;
  token: string;
  type: number;
  data?: unknown;
  at: number;
}

export interface InjectedFailure {
  status: number;
  /** Seconds (may be fractional): `retry_after` of the body; `Retry-After` is it rounded up. Default 1 for 429. */
  retryAfter?: number;
  /** For 429: a global rate limit (`X-RateLimit-Global`, scope `global`). */
  global?: boolean;
  /** JSON body; defaults to Discord's rate limit body for 429 and `{message:'<status>: <text>', code:0}` otherwise. */
  body?: object;
}

export interface FakeDiscord {
  /** `http://127.0.0.1:PORT/api`, for `new REST({ api })`. */
  readonly url: string;
  readonly token: string;
  readonly applicationId: string;
  readonly guildId: string;
  /** Every request, in arrival order, including refused ones. */
  readonly calls: RecordedCall[];
  /** How many requests the rate limiter answered 429 (injected 429s not included). */
  readonly rateLimited: number;
  readonly threads: Map<string, StoredThread>;
  /** Answers received on `POST /interactions/{id}/{token}/callback`. */
  readonly interactionResponses: InteractionResponse[];
  /** Calls of one route key, e.g. `POST /channels/:id/messages`. */
  callsTo(routeKey: string): RecordedCall[];
  /** Messages posted straight into a channel (not into its threads), in posting order. */
  messages(channelId: string): StoredMessage[];
  /** Messages posted in a thread, in posting order. */
  thread(threadId: string): StoredMessage[];
  /** Any stored channel, thread or DM message by id (follow-ups and originals: see below). */
  message(id: string): StoredMessage | undefined;
  /** All channel, thread and DM messages, in posting order. */
  allMessages(): StoredMessage[];
  /** Interaction follow-ups (all, or those of one token), in posting order. */
  followUps(token?: string): FollowUpMessage[];
  /** The interaction's own original response (type 4/5 answers edited via `@original`). */
  original(token: string): StoredMessage | undefined;
  /** Registered commands: global, or of a guild. */
  commands(guildId?: string): StoredCommand[];
  /** The DM channel id the fake opened for a user, if any. */
  dmChannel(userId: string): string | undefined;
  /** Makes `token` valid for follow-ups (15 min) and callbacks (3 s) from `createdAt`. */
  registerInteraction(token: string, opts?: RegisterInteractionOptions): void;
  /** The next `n` calls matching `routeKey` (`POST /channels/:id/messages`, or with a literal path) fail. */
  failNext(routeKey: string, n: number, failure: InjectedFailure): void;
  /** Replace the rate limit settings (`false` off, `true` defaults); resets the buckets. */
  setRateLimit(rateLimit: boolean | RateLimitOptions): void;
  addMember(userId: string, member: FakeMember): void;
  /** Make a channel id known (only matters when `channels` was given). */
  addChannel(channelId: string): void;
  /** Polls `predicate` every 10 ms until it returns a truthy value, which is returned. */
  waitFor<T>(predicate: () => T, timeoutMs?: number, description?: string): Promise<NonNullable<T>>;
  /** Forget calls, messages, threads, DMs, follow-ups, interactions, commands and injected failures. */
  reset(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Error bodies

interface Reply {
  status: number;
  /** Undefined for 204. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FormError {
  code: string;
  message: string;
}

const E = {
  required: (): FormError => ({ code: 'BASE_TYPE_REQUIRED', message: 'This field is required' }),
  maxLength: (max: number): FormError => ({ code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${max} or fewer in length.` }),
  badLength: (min: number, max: number): FormError => ({
    code: 'BASE_TYPE_BAD_LENGTH',
    message: `Must be between ${min} and ${max} in length.`,
  }),
  choices: (choices: Iterable<number | string>): FormError => ({
    code: 'BASE_TYPE_CHOICES',
    message: `Value must be one of (${[...choices].join(', ')}).`,
  }),
  string: (): FormError => ({ code: 'BASE_TYPE_STRING', message: 'Could not interpret value as string.' }),
  numberMin: (min: number): FormError => ({ code: 'NUMBER_TYPE_MIN', message: `int value should be greater than or equal to ${min}.` }),
  numberMax: (max: number): FormError => ({ code: 'NUMBER_TYPE_MAX', message: `int value should be less than or equal to ${max}.` }),
  integer: (): FormError => ({ code: 'NUMBER_TYPE_COERCE', message: 'Value is not int.' }),
  dict: (): FormError => ({ code: 'DICT_TYPE_CONVERT', message: 'Only dictionaries may be used in a DictType' }),
  list: (): FormError => ({ code: 'LIST_TYPE_CONVERT', message: 'Only iterables may be used in a ListType' }),
  embedSize: (): FormError => ({ code: 'MAX_EMBED_SIZE_EXCEEDED', message: 'Embed size exceeds maximum size of 6000' }),
  duplicateCustomId: (): FormError => ({
    code: 'COMPONENT_CUSTOM_ID_DUPLICATED',
    message: 'Component custom id cannot be duplicated',
  }),
  width: (): FormError => ({
    code: 'COMPONENT_LAYOUT_WIDTH_EXCEEDED',
    message: 'The specified component exceeds the maximum width',
  }),
  linkCustomId: (): FormError => ({
    code: 'BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED',
    message: 'Link buttons cannot have a custom_id',
  }),
  urlNotAllowed: (): FormError => ({
    code: 'BUTTON_COMPONENT_URL_NOT_ALLOWED',
    message: 'Only link buttons can have a url',
  }),
  labelOrEmoji: (): FormError => ({
    code: 'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED',
    message: 'A label or an emoji is required',
  }),
  commandName: (): FormError => ({ code: 'APPLICATION_COMMAND_INVALID_NAME', message: 'Command name is invalid' }),
  duplicateCommand: (): FormError => ({
    code: 'APPLICATION_COMMANDS_DUPLICATE_NAME',
    message: 'Application command names must be unique',
  }),
  parseExclusive: (type: string): FormError => ({
    code: 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE',
    message: `parse:["${type}"] and ${type}: [ids...] are mutually exclusive.`,
  }),
  unsupported: (what: string): FormError => ({ code: 'FAKE_UNSUPPORTED', message: `${what} is not modelled by the fake Discord API` }),
};

type PathSeg = string | number;

/** Collects form errors into Discord's nested `{a: {'0': {b: {_errors: [...]}}}}` shape. */
class FormErrors {
  readonly tree: JsonObject = {};
  count = 0;
  /** `prefix` is put before every path (e.g. `['data']` for interaction callbacks). */
  constructor(private readonly prefix: PathSeg[] = []) {}
  add(path: PathSeg[], error: FormError): void {
    let node = this.tree;
    for (const seg of [...this.prefix, ...path]) {
      const key = String(seg);
      const next = node[key];
      if (isObject(next)) node = next;
      else {
        const fresh: JsonObject = {};
        node[key] = fresh;
        node = fresh;
      }
    }
    const list = Array.isArray(node._errors) ? (node._errors as FormError[]) : [];
    list.push(error);
    node._errors = list;
    this.count += 1;
  }
}

const jsonError = (status: number, code: number, message: string, extra: JsonObject = {}): Reply => ({
  status,
  body: { message, code, ...extra },
});
const formBody = (errors: FormErrors): Reply =>
  jsonError(400, DISCORD_ERROR.invalidFormBody, 'Invalid Form Body', { errors: errors.tree });
const formError = (path: PathSeg[], error: FormError): Reply => {
  const errors = new FormErrors();
  errors.add(path, error);
  return formBody(errors);
};
const httpError = (status: number): Reply => jsonError(status, 0, `${status}: ${STATUS_CODES[status] ?? 'Error'}`);
const unknown = (what: 'Channel' | 'Guild' | 'Member' | 'Message' | 'User' | 'Webhook', code: number): Reply =>
  jsonError(404, code, `Unknown ${what}`);
const emptyMessage = (): Reply => jsonError(400, DISCORD_ERROR.emptyMessage, 'Cannot send an empty message');
const ok = (body: unknown, status = 200): Reply => ({ status, body });

// ---------------------------------------------------------------------------------------------
// Helpers

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Length in Unicode code points, as Discord counts. */
function chars(s: string): number {
  let n = 0;
  for (const _ of s) n += 1;
  return n;
}

const isSnowflake = (s: string): boolean => /^\d{1,20}$/.test(s) && BigInt(s) < 2n ** 64n;

function isoTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const bucketHash = (name: string): string => createHash('sha1').update(`fake-discord:${name}`).digest('hex').slice(0, 32);

/** Who a message's content pings, given allowed_mentions (documented defaults: all, when absent). */
function pingsOf(content: string, allowed: unknown): Pinged {
  const users = [...new Set([...content.matchAll(/<@!?(\d+)>/g)].map((m) => m[1] ?? ''))];
  const roles = [...new Set([...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1] ?? ''))];
  const everyone = /@(everyone|here)\b/.test(content);
  if (!isObject(allowed)) return { users, roles, everyone };
  const parse = Array.isArray(allowed.parse) ? allowed.parse : [];
  const listed = (key: string): string[] => (Array.isArray(allowed[key]) ? (allowed[key] as unknown[]).map(String) : []);
  return {
    users: parse.includes('users') ? users : users.filter((u) => listed('users').includes(u)),
    roles: parse.includes('roles') ? roles : roles.filter((r) => listed('roles').includes(r)),
    everyone: everyone && parse.includes('everyone'),
  };
}

// ---------------------------------------------------------------------------------------------
// Message validation (create / edit / follow-ups)

const BUTTON_STYLES = [1, 2, 3, 4, 5] as const;
const SELECT_TYPES = new Set([3, 5, 6, 7, 8]);

function checkString(
  errors: FormErrors,
  path: PathSeg[],
  v: unknown,
  max: number,
  opts: { required?: boolean; min?: number } = {},
): string | undefined {
  if (v === undefined || v === null) {
    if (opts.required) errors.add(path, E.required());
    return undefined;
  }
  if (typeof v !== 'string') {
    errors.add(path, E.string());
    return undefined;
  }
  const n = chars(v);
  const min = opts.min ?? 0;
  if (n < min || n > max) errors.add(path, min > 0 ? E.badLength(min, max) : E.maxLength(max));
  return v;
}

function validateEmbeds(errors: FormErrors, embeds: unknown): void {
  if (embeds === undefined || embeds === null) return;
  if (!Array.isArray(embeds)) {
    errors.add(['embeds'], E.list());
    return;
  }
  if (embeds.length > DISCORD_API_LIMITS.embeds) errors.add(['embeds'], E.maxLength(DISCORD_API_LIMITS.embeds));
  let total = 0;
  const count = (s: string | undefined): void => {
    if (s !== undefined) total += chars(s);
  };
  embeds.forEach((embed, i) => {
    const p: PathSeg[] = ['embeds', i];
    if (!isObject(embed)) {
      errors.add(p, E.dict());
      return;
    }
    count(checkString(errors, [...p, 'title'], embed.title, DISCORD_API_LIMITS.embedTitle));
    count(checkString(errors, [...p, 'description'], embed.description, DISCORD_API_LIMITS.embedDescription));
    if (embed.fields !== undefined && embed.fields !== null) {
      if (!Array.isArray(embed.fields)) errors.add([...p, 'fields'], E.list());
      else {
        if (embed.fields.length > DISCORD_API_LIMITS.embedFields) {
          errors.add([...p, 'fields'], E.maxLength(DISCORD_API_LIMITS.embedFields));
        }
        embed.fields.forEach((field, j) => {
          const fp: PathSeg[] = [...p, 'fields', j];
          if (!isObject(field)) {
            errors.add(fp, E.dict());
            return;
          }
          count(checkString(errors, [...fp, 'name'], field.name, DISCORD_API_LIMITS.embedFieldName, { required: true, min: 1 }));
          count(checkString(errors, [...fp, 'value'], field.value, DISCORD_API_LIMITS.embedFieldValue, { required: true, min: 1 }));
        });
      }
    }
    if (embed.footer !== undefined && embed.footer !== null) {
      if (!isObject(embed.footer)) errors.add([...p, 'footer'], E.dict());
      else {
        count(
          checkString(errors, [...p, 'footer', 'text'], embed.footer.text, DISCORD_API_LIMITS.embedFooterText, {
            required: true,
            min: 1,
          }),
        );
      }
    }
    if (embed.author !== undefined && embed.author !== null) {
      if (!isObject(embed.author)) errors.add([...p, 'author'], E.dict());
      else {
        count(
          checkString(errors, [...p, 'author', 'name'], embed.author.name, DISCORD_API_LIMITS.embedAuthorName, {
            required: true,
            min: 1,
          }),
        );
      }
    }
  });
  if (total > DISCORD_API_LIMITS.embedsTotal) errors.add(['embeds'], E.embedSize());
}

function validateComponents(errors: FormErrors, components: unknown): void {
  if (components === undefined || components === null) return;
  if (!Array.isArray(components)) {
    errors.add(['components'], E.list());
    return;
  }
  if (components.length > DISCORD_API_LIMITS.actionRows) {
    errors.add(['components'], E.maxLength(DISCORD_API_LIMITS.actionRows));
  }
  const customIds = new Set<string>();
  const checkCustomId = (path: PathSeg[], v: unknown): void => {
    const id = checkString(errors, path, v, DISCORD_API_LIMITS.customId, { required: true, min: 1 });
    if (id === undefined || id.length === 0) return;
    if (customIds.has(id)) errors.add(path, E.duplicateCustomId());
    customIds.add(id);
  };
  components.forEach((row, i) => {
    const rp: PathSeg[] = ['components', i];
    if (!isObject(row)) {
      errors.add(rp, E.dict());
      return;
    }
    if (row.type !== 1) {
      errors.add([...rp, 'type'], E.choices([1]));
      return;
    }
    const children = row.components;
    if (!Array.isArray(children)) {
      errors.add([...rp, 'components'], children === undefined ? E.required() : E.list());
      return;
    }
    if (children.length < 1 || children.length > DISCORD_API_LIMITS.rowComponents) {
      errors.add([...rp, 'components'], E.badLength(1, DISCORD_API_LIMITS.rowComponents));
    }
    const hasSelect = children.some((c) => isObject(c) && typeof c.type === 'number' && SELECT_TYPES.has(c.type));
    if (hasSelect && children.length > 1) errors.add([...rp, 'components'], E.width());
    children.forEach((c, j) => {
      const cp: PathSeg[] = [...rp, 'components', j];
      if (!isObject(c)) {
        errors.add(cp, E.dict());
        return;
      }
      if (c.type === 2) {
        const style = c.style;
        if (typeof style !== 'number' || !(BUTTON_STYLES as readonly number[]).includes(style)) {
          errors.add([...cp, 'style'], style === undefined ? E.required() : E.choices(BUTTON_STYLES));
        }
        checkString(errors, [...cp, 'label'], c.label, DISCORD_API_LIMITS.buttonLabel);
        if ((c.label === undefined || c.label === '') && c.emoji === undefined) errors.add([...cp, 'label'], E.labelOrEmoji());
        if (style === 5) {
          checkString(errors, [...cp, 'url'], c.url, DISCORD_API_LIMITS.buttonUrl, { required: true, min: 1 });
          if (c.custom_id !== undefined) errors.add([...cp, 'custom_id'], E.linkCustomId());
        } else if (typeof style === 'number') {
          checkCustomId([...cp, 'custom_id'], c.custom_id);
          if (c.url !== undefined) errors.add([...cp, 'url'], E.urlNotAllowed());
        }
      } else if (typeof c.type === 'number' && SELECT_TYPES.has(c.type)) {
        checkCustomId([...cp, 'custom_id'], c.custom_id);
        checkString(errors, [...cp, 'placeholder'], c.placeholder, DISCORD_API_LIMITS.selectPlaceholder);
        if (c.type === 3) {
          if (!Array.isArray(c.options)) errors.add([...cp, 'options'], E.required());
          else {
            if (c.options.length < 1 || c.options.length > DISCORD_API_LIMITS.selectOptions) {
              errors.add([...cp, 'options'], E.badLength(1, DISCORD_API_LIMITS.selectOptions));
            }
            c.options.forEach((o, k) => {
              const op: PathSeg[] = [...cp, 'options', k];
              if (!isObject(o)) {
                errors.add(op, E.dict());
                return;
              }
              checkString(errors, [...op, 'label'], o.label, DISCORD_API_LIMITS.selectOptionText, { required: true, min: 1 });
              checkString(errors, [...op, 'value'], o.value, DISCORD_API_LIMITS.selectOptionText, { required: true, min: 1 });
              checkString(errors, [...op, 'description'], o.description, DISCORD_API_LIMITS.selectOptionText);
            });
          }
        }
        // How many options a user picks: min_values 0–25, max_values 1–25 (both default to 1).
        for (const [field, min] of [['min_values', 0], ['max_values', 1]] as const) {
          const n = c[field];
          if (n === undefined) continue;
          if (typeof n !== 'number' || !Number.isInteger(n)) errors.add([...cp, field], E.integer());
          else if (n < min) errors.add([...cp, field], E.numberMin(min));
          else if (n > DISCORD_API_LIMITS.selectOptions) errors.add([...cp, field], E.numberMax(DISCORD_API_LIMITS.selectOptions));
        }
      } else {
        errors.add([...cp, 'type'], E.choices([2, 3, 5, 6, 7, 8]));
      }
    });
  });
}

function validateAllowedMentions(errors: FormErrors, am: unknown): void {
  if (am === undefined || am === null) return;
  if (!isObject(am)) {
    errors.add(['allowed_mentions'], E.dict());
    return;
  }
  const parse = am.parse;
  if (parse !== undefined) {
    if (!Array.isArray(parse)) errors.add(['allowed_mentions', 'parse'], E.list());
    else {
      parse.forEach((v, i) => {
        if (v !== 'users' && v !== 'roles' && v !== 'everyone') {
          errors.add(['allowed_mentions', 'parse', i], E.choices(['roles', 'users', 'everyone']));
        }
      });
      for (const kind of ['users', 'roles'] as const) {
        if (parse.includes(kind) && Array.isArray(am[kind])) errors.add(['allowed_mentions'], E.parseExclusive(kind));
      }
    }
  }
}

/** Field checks shared by create, edit, follow-ups and callbacks (50035 on failure). */
/** A create's nonce as a string (integers count by their digits), the form error of a bad one, or undefined. */
function nonceOf(body: JsonObject): string | FormError | undefined {
  const n = body.nonce;
  if (n === undefined || n === null) return undefined;
  if (typeof n === 'number') return Number.isInteger(n) ? String(n) : E.integer();
  if (typeof n !== 'string') return E.string();
  return [...n].length > DISCORD_API_LIMITS.nonce ? E.maxLength(DISCORD_API_LIMITS.nonce) : n;
}

function validateMessageFields(body: JsonObject, prefix: PathSeg[] = []): FormErrors {
  const errors = new FormErrors(prefix);
  checkString(errors, ['content'], body.content, DISCORD_API_LIMITS.content);
  validateEmbeds(errors, body.embeds);
  validateComponents(errors, body.components);
  validateAllowedMentions(errors, body.allowed_mentions);
  if (body.flags !== undefined && body.flags !== null) {
    if (typeof body.flags !== 'number' || !Number.isInteger(body.flags)) errors.add(['flags'], E.integer());
    else if ((body.flags & IS_COMPONENTS_V2_FLAG) !== 0) errors.add(['flags'], E.unsupported('IS_COMPONENTS_V2'));
  }
  return errors;
}

interface MessageContent {
  content: string;
  embeds: JsonObject[];
  components: JsonObject[];
}

const contentOf = (body: JsonObject): MessageContent => ({
  content: typeof body.content === 'string' ? body.content : '',
  embeds: Array.isArray(body.embeds) ? (body.embeds as JsonObject[]) : [],
  components: Array.isArray(body.components) ? (body.components as JsonObject[]) : [],
});

const isEmpty = (m: MessageContent, body: JsonObject = {}): boolean =>
  m.content.length === 0 &&
  m.embeds.length === 0 &&
  m.components.length === 0 &&
  !(Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0) &&
  !isObject(body.poll);

// ---------------------------------------------------------------------------------------------
// Command validation

const COMMAND_NAME = /^[-_\p{L}\p{N}]{1,32}$/u;

function validateCommandName(errors: FormErrors, path: PathSeg[], name: unknown, chatInput: boolean): string | undefined {
  const n = checkString(errors, path, name, DISCORD_API_LIMITS.commandName, { required: true, min: 1 });
  if (n === undefined || chars(n) < 1 || chars(n) > DISCORD_API_LIMITS.commandName) return n;
  if (chatInput && (!COMMAND_NAME.test(n) || n !== n.toLowerCase())) errors.add(path, E.commandName());
  return n;
}

function validateOptions(errors: FormErrors, path: PathSeg[], options: unknown): void {
  if (options === undefined || options === null) return;
  if (!Array.isArray(options)) {
    errors.add(path, E.list());
    return;
  }
  if (options.length > DISCORD_API_LIMITS.commandOptions) errors.add(path, E.maxLength(DISCORD_API_LIMITS.commandOptions));
  const names = new Set<string>();
  options.forEach((o, i) => {
    const p: PathSeg[] = [...path, i];
    if (!isObject(o)) {
      errors.add(p, E.dict());
      return;
    }
    if (typeof o.type !== 'number' || !Number.isInteger(o.type) || o.type < 1 || o.type > 11) {
      errors.add([...p, 'type'], o.type === undefined ? E.required() : E.choices([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
    }
    const name = validateCommandName(errors, [...p, 'name'], o.name, true);
    if (name !== undefined) {
      if (names.has(name)) errors.add([...p, 'name'], E.duplicateCommand());
      names.add(name);
    }
    checkString(errors, [...p, 'description'], o.description, DISCORD_API_LIMITS.commandDescription, { required: true, min: 1 });
    if (Array.isArray(o.choices) && o.choices.length > DISCORD_API_LIMITS.optionChoices) {
      errors.add([...p, 'choices'], E.maxLength(DISCORD_API_LIMITS.optionChoices));
    }
    if (o.type === 1 || o.type === 2) validateOptions(errors, [...p, 'options'], o.options);
  });
}

function validateCommands(list: unknown[]): FormErrors {
  const errors = new FormErrors();
  if (list.length > DISCORD_API_LIMITS.commands) errors.add([], E.maxLength(DISCORD_API_LIMITS.commands));
  const seen = new Set<string>();
  list.forEach((c, i) => {
    if (!isObject(c)) {
      errors.add([i], E.dict());
      return;
    }
    const type = c.type ?? 1;
    if (type !== 1 && type !== 2 && type !== 3 && type !== 4) {
      errors.add([i, 'type'], E.choices([1, 2, 3, 4]));
      return;
    }
    const name = validateCommandName(errors, [i, 'name'], c.name, type === 1);
    if (name !== undefined) {
      const key = `${type}:${name}`;
      if (seen.has(key)) errors.add([i, 'name'], E.duplicateCommand());
      seen.add(key);
    }
    if (type === 1) {
      checkString(errors, [i, 'description'], c.description, DISCORD_API_LIMITS.commandDescription, { required: true, min: 1 });
      validateOptions(errors, [i, 'options'], c.options);
    }
  });
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Routing

interface Ctx {
  method: string;
  params: string[];
  query: URLSearchParams;
  body: unknown;
}

interface RouteDef {
  method: string;
  /** Template with `:id` (a snowflake), `:token` (any segment) and literal segments. */
  pattern: string;
  /** Requires `Authorization: Bot <token>`. */
  auth: boolean;
  /** A JSON object body is expected (arrays for `list`). */
  body?: 'object' | 'list';
  handle: (ctx: Ctx) => Reply;
}

function matchRoute(pattern: string, segments: string[]): string[] | undefined {
  const parts = pattern.split('/').slice(1);
  if (parts.length !== segments.length) return undefined;
  const params: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? '';
    const seg = segments[i] ?? '';
    if (part === ':id') {
      if (!isSnowflake(seg)) return undefined;
      params.push(seg);
    } else if (part === ':token') {
      if (seg.length === 0) return undefined;
      params.push(seg);
    } else if (part !== seg) return undefined;
  }
  return params;
}

interface Bucket {
  tokens: number;
  last: number;
}

interface InteractionRecord {
  token: string;
  interactionId?: string;
  channelId?: string;
  messageId?: string;
  initialResponse?: number;
  createdAt: number;
  acknowledged: boolean;
}

export async function startFakeDiscord(opts: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const token = opts.token ?? DEFAULT_TOKEN;
  const applicationId = opts.applicationId ?? DEFAULT_APPLICATION_ID;
  const guildId = opts.guildId ?? DEFAULT_GUILD_ID;
  const botUsername = opts.botUsername ?? DEFAULT_BOT_USERNAME;
  const members = new Map(Object.entries(opts.members ?? DEFAULT_MEMBERS).map(([id, m]) => [id, { ...m, roles: [...m.roles] }]));
  const channels = opts.channels ? new Set(opts.channels) : undefined;

  let rate: { perSecond: number; burst: number } | undefined;
  const buckets = new Map<string, Bucket>();
  const setRateLimit = (r: boolean | RateLimitOptions | undefined): void => {
    buckets.clear();
    if (r === false) {
      rate = undefined;
      return;
    }
    const o = typeof r === 'object' ? r : {};
    rate = { perSecond: o.perChannelPerSecond ?? 1, burst: o.burst ?? 5 };
  };
  setRateLimit(opts.rateLimit);

  const calls: RecordedCall[] = [];
  /** Messages by the channel (or thread, or DM channel) they are in. */
  const messagesByChannel = new Map<string, StoredMessage[]>();
  const messagesById = new Map<string, StoredMessage>();
  /** Messages created with an enforced nonce, by nonce (every REST create is the bot's). */
  const nonces = new Map<string, StoredMessage>();
  const threads = new Map<string, StoredThread>();
  const dms = new Map<string, string>(); // user id → DM channel id
  const dmUsers = new Map<string, string>(); // DM channel id → user id
  const followUpList: FollowUpMessage[] = [];
  const originals = new Map<string, StoredMessage>();
  const interactions = new Map<string, InteractionRecord>();
  const interactionResponses: InteractionResponse[] = [];
  const commandLists = new Map<string, StoredCommand[]>(); // '' = global
  const failures = new Map<string, Array<{ remaining: number; failure: InjectedFailure }>>();
  let rateLimited = 0;

  const botUser = (): JsonObject => ({
    id: applicationId,
    username: botUsername,
    avatar: null,
    discriminator: '0000',
    public_flags: 524288,
    flags: 524288,
    bot: true,
    banner: null,
    accent_color: null,
    global_name: null,
    avatar_decoration_data: null,
    collectibles: null,
    primary_guild: null,
  });

  const userJson = (id: string, m: FakeMember): JsonObject => ({
    id,
    username: m.username,
    avatar: null,
    discriminator: '0',
    public_flags: 0,
    flags: 0,
    global_name: null,
  });

  const memberJson = (id: string, m: FakeMember): JsonObject => ({
    avatar: null,
    banner: null,
    communication_disabled_until: null,
    flags: 0,
    joined_at: '2024-01-01T00:00:00.000000+00:00',
    nick: m.nick ?? null,
    pending: false,
    premium_since: null,
    roles: [...m.roles],
    unusual_dm_activity_until: null,
    user: userJson(id, m),
    mute: false,
    deaf: false,
  });

  const threadJson = (t: StoredThread): JsonObject => ({
    id: t.id,
    type: 11,
    ...(t.guild_id !== undefined ? { guild_id: t.guild_id } : {}),
    parent_id: t.parent_id,
    owner_id: applicationId,
    name: t.name,
    last_message_id: t.last_message_id,
    message_count: t.message_count,
    member_count: 1,
    rate_limit_per_user: 0,
    flags: 0,
    total_message_sent: t.total_message_sent,
    thread_metadata: {
      archived: false,
      auto_archive_duration: t.auto_archive_duration,
      archive_timestamp: isoTimestamp(t.createdAt),
      locked: false,
      create_timestamp: isoTimestamp(t.createdAt),
    },
    member: { id: t.id, user_id: applicationId, join_timestamp: isoTimestamp(t.createdAt), flags: 1 },
  });

  const messageJson = (m: StoredMessage): JsonObject => {
    const thread = m.threadId !== undefined ? threads.get(m.threadId) : undefined;
    return {
      type: 0,
      content: m.content,
      mentions: m.pinged.users.map((id) => {
        const member = members.get(id);
        return member ? userJson(id, member) : { id, username: `user${id.slice(-4)}`, discriminator: '0', avatar: null, global_name: null };
      }),
      mention_roles: [...m.pinged.roles],
      attachments: [],
      embeds: m.embeds,
      timestamp: isoTimestamp(m.postedAt),
      edited_timestamp: m.updatedAt !== undefined ? isoTimestamp(m.updatedAt) : null,
      flags: m.flags,
      components: m.components,
      id: m.id,
      channel_id: m.channel_id,
      author: botUser(),
      pinned: false,
      mention_everyone: m.pinged.everyone,
      tts: m.tts,
      ...(m.guild_id !== undefined ? { guild_id: m.guild_id } : {}),
      ...(m.webhook_id !== undefined ? { webhook_id: m.webhook_id, application_id: applicationId } : {}),
      ...(m.position !== undefined ? { position: m.position } : {}),
      ...(m.nonce !== undefined ? { nonce: m.nonce } : {}),
      ...(m.message_reference !== undefined ? { message_reference: m.message_reference } : {}),
      ...(thread ? { thread: threadJson(thread) } : {}),
    };
  };

  const channelKnown = (id: string): boolean =>
    !channels || channels.has(id) || threads.has(id) || dmUsers.has(id);

  /** Takes a token from a channel's bucket, or answers 429. Returns headers to send either way. */
  const takeToken = (bucketName: string, channelId: string): { limited?: Reply; headers: Record<string, string> } => {
    if (!rate) return { headers: {} };
    const now = Date.now();
    const key = `${bucketName}:${channelId}`;
    const b = buckets.get(key) ?? { tokens: rate.burst, last: now };
    b.tokens = Math.min(rate.burst, b.tokens + ((now - b.last) / 1000) * rate.perSecond);
    b.last = now;
    buckets.set(key, b);
    const common = { 'x-ratelimit-limit': String(rate.burst), 'x-ratelimit-bucket': bucketHash(bucketName) };
    if (b.tokens >= 1) {
      b.tokens -= 1;
      const resetAfter = (rate.burst - b.tokens) / rate.perSecond;
      return {
        headers: {
          ...common,
          'x-ratelimit-remaining': String(Math.floor(b.tokens)),
          'x-ratelimit-reset': ((now + resetAfter * 1000) / 1000).toFixed(3),
          'x-ratelimit-reset-after': resetAfter.toFixed(3),
        },
      };
    }
    rateLimited += 1;
    const retryAfter = Math.max(0.001, Math.round(((1 - b.tokens) / rate.perSecond) * 1000) / 1000);
    const headers = {
      ...common,
      'retry-after': String(Math.ceil(retryAfter)),
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': ((now + retryAfter * 1000) / 1000).toFixed(3),
      'x-ratelimit-reset-after': retryAfter.toFixed(3),
      'x-ratelimit-scope': 'user',
    };
    return {
      headers,
      limited: { status: 429, headers, body: { message: 'You are being rate limited.', retry_after: retryAfter, global: false } },
    };
  };

  const withHeaders = (r: Reply, headers: Record<string, string>): Reply => ({ ...r, headers: { ...headers, ...r.headers } });

  const storeMessage = (m: StoredMessage): void => {
    const list = messagesByChannel.get(m.channel_id) ?? [];
    list.push(m);
    messagesByChannel.set(m.channel_id, list);
    messagesById.set(m.id, m);
  };

  /** `flagMask`: the flags a sender may set (channel messages: suppress embeds / notifications). */
  const newMessage = (
    channelId: string,
    body: JsonObject,
    extra: Partial<StoredMessage> = {},
    flagMask = SUPPRESS_EMBEDS_FLAG | SUPPRESS_NOTIFICATIONS_FLAG,
  ): StoredMessage => {
    const c = contentOf(body);
    const now = Date.now();
    return {
      id: nextSnowflake(now),
      channel_id: channelId,
      ...c,
      flags: typeof body.flags === 'number' ? body.flags & flagMask : 0,
      tts: body.tts === true,
      ...(body.allowed_mentions !== undefined ? { allowed_mentions: body.allowed_mentions } : {}),
      pinged: pingsOf(c.content, body.allowed_mentions),
      ...(body.message_reference !== undefined ? { message_reference: body.message_reference } : {}),
      ...(body.nonce !== undefined ? { nonce: body.nonce } : {}),
      postedAt: now,
      history: [],
      ...extra,
    };
  };

  /** Applies a PATCH body to a message: omitted fields stay, `null` clears. */
  const editMessage = (m: StoredMessage, body: JsonObject): Reply | undefined => {
    const errors = validateMessageFields(body);
    if (errors.count > 0) return formBody(errors);
    const next: MessageContent = {
      content: body.content === undefined ? m.content : typeof body.content === 'string' ? body.content : '',
      embeds: body.embeds === undefined ? m.embeds : Array.isArray(body.embeds) ? (body.embeds as JsonObject[]) : [],
      components:
        body.components === undefined ? m.components : Array.isArray(body.components) ? (body.components as JsonObject[]) : [],
    };
    if (isEmpty(next)) return emptyMessage();
    m.history.push({
      content: m.content,
      embeds: m.embeds,
      components: m.components,
      flags: m.flags,
      ...(m.allowed_mentions !== undefined ? { allowed_mentions: m.allowed_mentions } : {}),
      at: m.updatedAt ?? m.postedAt,
    });
    Object.assign(m, next);
    // Only SUPPRESS_EMBEDS can be changed by an edit.
    if (typeof body.flags === 'number') m.flags = (m.flags & ~SUPPRESS_EMBEDS_FLAG) | (body.flags & SUPPRESS_EMBEDS_FLAG);
    if (body.allowed_mentions !== undefined) m.allowed_mentions = body.allowed_mentions;
    else delete m.allowed_mentions;
    m.pinged = pingsOf(m.content, body.allowed_mentions);
    m.updatedAt = Date.now();
    return undefined;
  };

  const guildOf = (channelId: string): string | undefined => {
    if (dmUsers.has(channelId)) return undefined;
    return threads.get(channelId)?.guild_id ?? guildId;
  };

  /** The registered interaction of a webhook route, or 404 Unknown Webhook. */
  const webhookInteraction = (appId: string, tok: string): InteractionRecord | Reply => {
    const rec = interactions.get(tok);
    if (appId !== applicationId || !rec || Date.now() - rec.createdAt > DISCORD_API_LIMITS.interactionTokenTtlMs) {
      return unknown('Webhook', DISCORD_ERROR.unknownWebhook);
    }
    return rec;
  };
  const isReply = (r: object): r is Reply => 'status' in r && typeof (r as Reply).status === 'number';

  const originalIsClickedMessage = (rec: InteractionRecord): boolean =>
    rec.messageId !== undefined && (rec.initialResponse === undefined || rec.initialResponse === 6 || rec.initialResponse === 7);

  const commandJson = (c: JsonObject, gid: string | undefined, previous: StoredCommand[]): StoredCommand => {
    const type = typeof c.type === 'number' ? c.type : 1;
    const name = String(c.name);
    const same = previous.find((p) => p.name === name && p.type === type);
    return {
      ...c,
      id: same?.id ?? nextSnowflake(),
      application_id: applicationId,
      version: nextSnowflake(),
      type,
      name,
      description: typeof c.description === 'string' ? c.description : '',
      default_member_permissions: c.default_member_permissions ?? null,
      nsfw: c.nsfw === true,
      ...(gid !== undefined ? { guild_id: gid } : {}),
    };
  };

  const putCommands = (gid: string | undefined, list: unknown[]): Reply => {
    const errors = validateCommands(list);
    if (errors.count > 0) return formBody(errors);
    const key = gid ?? '';
    const previous = commandLists.get(key) ?? [];
    const stored = (list as JsonObject[]).map((c) => commandJson(c, gid, previous));
    commandLists.set(key, stored);
    return ok(stored);
  };

  const routes: RouteDef[] = [
    {
      method: 'GET',
      pattern: '/users/@me',
      auth: true,
      handle: () => ok(botUser()),
    },
    {
      method: 'POST',
      pattern: '/channels/:id/messages',
      auth: true,
      body: 'object',
      handle: ({ params: [cid = ''], body }) => {
        if (!channelKnown(cid)) return unknown('Channel', DISCORD_ERROR.unknownChannel);
        const limit = takeToken('messages:create', cid);
        if (limit.limited) return limit.limited;
        const b = body as JsonObject;
        const errors = validateMessageFields(b);
        if (errors.count > 0) return withHeaders(formBody(errors), limit.headers);
        if (isEmpty(contentOf(b), b)) return withHeaders(emptyMessage(), limit.headers);
        const dmUser = dmUsers.get(cid);
        if (dmUser !== undefined && members.get(dmUser)?.dmsClosed) {
          return withHeaders(jsonError(403, DISCORD_ERROR.cannotSendToUser, 'Cannot send messages to this user'), limit.headers);
        }
        const nonce = nonceOf(b);
        if (nonce !== undefined && typeof nonce !== 'string') return withHeaders(formError(['nonce'], nonce), limit.headers);
        const enforced = nonce !== undefined && b.enforce_nonce === true;
        const earlier = enforced ? nonces.get(nonce) : undefined;
        // The same nonce again within the window: the message made then, and no new one.
        if (earlier && Date.now() - earlier.postedAt <= DISCORD_API_LIMITS.enforcedNonceMs) return withHeaders(ok(messageJson(earlier)), limit.headers);
        const thread = threads.get(cid);
        const gid = guildOf(cid);
        const m = newMessage(cid, b, {
          ...(gid !== undefined ? { guild_id: gid } : {}),
          ...(thread ? { position: thread.total_message_sent } : {}),
        });
        if (thread) {
          thread.message_count += 1;
          thread.total_message_sent += 1;
          thread.last_message_id = m.id;
        }
        storeMessage(m);
        if (enforced) nonces.set(nonce, m);
        return withHeaders(ok(messageJson(m)), limit.headers);
      },
    },
    {
      method: 'GET',
      pattern: '/channels/:id/messages/:id',
      auth: true,
      handle: ({ params: [cid = '', mid = ''] }) => {
        if (!channelKnown(cid)) return unknown('Channel', DISCORD_ERROR.unknownChannel);
        const m = messagesById.get(mid);
        if (!m || m.channel_id !== cid) return unknown('Message', DISCORD_ERROR.unknownMessage);
        return ok(messageJson(m));
      },
    },
    {
      method: 'PATCH',
      pattern: '/channels/:id/messages/:id',
      auth: true,
      body: 'object',
      handle: ({ params: [cid = '', mid = ''], body }) => {
        if (!channelKnown(cid)) return unknown('Channel', DISCORD_ERROR.unknownChannel);
        const limit = takeToken('messages:edit', cid);
        if (limit.limited) return limit.limited;
        const m = messagesById.get(mid);
        if (!m || m.channel_id !== cid) return withHeaders(unknown('Message', DISCORD_ERROR.unknownMessage), limit.headers);
        const refused = editMessage(m, body as JsonObject);
        return withHeaders(refused ?? ok(messageJson(m)), limit.headers);
      },
    },
    {
      method: 'POST',
      pattern: '/channels/:id/messages/:id/threads',
      auth: true,
      body: 'object',
      handle: ({ params: [cid = '', mid = ''], body }) => {
        if (!channelKnown(cid)) return unknown('Channel', DISCORD_ERROR.unknownChannel);
        const limit = takeToken('threads:create', cid);
        if (limit.limited) return limit.limited;
        const b = body as JsonObject;
        const errors = new FormErrors();
        const name = checkString(errors, ['name'], b.name, DISCORD_API_LIMITS.threadName, { required: true, min: 1 });
        const duration = b.auto_archive_duration ?? 1440;
        if (!(THREAD_ARCHIVE_DURATIONS as readonly unknown[]).includes(duration)) {
          errors.add(['auto_archive_duration'], E.choices(THREAD_ARCHIVE_DURATIONS));
        }
        if (errors.count > 0) return withHeaders(formBody(errors), limit.headers);
        if (threads.has(cid) || dmUsers.has(cid)) {
          return withHeaders(
            jsonError(400, DISCORD_ERROR.wrongChannelType, 'Cannot execute action on this channel type'),
            limit.headers,
          );
        }
        const m = messagesById.get(mid);
        if (!m || m.channel_id !== cid) return withHeaders(unknown('Message', DISCORD_ERROR.unknownMessage), limit.headers);
        if (m.threadId !== undefined || threads.has(mid)) {
          return withHeaders(
            jsonError(400, DISCORD_ERROR.threadAlreadyCreated, 'A thread has already been created for this message'),
            limit.headers,
          );
        }
        const t: StoredThread = {
          id: mid,
          parent_id: cid,
          guild_id: guildId,
          name: name ?? '',
          auto_archive_duration: duration as number,
          createdAt: Date.now(),
          message_count: 0,
          total_message_sent: 0,
          last_message_id: null,
        };
        threads.set(t.id, t);
        m.threadId = t.id;
        m.flags |= HAS_THREAD_FLAG;
        return withHeaders(ok(threadJson(t), 201), limit.headers);
      },
    },
    {
      method: 'GET',
      pattern: '/channels/:id',
      auth: true,
      handle: ({ params: [cid = ''] }) => {
        const t = threads.get(cid);
        if (t) return ok(threadJson(t));
        const dmUser = dmUsers.get(cid);
        if (dmUser !== undefined) {
          const member = members.get(dmUser);
          return ok({ id: cid, type: 1, flags: 0, last_message_id: null, recipients: member ? [userJson(dmUser, member)] : [] });
        }
        if (!channelKnown(cid)) return unknown('Channel', DISCORD_ERROR.unknownChannel);
        return ok({ id: cid, type: 0, guild_id: guildId, name: `channel-${cid.slice(-4)}`, position: 0, flags: 0, nsfw: false, parent_id: null });
      },
    },
    {
      method: 'POST',
      pattern: '/users/@me/channels',
      auth: true,
      body: 'object',
      handle: ({ body }) => {
        const b = body as JsonObject;
        const rid = b.recipient_id;
        if (rid === undefined || rid === null) return formError(['recipient_id'], E.required());
        const id = typeof rid === 'string' || typeof rid === 'number' ? String(rid) : '';
        const member = members.get(id);
        if (!isSnowflake(id) || !member) return unknown('User', DISCORD_ERROR.unknownUser);
        let cid = dms.get(id);
        if (cid === undefined) {
          cid = nextSnowflake();
          dms.set(id, cid);
          dmUsers.set(cid, id);
        }
        return ok({ id: cid, type: 1, flags: 0, last_message_id: null, recipients: [userJson(id, member)] });
      },
    },
    {
      method: 'GET',
      pattern: '/guilds/:id/members/:id',
      auth: true,
      handle: ({ params: [gid = '', uid = ''] }) => {
        if (gid !== guildId) return unknown('Guild', DISCORD_ERROR.unknownGuild);
        const m = members.get(uid);
        if (!m) return unknown('Member', DISCORD_ERROR.unknownMember);
        return ok(memberJson(uid, m));
      },
    },
    {
      method: 'GET',
      pattern: '/applications/:id/commands',
      auth: true,
      handle: ({ params: [appId = ''] }) =>
        appId !== applicationId ? jsonError(403, DISCORD_ERROR.missingAccess, 'Missing Access') : ok(commandLists.get('') ?? []),
    },
    {
      method: 'PUT',
      pattern: '/applications/:id/commands',
      auth: true,
      body: 'list',
      handle: ({ params: [appId = ''], body }) =>
        appId !== applicationId
          ? jsonError(403, DISCORD_ERROR.missingAccess, 'Missing Access')
          : putCommands(undefined, body as unknown[]),
    },
    {
      method: 'GET',
      pattern: '/applications/:id/guilds/:id/commands',
      auth: true,
      handle: ({ params: [appId = '', gid = ''] }) =>
        appId !== applicationId || gid !== guildId
          ? jsonError(403, DISCORD_ERROR.missingAccess, 'Missing Access')
          : ok(commandLists.get(gid) ?? []),
    },
    {
      method: 'PUT',
      pattern: '/applications/:id/guilds/:id/commands',
      auth: true,
      body: 'list',
      handle: ({ params: [appId = '', gid = ''], body }) =>
        appId !== applicationId || gid !== guildId
          ? jsonError(403, DISCORD_ERROR.missingAccess, 'Missing Access')
          : putCommands(gid, body as unknown[]),
    },
    {
      method: 'POST',
      pattern: '/interactions/:id/:token/callback',
      auth: false,
      body: 'object',
      handle: ({ params: [iid = '', tok = ''], body }) => {
        const rec = interactions.get(tok);
        if (
          !rec ||
          (rec.interactionId !== undefined && rec.interactionId !== iid) ||
          Date.now() - rec.createdAt > DISCORD_API_LIMITS.interactionResponseMs
        ) {
          return jsonError(404, DISCORD_ERROR.unknownInteraction, 'Unknown interaction');
        }
        if (rec.acknowledged) return jsonError(400, DISCORD_ERROR.alreadyAcknowledged, 'Interaction has already been acknowledged.');
        const b = body as JsonObject;
        const type = b.type;
        if (typeof type !== 'number' || ![1, 4, 5, 6, 7, 8, 9].includes(type)) {
          return formError(['type'], E.choices([1, 4, 5, 6, 7, 8, 9]));
        }
        const data = isObject(b.data) ? b.data : {};
        if (type === 4 || type === 7) {
          const errors = validateMessageFields(data, ['data']);
          if (errors.count > 0) return formBody(errors);
        }
        if (type === 4) {
          if (isEmpty(contentOf(data), data)) return emptyMessage();
          originals.set(tok, newMessage(rec.channelId ?? '', data, { webhook_id: applicationId }, INTERACTION_FLAGS));
        } else if (type === 5) {
          originals.set(
            tok,
            newMessage(rec.channelId ?? '', { content: '', flags: data.flags }, { webhook_id: applicationId }, INTERACTION_FLAGS),
          );
        } else if (type === 7) {
          const m = rec.messageId !== undefined ? messagesById.get(rec.messageId) : undefined;
          if (!m) return unknown('Message', DISCORD_ERROR.unknownMessage);
          const refused = editMessage(m, data);
          if (refused) return refused;
        }
        rec.acknowledged = true;
        rec.initialResponse = type;
        interactionResponses.push({ interactionId: iid, token: tok, type, ...(b.data !== undefined ? { data: b.data } : {}), at: Date.now() });
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      pattern: '/webhooks/:id/:token',
      auth: false,
      body: 'object',
      handle: ({ params: [appId = '', tok = ''], body }) => {
        const rec = webhookInteraction(appId, tok);
        if (isReply(rec)) return rec;
        const b = body as JsonObject;
        const errors = validateMessageFields(b);
        if (errors.count > 0) return formBody(errors);
        if (isEmpty(contentOf(b), b)) return emptyMessage();
        const flags = typeof b.flags === 'number' ? b.flags : 0;
        const channelId = rec.channelId ?? '';
        const gid = channelId ? guildOf(channelId) : undefined;
        const m: FollowUpMessage = {
          ...newMessage(
            channelId,
            b,
            { webhook_id: applicationId, ...(gid !== undefined ? { guild_id: gid } : {}) },
            INTERACTION_FLAGS,
          ),
          token: tok,
          ephemeral: (flags & EPHEMERAL_FLAG) !== 0,
        };
        followUpList.push(m);
        return ok(messageJson(m));
      },
    },
    {
      method: 'PATCH',
      pattern: '/webhooks/:id/:token/messages/@original',
      auth: false,
      body: 'object',
      handle: ({ params: [appId = '', tok = ''], body }) => {
        const rec = webhookInteraction(appId, tok);
        if (isReply(rec)) return rec;
        const b = body as JsonObject;
        let m: StoredMessage | undefined;
        if (originalIsClickedMessage(rec)) {
          m = messagesById.get(rec.messageId ?? '');
          if (!m) return unknown('Message', DISCORD_ERROR.unknownMessage);
        } else {
          m = originals.get(tok);
          if (!m) {
            // The fake did not see the HTTP answer (type 4/5): the edit creates the response it knows of.
            const errors = validateMessageFields(b);
            if (errors.count > 0) return formBody(errors);
            if (isEmpty(contentOf(b), b)) return emptyMessage();
            m = newMessage(rec.channelId ?? '', b, { webhook_id: applicationId }, INTERACTION_FLAGS);
            originals.set(tok, m);
            m.updatedAt = m.postedAt;
            return ok(messageJson(m));
          }
        }
        const refused = editMessage(m, b);
        return refused ?? ok(messageJson(m));
      },
    },
    {
      method: 'PATCH',
      pattern: '/webhooks/:id/:token/messages/:id',
      auth: false,
      body: 'object',
      handle: ({ params: [appId = '', tok = '', mid = ''], body }) => {
        const rec = webhookInteraction(appId, tok);
        if (isReply(rec)) return rec;
        const m = followUpList.find((f) => f.token === tok && f.id === mid);
        if (!m) return unknown('Message', DISCORD_ERROR.unknownMessage);
        const refused = editMessage(m, body as JsonObject);
        return refused ?? ok(messageJson(m));
      },
    },
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    const prefix = '/api/v10';
    const inApi = url.pathname === prefix || url.pathname.startsWith(`${prefix}/`);
    const path = inApi ? url.pathname.slice(prefix.length) || '/' : url.pathname;
    const segments = path
      .split('/')
      .slice(1)
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });

    let route: RouteDef | undefined;
    let params: string[] = [];
    let pathExists = false;
    if (inApi) {
      for (const r of routes) {
        const p = matchRoute(r.pattern, segments);
        if (!p) continue;
        pathExists = true;
        if (r.method === method) {
          route = r;
          params = p;
          break;
        }
      }
    }

    const contentType = (req.headers['content-type'] ?? '').toLowerCase();
    let body: unknown;
    let badJson = false;
    const multipart = contentType.startsWith('multipart/');
    if (raw.length > 0 && !multipart) {
      try {
        body = JSON.parse(raw.toString('utf8')) as unknown;
      } catch {
        badJson = true;
      }
    }

    const call: RecordedCall = {
      method,
      route: route?.pattern ?? path,
      path,
      query: Object.fromEntries(url.searchParams),
      body,
      status: 0,
      response: undefined,
      responseHeaders: {},
      at: Date.now(),
      injected: false,
    };
    calls.push(call);

    const answer = (r: Reply): void => {
      const headers: Record<string, string> = { ...r.headers };
      call.status = r.status;
      call.response = r.body;
      call.responseHeaders = headers;
      if (r.body === undefined) {
        res.writeHead(r.status, headers);
        res.end();
        return;
      }
      const payload = JSON.stringify(r.body);
      res.writeHead(r.status, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(payload)),
        ...headers,
      });
      res.end(payload);
    };

    for (const key of [`${method} ${call.route}`, `${method} ${path}`]) {
      const queue = failures.get(key);
      const injected = queue?.[0];
      if (!queue || !injected) continue;
      injected.remaining -= 1;
      if (injected.remaining <= 0) queue.shift();
      const f = injected.failure;
      const headers: Record<string, string> = {};
      let defaultBody: unknown;
      if (f.status === 429) {
        const retryAfter = f.retryAfter ?? 1;
        Object.assign(headers, {
          'retry-after': String(Math.ceil(retryAfter)),
          'x-ratelimit-scope': f.global ? 'global' : 'user',
          ...(f.global
            ? { 'x-ratelimit-global': 'true' }
            : {
                'x-ratelimit-limit': String(rate?.burst ?? 5),
                'x-ratelimit-remaining': '0',
                'x-ratelimit-reset': ((Date.now() + retryAfter * 1000) / 1000).toFixed(3),
                'x-ratelimit-reset-after': retryAfter.toFixed(3),
                'x-ratelimit-bucket': bucketHash(`injected:${call.route}`),
              }),
        });
        defaultBody = { message: 'You are being rate limited.', retry_after: retryAfter, global: f.global === true };
      } else {
        if (f.retryAfter !== undefined) headers['retry-after'] = String(Math.ceil(f.retryAfter));
        defaultBody = httpError(f.status).body;
      }
      call.injected = true;
      answer({ status: f.status, headers, body: f.body ?? defaultBody });
      return;
    }

    if (!inApi) {
      answer(httpError(404));
      return;
    }
    if (!route) {
      answer(pathExists ? httpError(405) : httpError(404));
      return;
    }
    if (route.auth) {
      const auth = req.headers.authorization;
      if (auth !== `Bot ${token}`) {
        answer(jsonError(401, 0, '401: Unauthorized'));
        return;
      }
    }
    if (route.body) {
      if (multipart) {
        answer(formError(['files'], E.unsupported('A multipart/form-data body (file upload)')));
        return;
      }
      if (badJson) {
        answer(jsonError(400, DISCORD_ERROR.invalidJson, 'The request body contains invalid JSON.'));
        return;
      }
      if (route.body === 'object') {
        if (body === undefined) body = {};
        if (!isObject(body)) {
          answer(formError([], E.dict()));
          return;
        }
      } else if (!Array.isArray(body)) {
        answer(formError([], E.list()));
        return;
      }
    }
    answer(route.handle({ method, params, query: url.searchParams, body }));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: '500: Internal Server Error', code: 0, detail: String(err) }));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const fake: FakeDiscord = {
    url: `http://127.0.0.1:${port}/api`,
    token,
    applicationId,
    guildId,
    calls,
    get rateLimited() {
      return rateLimited;
    },
    threads,
    interactionResponses,
    callsTo: (routeKey) => calls.filter((c) => `${c.method} ${c.route}` === routeKey || `${c.method} ${c.path}` === routeKey),
    messages: (channelId) => [...(messagesByChannel.get(channelId) ?? [])],
    thread: (threadId) => (threads.has(threadId) ? [...(messagesByChannel.get(threadId) ?? [])] : []),
    message: (id) => messagesById.get(id),
    allMessages: () => [...messagesById.values()].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1)),
    followUps: (tok) => followUpList.filter((f) => tok === undefined || f.token === tok),
    original: (tok) => originals.get(tok),
    commands: (gid) => [...(commandLists.get(gid ?? '') ?? [])],
    dmChannel: (userId) => dms.get(userId),
    registerInteraction(tok, o = {}) {
      interactions.set(tok, {
        token: tok,
        ...(o.interactionId !== undefined ? { interactionId: o.interactionId } : {}),
        ...(o.channelId !== undefined ? { channelId: o.channelId } : {}),
        ...(o.messageId !== undefined ? { messageId: o.messageId } : {}),
        ...(o.initialResponse !== undefined ? { initialResponse: o.initialResponse } : {}),
        createdAt: o.createdAt ?? Date.now(),
        acknowledged: o.initialResponse !== undefined,
      });
    },
    failNext(routeKey, n, failure) {
      if (n <= 0) return;
      const queue = failures.get(routeKey) ?? [];
      queue.push({ remaining: n, failure });
      failures.set(routeKey, queue);
    },
    setRateLimit: (r) => setRateLimit(r),
    addMember(userId, member) {
      members.set(userId, { ...member, roles: [...member.roles] });
    },
    addChannel(channelId) {
      channels?.add(channelId);
    },
    async waitFor<T>(predicate: () => T, timeoutMs = 5000, description?: string): Promise<NonNullable<T>> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = predicate();
        if (v) return v;
        if (Date.now() > deadline) {
          const last = calls.slice(-5).map((c) => `${c.method} ${c.path} → ${c.status} ${JSON.stringify(c.response)}`);
          throw new Error(
            `fake Discord: timed out after ${timeoutMs} ms waiting for ${description ?? 'condition'}; last calls:\n  ${last.join('\n  ') || '(none)'}`,
          );
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    reset() {
      calls.length = 0;
      messagesByChannel.clear();
      messagesById.clear();
      nonces.clear();
      threads.clear();
      dms.clear();
      dmUsers.clear();
      followUpList.length = 0;
      originals.clear();
      interactions.clear();
      interactionResponses.length = 0;
      commandLists.clear();
      failures.clear();
      buckets.clear();
      rateLimited = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
  return fake;
}
