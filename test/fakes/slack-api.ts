/**
 * A fake Slack Web API on 127.0.0.1 that answers like the documented one, for the real
 * `@slack/web-api` WebClient (and Bolt, via `clientOptions.slackApiUrl`).
 *
 *   const slack = await startFakeSlack();
 *   const client = new WebClient('xoxb-test-token', { slackApiUrl: slack.url });
 *
 * Behaviour mirrored from Slack (docs.slack.dev/apis/web-api, method reference pages, and the
 * team's platform notes §2):
 * - POST /api/<method>; arguments form-encoded (what WebClient sends) or JSON. Query-string
 *   arguments are merged in too, as Slack does.
 * - Token from `Authorization: Bearer …` or a `token` argument of a form body. JSON bodies can only
 *   authenticate with the header (Slack ignores `token` inside JSON). Auth failures are HTTP 200 with
 *   `{ok:false,error:'not_authed'|'invalid_auth'}`.
 * - Every API error is HTTP 200 `{ok:false,error}`, except rate limiting (HTTP 429 + Retry-After)
 *   and unknown methods: slack.com answers those with HTTP 404 and
 *   `{ok:false,error:'unknown_method',req_method}`; WebClient surfaces that as a
 *   `slack_webapi_http_error` with statusCode 404.
 * - Block Kit limits: see ./slack-block-kit.ts.
 * - chat.postMessage is rate limited per channel (special tier, ≈ 1 message/s with short bursts):
 *   a token bucket, `burst` deep, refilled at `postsPerSecondPerChannel`. chat.update is a tier 3
 *   method, limited for the workspace (all channels together): a bucket `updateBurst` deep,
 *   refilled at `updatesPerMinute`.
 * - `ts` is the wall clock ("seconds.micros"), unique per workspace, so `oldest`/`latest` work.
 * - Message metadata (`metadata: {event_type, event_payload}` on chat.postMessage, replaced by
 *   chat.update only when given) is stored and returned by conversations.history / .replies only
 *   with `include_all_metadata`, like Slack does.
 * - conversations.history: a channel's top-level messages (and broadcast replies), newest first,
 *   between `oldest` and `latest` (exclusive unless `inclusive`), `limit` (default 100, max 999)
 *   per page, `has_more` and `response_metadata.next_cursor`. conversations.replies: the thread of
 *   `ts` (parent first, then replies oldest first; the parent is always on the first page),
 *   `limit` default 1000; `thread_not_found` for an unknown ts.
 * - `missingScopes`: methods needing one of them answer `missing_scope` with `needed`/`provided`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BLOCK_KIT_LIMITS, isObject, validateBlocks, type JsonObject } from './slack-block-kit.js';
import { DEFAULT_APP_ID, DEFAULT_TEAM } from './slack-signing.js';

export type { JsonObject } from './slack-block-kit.js';
export { BLOCK_KIT_LIMITS, validateBlocks } from './slack-block-kit.js';

export const BOT_USER_ID = 'UBOT';
export const BOT_ID = 'BBOT';
export const DEFAULT_TOKEN = 'xoxb-test-token';

/** Users known to the fake when `users` is not given. */
export const DEFAULT_USERS: Readonly<Record<string, { name: string; realName?: string }>> = {
  U0ALICE: { name: 'alice', realName: 'Alice Oncall' },
  U0BOB: { name: 'bob', realName: 'Bob Lead' },
  U0CAROL: { name: 'carol', realName: 'Carol Observer' },
};

/**
 * Slack does not document a number for `msg_blocks_too_long`; it was seen near 13,000 characters
 * of serialized blocks (bolt-js#2509, platform notes §2). The fake refuses at that size so a card
 * renderer that relies on more fails here first. Tune with `maxBlocksJsonChars` (0 disables).
 */
export const DEFAULT_MAX_BLOCKS_JSON_CHARS = 13000;

export interface RateLimitOptions {
  /** Sustained chat.postMessage rate per channel (default 1). */
  postsPerSecondPerChannel?: number;
  /** Bucket size: how many posts may go back to back (default 3). */
  burst?: number;
  /** Sustained chat.update rate for the whole workspace, per minute (tier 3; default 50). */
  updatesPerMinute?: number;
  /** How many updates may go back to back (default 50: tier 3 "supports bursts"). */
  updateBurst?: number;
}

export interface FakeSlackOptions extends RateLimitOptions {
  /** The bot token the fake accepts (default `xoxb-test-token`). */
  token?: string;
  /** User directory for users.info / postEphemeral (default DEFAULT_USERS). */
  users?: Record<string, { name: string; realName?: string }>;
  /** User groups: id → member ids, or `{handle, users}`. Handle defaults to the lower-cased id. */
  usergroups?: Record<string, string[] | { handle: string; users: string[] }>;
  /** When given, any other channel answers `channel_not_found`. */
  channels?: string[];
  /** `false` disables the chat.postMessage and chat.update rate limits. */
  rateLimit?: boolean | RateLimitOptions;
  /** See DEFAULT_MAX_BLOCKS_JSON_CHARS; 0 disables the guard. */
  maxBlocksJsonChars?: number;
  /**
   * Scopes the token was not granted (e.g. `['channels:history']`): calls to methods that need one
   * answer `{ok:false, error:'missing_scope', needed, provided}`. See SCOPES_NEEDED.
   */
  missingScopes?: string[];
  /**
   * Milliseconds every answer is held back, as the round trip to slack.com would (default 0).
   * Benchmarks use it: on loopback, a client that waits for the API looks free.
   */
  latencyMs?: number;
}

/** The bot scopes each method needs (history of a private channel, id starting with G: groups:history). */
export const SCOPES_NEEDED: Readonly<Record<string, string>> = {
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'conversations.history': 'channels:history',
  'conversations.replies': 'channels:history',
  'users.info': 'users:read',
  'usergroups.list': 'usergroups:read',
  'usergroups.users.list': 'usergroups:read',
};
const ALL_SCOPES = ['chat:write', 'chat:write.public', 'channels:history', 'groups:history', 'users:read', 'usergroups:read'];

export interface RecordedCall {
  method: string;
  /** Parsed arguments (token removed; `blocks`/`attachments`/`metadata` JSON parsed back). */
  args: JsonObject;
  /** Date.now() when the request arrived. */
  at: number;
  /** HTTP status answered. */
  status: number;
  /** The JSON body answered. */
  response: JsonObject;
  /** Whether the answer came from failNext(). */
  injected: boolean;
}

export interface MessageVersion {
  text: string;
  blocks: JsonObject[];
  attachments?: unknown;
  at: number;
}

export interface StoredMessage {
  channel: string;
  ts: string;
  /** Set on thread replies: the parent's ts. */
  thread_ts?: string;
  text: string;
  blocks: JsonObject[];
  attachments?: unknown;
  user: string;
  bot_id: string;
  postedAt: number;
  /** Date.now() of the last chat.update. */
  updatedAt?: number;
  /** Earlier versions, oldest first (one entry per chat.update). */
  history: MessageVersion[];
  /** Replies in this message's thread (parents only). */
  reply_count: number;
  reply_broadcast?: boolean;
  /** Message metadata as posted (`{event_type, event_payload}`). */
  metadata?: JsonObject;
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  message_ts: string;
  thread_ts?: string;
  text: string;
  blocks: JsonObject[];
  at: number;
}

/**
 * A message sent to a slash command's or interaction's `response_url`
 * (docs.slack.dev/interactivity/handling-user-interaction#message_responses): `ephemeral` (the
 * default) is shown to the user who typed the command only. A URL takes at most 5 messages within
 * 30 minutes of being issued.
 */
export interface ResponseUrlMessage {
  /** The URL's path, e.g. `/commands/T0FAKE/1234/abc`; the test knows which command it issued it for. */
  path: string;
  responseType: 'ephemeral' | 'in_channel';
  text: string;
  blocks: JsonObject[];
  at: number;
}

export const RESPONSE_URL_LIMITS = { uses: 5, validMs: 30 * 60_000 } as const;

export interface InjectedFailure {
  status: number;
  /** Seconds, sent as the `Retry-After` header (defaults to 1 for 429). */
  retryAfter?: number;
  /** JSON body; defaults to `{ok:false,error:'ratelimited'}` for 429, `internal_error` otherwise. */
  body?: object;
}

export interface FakeSlack {
  /** Base URL ending in `/api/`, for `slackApiUrl`. */
  readonly url: string;
  readonly token: string;
  /** Every request, in arrival order, including refused ones. */
  readonly calls: RecordedCall[];
  /** Messages per channel, in posting order (top-level and replies). */
  readonly messages: Map<string, StoredMessage[]>;
  readonly ephemerals: EphemeralMessage[];
  /** Messages sent to response URLs, in arrival order. */
  readonly responses: ResponseUrlMessage[];
  /**
   * A response URL for a command or interaction the test sends, as Slack puts in its payload
   * (`/commands/…` on this fake's host); valid from now for 30 minutes and 5 messages.
   */
  responseUrl(kind?: 'commands' | 'actions'): string;
  /** How many requests were answered 429 by the rate limiter (injected 429s not included). */
  readonly rateLimited: number;
  /** Calls of one method (e.g. `chat.postMessage`). */
  callsTo(method: string): RecordedCall[];
  /** A message by channel + ts. */
  message(channel: string, ts: string): StoredMessage | undefined;
  /** All messages in all channels, in posting order. */
  allMessages(): StoredMessage[];
  /** Top-level messages of a channel (no thread replies). */
  topLevel(channel: string): StoredMessage[];
  /** Replies in the thread of `ts` (the parent excluded), oldest first. */
  threadReplies(channel: string, ts: string): StoredMessage[];
  /** The next `n` calls to `method` answer `response` instead of being processed. */
  failNext(method: string, n: number, response: InjectedFailure): void;
  /** Replace the rate limit settings (`false` turns it off); resets the buckets. */
  setRateLimit(rateLimit: boolean | RateLimitOptions): void;
  addUser(id: string, name: string, realName?: string): void;
  /** Polls `predicate` every 10 ms until it returns a truthy value, which is returned. */
  waitFor<T>(predicate: () => T, timeoutMs?: number, description?: string): Promise<NonNullable<T>>;
  /** Forget recorded calls, messages and ephemerals (users, groups and settings stay). */
  reset(): void;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: JsonObject;
  headers?: Record<string, string>;
}

const ok = (body: JsonObject = {}): Reply => ({ status: 200, body: { ok: true, ...body } });
const fail = (error: string, extra: JsonObject = {}): Reply => ({ status: 200, body: { ok: false, error, ...extra } });

const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata']);

function truthy(v: unknown): boolean {
  return v === true || v === 'true' || v === '1' || v === 1;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** The scope a call needs: SCOPES_NEEDED, with groups:history for the history of a private (G…) channel. */
function neededScope(method: string, args: JsonObject): string | undefined {
  const scope = SCOPES_NEEDED[method];
  return scope === 'channels:history' && str(args.channel)?.startsWith('G') ? 'groups:history' : scope;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Message timestamps from the wall clock, as Slack's are, made unique by bumping the micros. */
class TsClock {
  private last = 0;
  next(): string {
    const micros = Math.max(Date.now() * 1000, this.last + 1);
    this.last = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }
}

/** A sortable form of a Slack timestamp ("1700000000.000100", "1700000000", "0"). */
function tsOrder(ts: string): string {
  const [sec = '0', frac = ''] = ts.split('.');
  return `${sec.padStart(12, '0')}.${frac.padEnd(6, '0').slice(0, 6)}`;
}

/** Keeps the timestamps between `oldest` and `latest` (both exclusive unless `inclusive`). */
function inWindow(args: JsonObject): (ts: string) => boolean {
  const oldest = tsOrder(str(args.oldest) ?? '0');
  const latest = str(args.latest) !== undefined ? tsOrder(str(args.latest)!) : undefined;
  const inclusive = truthy(args.inclusive);
  return (ts) => {
    const t = tsOrder(ts);
    const afterOldest = inclusive ? t >= oldest : t > oldest;
    const beforeLatest = latest === undefined || (inclusive ? t <= latest : t < latest);
    return afterOldest && beforeLatest;
  };
}

/** Slack-like opaque cursors: base64 of `next_ts:<ts>`. */
const cursorFor = (ts: string): string => Buffer.from(`next_ts:${ts}`).toString('base64');
const tsOfCursor = (cursor: string): string | undefined => {
  const decoded = Buffer.from(cursor, 'base64').toString('utf8');
  return decoded.startsWith('next_ts:') ? decoded.slice('next_ts:'.length) : undefined;
};

/** One page of `list` from the cursor's message on, `limit` long, with Slack's paging fields. */
function page(list: StoredMessage[], args: JsonObject, defaultLimit: number, maxLimit: number): { items: StoredMessage[]; more: JsonObject } | Reply {
  const limitArg = Number(str(args.limit) ?? defaultLimit);
  const limit = Math.min(maxLimit, Math.max(1, Number.isFinite(limitArg) && limitArg > 0 ? Math.floor(limitArg) : defaultLimit));
  let start = 0;
  const cursor = str(args.cursor);
  if (cursor) {
    const ts = tsOfCursor(cursor);
    start = ts === undefined ? -1 : list.findIndex((m) => m.ts === ts);
    if (start < 0) return fail('invalid_cursor');
  }
  const items = list.slice(start, start + limit);
  const next = list[start + limit];
  return { items, more: { has_more: next !== undefined, ...(next ? { response_metadata: { next_cursor: cursorFor(next.ts) } } : {}) } };
}

interface Bucket {
  tokens: number;
  last: number;
}

export async function startFakeSlack(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
  const token = opts.token ?? DEFAULT_TOKEN;
  const users = new Map(Object.entries(opts.users ?? DEFAULT_USERS));
  const groups = new Map(
    Object.entries(opts.usergroups ?? {}).map(([id, g]) =>
      Array.isArray(g) ? [id, { handle: id.toLowerCase(), users: [...g] }] : [id, { handle: g.handle, users: [...g.users] }],
    ),
  );
  const channels = opts.channels ? new Set(opts.channels) : undefined;
  const maxBlocksJson = opts.maxBlocksJsonChars ?? DEFAULT_MAX_BLOCKS_JSON_CHARS;
  const missingScopes = new Set(opts.missingScopes ?? []);
  const latencyMs = opts.latencyMs ?? 0;

  let rate: { perSecond: number; burst: number; updatesPerSecond: number; updateBurst: number } | undefined;
  const buckets = new Map<string, Bucket>();
  /** The chat.update bucket's key in `buckets` (channel ids never contain a space). */
  const UPDATES = 'workspace updates';
  const setRateLimit = (r: boolean | RateLimitOptions | undefined, base: RateLimitOptions = {}): void => {
    buckets.clear();
    if (r === false) {
      rate = undefined;
      return;
    }
    const o = typeof r === 'object' ? { ...base, ...r } : base;
    rate = { perSecond: o.postsPerSecondPerChannel ?? 1, burst: o.burst ?? 3, updatesPerSecond: (o.updatesPerMinute ?? 50) / 60, updateBurst: o.updateBurst ?? 50 };
  };
  setRateLimit(opts.rateLimit, { postsPerSecondPerChannel: opts.postsPerSecondPerChannel, burst: opts.burst, updatesPerMinute: opts.updatesPerMinute, updateBurst: opts.updateBurst });

  const calls: RecordedCall[] = [];
  const messages = new Map<string, StoredMessage[]>();
  const ephemerals: EphemeralMessage[] = [];
  const responses: ResponseUrlMessage[] = [];
  const responseUrls = new Map<string, { issuedAt: number; uses: number }>();
  let responseCounter = 0;
  const failures = new Map<string, Array<{ remaining: number; response: InjectedFailure }>>();
  const clock = new TsClock();
  let rateLimited = 0;
  let baseUrl = '';

  const findMessage = (channel: string, ts: string): StoredMessage | undefined =>
    messages.get(channel)?.find((m) => m.ts === ts);

  /** Refuses if a rate limit bucket (a channel's posts, or UPDATES: the workspace's updates) is empty; otherwise takes one token. */
  const takeToken = (channel: string): Reply | undefined => {
    if (!rate) return undefined;
    const [perSecond, burst] = channel === UPDATES ? [rate.updatesPerSecond, rate.updateBurst] : [rate.perSecond, rate.burst];
    const now = Date.now();
    const b = buckets.get(channel) ?? { tokens: burst, last: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.last) / 1000) * perSecond);
    b.last = now;
    buckets.set(channel, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    rateLimited += 1;
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
    return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(retryAfter) } };
  };

  const checkChannel = (args: JsonObject): { channel: string } | Reply => {
    const channel = str(args.channel);
    if (!channel) return fail('channel_not_found');
    if (channels && !channels.has(channel)) return fail('channel_not_found');
    return { channel };
  };

  /** Shared content checks of postMessage / update / postEphemeral. */
  const checkContent = (
    args: JsonObject,
    requireContent: boolean,
  ): { text: string | undefined; blocks: JsonObject[] | undefined } | Reply => {
    const text = str(args.text);
    const verdict = validateBlocks(args.blocks);
    if (!verdict.ok) {
      if (verdict.error === 'invalid_blocks_format') return fail('invalid_blocks_format');
      return fail('invalid_blocks', {
        errors: verdict.errors,
        response_metadata: { messages: verdict.errors.map((e) => `[ERROR] ${e}`) },
      });
    }
    const hasAttachments = Array.isArray(args.attachments) && args.attachments.length > 0;
    if (requireContent && !text && !verdict.blocks?.length && !hasAttachments) return fail('no_text');
    if (text !== undefined && text.length > BLOCK_KIT_LIMITS.messageText) return fail('msg_too_long');
    if (maxBlocksJson > 0 && verdict.blocks && JSON.stringify(verdict.blocks).length > maxBlocksJson) {
      return fail('msg_blocks_too_long');
    }
    return { text, blocks: verdict.blocks };
  };

  const isReply = (r: object): r is Reply => 'status' in r && 'body' in r;

  const clockTsOf = (ms: number): string => `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1000).padStart(6, '0')}`;

  const messageJson = (m: StoredMessage): JsonObject => ({
    type: 'message',
    subtype: 'bot_message',
    text: m.text,
    user: m.user,
    bot_id: m.bot_id,
    app_id: DEFAULT_APP_ID,
    team: DEFAULT_TEAM.id,
    ts: m.ts,
    ...(m.thread_ts !== undefined ? { thread_ts: m.thread_ts } : {}),
    ...(m.blocks.length > 0 ? { blocks: m.blocks } : {}),
    ...(m.attachments !== undefined ? { attachments: m.attachments } : {}),
    ...(m.updatedAt !== undefined ? { edited: { user: m.user, ts: clockTsOf(m.updatedAt) } } : {}),
  });

  /** A message as conversations.history / .replies show it: thread fields, metadata on request. */
  const historyJson = (m: StoredMessage, withMetadata: boolean): JsonObject => ({
    ...messageJson(m),
    ...(m.reply_count > 0 ? { thread_ts: m.ts, reply_count: m.reply_count } : {}),
    ...(withMetadata && m.metadata !== undefined ? { metadata: m.metadata } : {}),
  });

  /** Slack's check of a `metadata` argument: an object with a string event_type and an object event_payload. */
  const checkMetadata = (v: unknown): { metadata: JsonObject | undefined } | Reply => {
    if (v === undefined || v === '') return { metadata: undefined };
    if (!isObject(v) || typeof v.event_type !== 'string' || v.event_type === '' || (v.event_payload !== undefined && !isObject(v.event_payload))) {
      return fail('invalid_metadata_format');
    }
    return { metadata: v };
  };

  const userJson = (id: string, u: { name: string; realName?: string }): JsonObject => ({
    id,
    team_id: DEFAULT_TEAM.id,
    name: u.name,
    deleted: false,
    real_name: u.realName ?? u.name,
    is_bot: false,
    profile: { display_name: u.name, real_name: u.realName ?? u.name },
  });

  const methods: Record<string, (args: JsonObject) => Reply> = {
    'api.test': (args) => ok({ args }),

    'auth.test': () =>
      ok({
        url: `https://${DEFAULT_TEAM.domain}.slack.com/`,
        team: 'Fake Workspace',
        user: 'incident-bot',
        team_id: DEFAULT_TEAM.id,
        user_id: BOT_USER_ID,
        bot_id: BOT_ID,
        is_enterprise_install: false,
      }),

    'chat.postMessage': (args) => {
      const ch = checkChannel(args);
      if (isReply(ch)) return ch;
      const limited = takeToken(ch.channel);
      if (limited) return limited;
      const content = checkContent(args, true);
      if (isReply(content)) return content;
      const meta = checkMetadata(args.metadata);
      if (isReply(meta)) return meta;
      let threadTs = str(args.thread_ts);
      let parent: StoredMessage | undefined;
      if (threadTs) {
        parent = findMessage(ch.channel, threadTs);
        if (!parent) return fail('thread_not_found');
        // Replying to a reply lands in the parent's thread, as in Slack.
        if (parent.thread_ts !== undefined && parent.thread_ts !== parent.ts) {
          threadTs = parent.thread_ts;
          parent = findMessage(ch.channel, threadTs);
        }
      }
      const m: StoredMessage = {
        channel: ch.channel,
        ts: clock.next(),
        ...(threadTs ? { thread_ts: threadTs } : {}),
        text: content.text ?? '',
        blocks: content.blocks ?? [],
        ...(args.attachments !== undefined ? { attachments: args.attachments } : {}),
        user: BOT_USER_ID,
        bot_id: BOT_ID,
        postedAt: Date.now(),
        history: [],
        reply_count: 0,
        ...(threadTs && truthy(args.reply_broadcast) ? { reply_broadcast: true } : {}),
        ...(meta.metadata !== undefined ? { metadata: meta.metadata } : {}),
      };
      if (parent) parent.reply_count += 1;
      const list = messages.get(ch.channel) ?? [];
      list.push(m);
      messages.set(ch.channel, list);
      return ok({ channel: ch.channel, ts: m.ts, message: messageJson(m) });
    },

    'chat.update': (args) => {
      // Counted per call, whatever the call asks for, as Slack's tiers count them.
      const limited = takeToken(UPDATES);
      if (limited) return limited;
      const ch = checkChannel(args);
      if (isReply(ch)) return ch;
      const ts = str(args.ts);
      const m = ts ? findMessage(ch.channel, ts) : undefined;
      // Ephemeral messages are not stored as channel messages, so they cannot be found either.
      if (!m) return fail('message_not_found');
      const content = checkContent(args, false);
      if (isReply(content)) return content;
      const meta = checkMetadata(args.metadata);
      if (isReply(meta)) return meta;
      if (content.text === undefined && content.blocks === undefined && args.attachments === undefined) {
        return fail('no_text');
      }
      m.history.push({
        text: m.text,
        blocks: m.blocks,
        ...(m.attachments !== undefined ? { attachments: m.attachments } : {}),
        at: m.updatedAt ?? m.postedAt,
      });
      // chat.update docs: fields left out keep their previous value; `blocks: []` clears them.
      if (content.text !== undefined) m.text = content.text;
      if (content.blocks !== undefined) m.blocks = content.blocks;
      else if (Array.isArray(args.blocks)) m.blocks = [];
      if (args.attachments !== undefined) m.attachments = args.attachments;
      // Metadata left out stays as it was.
      if (meta.metadata !== undefined) m.metadata = meta.metadata;
      m.updatedAt = Date.now();
      return ok({ channel: ch.channel, ts: m.ts, text: m.text, message: messageJson(m) });
    },

    // chat.delete: the bot deletes one of its own messages (as a person may delete it in Slack's client); later updates find nothing.
    'chat.delete': (args) => {
      const ch = checkChannel(args);
      if (isReply(ch)) return ch;
      const ts = str(args.ts);
      const list = messages.get(ch.channel) ?? [];
      const at = list.findIndex((m) => m.ts === ts);
      if (at < 0) return fail('message_not_found');
      list.splice(at, 1);
      return ok({ channel: ch.channel, ts });
    },

    'chat.postEphemeral': (args) => {
      const ch = checkChannel(args);
      if (isReply(ch)) return ch;
      const user = str(args.user);
      if (!user || !users.has(user)) return fail('user_not_found');
      const content = checkContent(args, true);
      if (isReply(content)) return content;
      const threadTs = str(args.thread_ts);
      const e: EphemeralMessage = {
        channel: ch.channel,
        user,
        message_ts: clock.next(),
        ...(threadTs ? { thread_ts: threadTs } : {}),
        text: content.text ?? '',
        blocks: content.blocks ?? [],
        at: Date.now(),
      };
      ephemerals.push(e);
      return ok({ message_ts: e.message_ts });
    },

    'conversations.history': (args) => {
      const ch = checkChannel(args);
      if (isReply(ch)) return ch;
      const keep = inWindow(args);
      const list = (messages.get(ch.channel) ?? [])
        .filter((m) => (m.thread_ts === undefined || m.reply_broadcast === true) && keep(m.ts))
        .sort((a, b) => (tsOrder(a.ts) < tsOrder(b.ts) ? 1 : -1));
      const p = page(list, args, 100, 999);
      if (isReply(p)) return p;
      const withMetadata = truthy(args.include_all_metadata);
      return ok({ messages: p.items.map((m) => historyJson(m, withMetadata)), ...p.more, pin_count: 0, channel_actions_ts: null, channel_actions_count: 0 });
    },

    'conversations.replies': (args) => {
      const ch = checkChannel(args);
      if (isReply(ch)) return ch;
      const ts = str(args.ts);
      let parent = ts ? findMessage(ch.channel, ts) : undefined;
      // A reply's ts stands for its whole thread.
      if (parent?.thread_ts !== undefined) parent = findMessage(ch.channel, parent.thread_ts);
      if (!parent) return fail('thread_not_found');
      const keep = inWindow(args);
      const root = parent;
      const replies = (messages.get(ch.channel) ?? [])
        .filter((m) => m.thread_ts === root.ts && m.ts !== root.ts && keep(m.ts))
        .sort((a, b) => (tsOrder(a.ts) < tsOrder(b.ts) ? -1 : 1));
      const p = page([root, ...replies], args, 1000, 1000);
      if (isReply(p)) return p;
      const withMetadata = truthy(args.include_all_metadata);
      return ok({ messages: p.items.map((m) => historyJson(m, withMetadata)), ...p.more });
    },

    'users.info': (args) => {
      const id = str(args.user);
      const u = id ? users.get(id) : undefined;
      if (!id || !u) return fail('user_not_found');
      return ok({ user: userJson(id, u) });
    },

    'usergroups.list': (args) => {
      const includeUsers = truthy(args.include_users);
      return ok({
        usergroups: [...groups.entries()].map(([id, g]) => ({
          id,
          team_id: DEFAULT_TEAM.id,
          is_usergroup: true,
          name: g.handle,
          handle: g.handle,
          user_count: g.users.length,
          ...(includeUsers ? { users: [...g.users] } : {}),
        })),
      });
    },

    'usergroups.users.list': (args) => {
      const id = str(args.usergroup);
      const g = id ? groups.get(id) : undefined;
      if (!g) return fail('no_such_subteam');
      return ok({ users: [...g.users] });
    },
  };

  /** POST to a response URL: JSON with `text` and/or `blocks`, `response_type` ephemeral (default) or in_channel. */
  const respondToUrl = (path: string, raw: string): Reply => {
    const issued = responseUrls.get(path);
    if (!issued) return { status: 404, body: { ok: false, error: 'invalid_url' } };
    if (Date.now() - issued.issuedAt > RESPONSE_URL_LIMITS.validMs) return { status: 404, body: { ok: false, error: 'expired_url' } };
    if (issued.uses >= RESPONSE_URL_LIMITS.uses) return { status: 404, body: { ok: false, error: 'used_url' } };
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return { status: 400, body: { ok: false, error: 'invalid_payload' } };
    }
    if (!isObject(body)) return { status: 400, body: { ok: false, error: 'invalid_payload' } };
    const text = str(body.text) ?? '';
    const blocks = Array.isArray(body.blocks) ? (body.blocks as JsonObject[]) : [];
    if (text === '' && blocks.length === 0) return { status: 400, body: { ok: false, error: 'no_text' } };
    const responseType = body.response_type === 'in_channel' ? 'in_channel' : 'ephemeral';
    issued.uses += 1;
    responses.push({ path, responseType, text, blocks, at: Date.now() });
    return { status: 200, body: { ok: true } };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const send = (r: Reply): void => {
      const payload = JSON.stringify(r.body);
      res.writeHead(r.status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(payload),
        ...r.headers,
      });
      res.end(payload);
    };

    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (/^\/(commands|actions)\//.test(url.pathname) && req.method === 'POST') {
      send(respondToUrl(url.pathname, await readBody(req)));
      return;
    }
    if (!url.pathname.startsWith('/api/')) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const method = decodeURIComponent(url.pathname.slice('/api/'.length));
    const raw = await readBody(req);
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    const contentType = (req.headers['content-type'] ?? '').toLowerCase();
    const args: JsonObject = Object.fromEntries(url.searchParams);
    let bodyToken: string | undefined;
    let badBody = false;
    if (raw.length > 0) {
      if (contentType.startsWith('application/json')) {
        try {
          const parsed: unknown = JSON.parse(raw);
          if (isObject(parsed)) {
            // Slack reads the token of a JSON request from the Authorization header only.
            const { token: _ignored, ...rest } = parsed;
            Object.assign(args, rest);
          } else badBody = true;
        } catch {
          badBody = true;
        }
      } else {
        Object.assign(args, Object.fromEntries(new URLSearchParams(raw)));
        bodyToken = str(args.token);
      }
    }
    if (url.searchParams.has('token')) bodyToken = url.searchParams.get('token') ?? undefined;
    delete args.token;
    for (const f of JSON_FIELDS) {
      const v = args[f];
      if (typeof v === 'string' && v.length > 0) {
        try {
          args[f] = JSON.parse(v) as unknown;
        } catch {
          // left as a string: the blocks validator answers invalid_blocks_format
        }
      }
    }

    const call: RecordedCall = { method, args, at: Date.now(), status: 0, response: {}, injected: false };
    calls.push(call);
    const answer = (r: Reply): void => {
      call.status = r.status;
      call.response = r.body;
      send(r);
    };

    const queue = failures.get(method);
    const injected = queue?.[0];
    if (queue && injected) {
      injected.remaining -= 1;
      if (injected.remaining <= 0) queue.shift();
      const f = injected.response;
      const headers: Record<string, string> = {};
      const retryAfter = f.retryAfter ?? (f.status === 429 ? 1 : undefined);
      if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
      const body = (f.body ?? { ok: false, error: f.status === 429 ? 'ratelimited' : 'internal_error' }) as JsonObject;
      call.injected = true;
      answer({ status: f.status, body, headers });
      return;
    }

    const impl = methods[method];
    if (!impl) {
      answer({ status: 404, body: { ok: false, error: 'unknown_method', req_method: method } });
      return;
    }
    if (badBody) {
      answer(fail('invalid_json'));
      return;
    }
    const auth = req.headers.authorization;
    const headerToken = auth?.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : undefined;
    const given = headerToken || bodyToken;
    if (!given) {
      answer(fail('not_authed'));
      return;
    }
    if (given !== token) {
      answer(fail('invalid_auth'));
      return;
    }
    const scope = neededScope(method, args);
    if (scope !== undefined && missingScopes.has(scope)) {
      answer(fail('missing_scope', { needed: scope, provided: ALL_SCOPES.filter((x) => !missingScopes.has(x)).join(',') }));
      return;
    }
    answer(impl(args));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'fatal_error', detail: String(err) }));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}/api/`;

  const fake: FakeSlack = {
    url: baseUrl,
    token,
    calls,
    messages,
    ephemerals,
    responses,
    responseUrl(kind = 'commands') {
      responseCounter += 1;
      const path = `/${kind}/T0FAKE/${1_000_000 + responseCounter}/${randomUUID().replaceAll('-', '').slice(0, 24)}`;
      responseUrls.set(path, { issuedAt: Date.now(), uses: 0 });
      return new URL(path, baseUrl).toString();
    },
    get rateLimited() {
      return rateLimited;
    },
    callsTo: (method) => calls.filter((c) => c.method === method),
    message: findMessage,
    allMessages: () =>
      [...messages.values()].flat().sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0)),
    topLevel: (channel) => (messages.get(channel) ?? []).filter((m) => m.thread_ts === undefined),
    threadReplies: (channel, ts) => (messages.get(channel) ?? []).filter((m) => m.thread_ts === ts && m.ts !== ts),
    failNext(method, n, response) {
      if (n <= 0) return;
      const queue = failures.get(method) ?? [];
      queue.push({ remaining: n, response });
      failures.set(method, queue);
    },
    setRateLimit: (r) => setRateLimit(r),
    addUser(id, name, realName) {
      users.set(id, realName !== undefined ? { name, realName } : { name });
    },
    async waitFor<T>(predicate: () => T, timeoutMs = 5000, description?: string): Promise<NonNullable<T>> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = predicate();
        if (v) return v;
        if (Date.now() > deadline) {
          const last = calls.slice(-5).map((c) => `${c.method} → ${c.status} ${JSON.stringify(c.response)}`);
          throw new Error(
            `fake Slack: timed out after ${timeoutMs} ms waiting for ${description ?? 'condition'}; last calls:\n  ${last.join('\n  ') || '(none)'}`,
          );
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    reset() {
      calls.length = 0;
      messages.clear();
      ephemerals.length = 0;
      responses.length = 0;
      responseUrls.clear();
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
