/**
 * A fake Feishu (open.feishu.cn) on 127.0.0.1 for a custom app's bot and a custom bot's webhook,
 * answering as Feishu documents, for the real `@larksuiteoapi/node-sdk` (its `domain` option):
 * - POST /open-apis/auth/v3/tenant_access_token/internal {app_id, app_secret} → tenant token;
 *   every other call wants `Authorization: Bearer <token>` (99991663 without a valid one).
 * - POST /open-apis/im/v1/messages?receive_id_type=chat_id, POST /open-apis/im/v1/messages/:id/reply
 *   (reply_in_thread) → data.message_id; a create with a `uuid` seen in the last hour answers the
 *   first message again instead of sending. PATCH /open-apis/im/v1/messages/:id updates a shared
 *   interactive card (`config.update_multi`), else 230001.
 * - POST /open-apis/ephemeral/v1/send: a card only one user sees. GET /open-apis/contact/v3/users/:id.
 * - Rate limits: 5 messages a second and 100 a minute per chat; beyond, HTTP 429 with code
 *   99991400 and `x-ogw-ratelimit-reset`.
 * - The long connection: POST /callback/ws/endpoint {AppID, AppSecret} → {URL, ClientConfig}; on
 *   the websocket, protobuf frames (see ./feishu-frames.ts): the client's pings are answered with
 *   pongs; a card.action.trigger event goes out as a data frame and the client's answer must come
 *   back on the same frame (headers echoed) within 3 seconds, its payload `{code: 200, data}`.
 * - POST /open-apis/bot/v2/hook/:token: the custom bot, signed with base64(HmacSHA256(key =
 *   timestamp + "\n" + secret, msg = "")); a bad or stale signature answers 19021; beyond 100 a
 *   minute or 5 a second, 11232.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeFrame, encodeFrame, header } from './feishu-frames.js';
import { json, readJson, startStreamServer, waitForValue } from './stream-server.js';

export const FEISHU_APP_ID = 'cli_a1b2c3d4e5f60718';
export const FEISHU_APP_SECRET = 'feishu-app-secret-for-tests';
export const FEISHU_CHAT = 'oc_alerts0000000000000000000000';
export const FEISHU_HOOK = 'hook-token-for-tests';
export const FEISHU_WEBHOOK_SECRET = 'feishu-webhook-secret-for-tests';

export const FEISHU_USERS: Readonly<Record<string, { name: string; departments: string[] }>> = {
  ou_alice: { name: 'alice', departments: ['od-ops'] },
  ou_bob: { name: 'bob', departments: ['od-ops', 'od-oncall'] },
  ou_carol: { name: 'carol', departments: ['od-ops'] },
};

export interface FeishuMessage {
  id: string;
  chat: string;
  /** The card the message replies to in its thread, if any. */
  root?: string | undefined;
  msgType: string;
  content: Record<string, unknown>;
  updates: number;
}

export interface FakeFeishuOptions {
  /** `false` lifts the 5-a-second and 100-a-minute limits. */
  rateLimit?: boolean;
  clock?: () => number;
}

export interface FakeFeishu {
  url: string;
  messages: FeishuMessage[];
  ephemerals: Array<{ user: string; chat: string; card: Record<string, unknown> }>;
  /** Webhook posts (their bodies, signature fields removed). */
  hooks: Array<Record<string, unknown>>;
  limited: number[];
  readonly connections: number;
  /** Makes every tenant access token handed out so far invalid (as an app secret reset does). */
  revokeTokens(): void;
  /**
   * A button press delivered as Feishu does on the long connection; resolves with the client's
   * answer. With `option`, a choice in a select_static instead: the select's `value` and the
   * chosen option's value, as Feishu's callback carries them (`action.tag: select_static`).
   */
  press(input: { openId: string; messageId: string; value: unknown; option?: string }): Promise<{ code: number; data: unknown; ms: number }>;
  waitFor<T>(predicate: () => T, timeoutMs?: number, description?: string): Promise<NonNullable<T>>;
  close(): Promise<void>;
}

/** Sliding windows of one chat's sends: true when one more would go past 5 a second or 100 a minute. */
function overLimit(times: number[], now: number): boolean {
  while (times.length > 0 && (times[0] ?? 0) <= now - 60_000) times.shift();
  return times.length >= 100 || times.filter((t) => t > now - 1000).length >= 5;
}

export async function startFakeFeishu(opts: FakeFeishuOptions = {}): Promise<FakeFeishu> {
  const clock = opts.clock ?? Date.now;
  const tokens = new Set<string>();
  const waiting = new Map<string, (answer: { code: number; data: unknown }) => void>();
  const messages: FeishuMessage[] = [];
  const ephemerals: FakeFeishu['ephemerals'] = [];
  const hooks: FakeFeishu['hooks'] = [];
  const limited: number[] = [];
  const uuids = new Map<string, { id: string; at: number }>();
  const sends = new Map<string, number[]>();
  let seq = 0;

  const limit = (key: string): boolean => {
    if (opts.rateLimit === false) return false;
    const times = sends.get(key) ?? [];
    sends.set(key, times);
    if (overLimit(times, clock())) return true;
    times.push(clock());
    return false;
  };
  const tooFast = (res: ServerResponse) => {
    limited.push(99991400);
    json(res, 429, { code: 99991400, msg: 'request trigger frequency limit' }, { 'x-ogw-ratelimit-limit': '5', 'x-ogw-ratelimit-reset': '1' });
  };
  const created = (res: ServerResponse, m: FeishuMessage) =>
    json(res, 200, { code: 0, msg: 'success', data: { message_id: m.id, chat_id: m.chat, msg_type: m.msgType, root_id: m.root, parent_id: m.root, create_time: String(clock()) } });

  /** A create: the uuid of one sent within the hour answers that one again. */
  const create = (res: ServerResponse, chat: string, body: Record<string, unknown>, root?: string) => {
    const uuid = typeof body.uuid === 'string' ? body.uuid : undefined;
    const earlier = uuid === undefined ? undefined : uuids.get(uuid);
    const before = earlier && earlier.at > clock() - 3_600_000 ? messages.find((m) => m.id === earlier.id) : undefined;
    if (before) return created(res, before);
    if (typeof body.msg_type !== 'string' || typeof body.content !== 'string') return json(res, 400, { code: 230001, msg: 'invalid message content' });
    if (limit(chat)) return tooFast(res);
    const m: FeishuMessage = { id: `om_${randomUUID().replace(/-/g, '')}`, chat, root, msgType: body.msg_type, content: JSON.parse(body.content) as Record<string, unknown>, updates: 0 };
    messages.push(m);
    if (uuid !== undefined) uuids.set(uuid, { id: m.id, at: clock() });
    return created(res, m);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = req.method === 'GET' ? {} : await readJson(req);
    const path = url.pathname;
    if (req.method === 'POST' && path === '/open-apis/auth/v3/tenant_access_token/internal') {
      if (body.app_id !== FEISHU_APP_ID || body.app_secret !== FEISHU_APP_SECRET) return json(res, 400, { code: 10014, msg: 'app secret invalid' });
      const token = `t-${randomUUID()}`;
      tokens.add(token);
      return json(res, 200, { code: 0, msg: 'ok', tenant_access_token: token, expire: 7200 });
    }
    if (req.method === 'POST' && path === '/callback/ws/endpoint') {
      if (body.AppID !== FEISHU_APP_ID || body.AppSecret !== FEISHU_APP_SECRET) return json(res, 200, { code: 514, msg: 'auth failed', data: {} });
      return json(res, 200, { code: 0, msg: 'ok', data: { URL: `ws://127.0.0.1:${port}/ws?device_id=fake-device&service_id=33`, ClientConfig: { PingInterval: 120, ReconnectCount: -1, ReconnectInterval: 1, ReconnectNonce: 1 } } });
    }
    if (req.method === 'POST' && path.startsWith('/open-apis/bot/v2/hook/')) return webhook(path.split('/').pop() ?? '', body, res);
    if (!tokens.has(String(req.headers.authorization ?? '').replace(/^Bearer /, ''))) return json(res, 400, { code: 99991663, msg: 'Invalid access token for authorization' });
    const reply = /^\/open-apis\/im\/v1\/messages\/([^/]+)\/reply$/.exec(path);
    const one = /^\/open-apis\/im\/v1\/messages\/([^/]+)$/.exec(path);
    if (req.method === 'POST' && path === '/open-apis/im/v1/messages') {
      if (url.searchParams.get('receive_id_type') !== 'chat_id' || body.receive_id !== FEISHU_CHAT) return json(res, 400, { code: 230002, msg: 'The bot is not in the chat' });
      return create(res, FEISHU_CHAT, body);
    }
    if (req.method === 'POST' && reply) {
      const parent = messages.find((m) => m.id === reply[1]);
      if (!parent) return json(res, 400, { code: 230011, msg: 'The message was withdrawn or does not exist' });
      return create(res, parent.chat, body, parent.root ?? parent.id);
    }
    if (req.method === 'PATCH' && one) {
      const m = messages.find((x) => x.id === one[1]);
      if (!m) return json(res, 400, { code: 230011, msg: 'The message was withdrawn or does not exist' });
      const content = JSON.parse(String(body.content)) as { config?: { update_multi?: boolean } };
      if (m.msgType !== 'interactive' || content.config?.update_multi !== true) return json(res, 400, { code: 230001, msg: 'only shared interactive cards can be updated' });
      m.content = content;
      m.updates += 1;
      return json(res, 200, { code: 0, msg: 'success', data: {} });
    }
    if (req.method === 'POST' && path === '/open-apis/ephemeral/v1/send') {
      if (limit(String(body.chat_id))) return tooFast(res);
      ephemerals.push({ user: String(body.open_id), chat: String(body.chat_id), card: body.card as Record<string, unknown> });
      return json(res, 200, { code: 0, msg: 'ok', data: { message_id: `om_eph${ephemerals.length}` } });
    }
    const user = /^\/open-apis\/contact\/v3\/users\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && user) {
      const u = FEISHU_USERS[user[1] ?? ''];
      if (!u || url.searchParams.get('user_id_type') !== 'open_id') return json(res, 400, { code: 41050, msg: 'no user authority error' });
      return json(res, 200, { code: 0, msg: 'success', data: { user: { open_id: user[1], name: u.name, department_ids: u.departments } } });
    }
    return json(res, 404, { code: 404, msg: `no route ${req.method} ${path}` });
  };

  const webhook = (hook: string, body: Record<string, unknown>, res: ServerResponse) => {
    if (hook !== FEISHU_HOOK) return json(res, 200, { code: 19001, msg: 'param invalid: incoming webhook access token invalid' });
    const timestamp = Number(body.timestamp);
    const expected = createHmac('sha256', `${timestamp}\n${FEISHU_WEBHOOK_SECRET}`).update('').digest('base64');
    if (!Number.isFinite(timestamp) || Math.abs(clock() / 1000 - timestamp) > 3600 || body.sign !== expected) {
      return json(res, 200, { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' });
    }
    if (limit(`hook:${hook}`)) {
      limited.push(11232);
      return json(res, 200, { code: 11232, msg: 'frequency limited psm[lark.oapi.app_platform_runtime]appID[1]' });
    }
    const { timestamp: _t, sign: _s, ...rest } = body;
    hooks.push(rest);
    return json(res, 200, { code: 0, msg: 'success', data: {} });
  };

  const { url, port, sockets, close } = await startStreamServer({
    handle,
    failure: (error) => ({ code: 1, msg: String(error) }),
    refuse: (u) => (u.pathname !== '/ws' || u.searchParams.get('service_id') !== '33' ? '403 Forbidden' : undefined),
    onStream: (ws) => {
      ws.on('message', (raw) => {
        const frame = decodeFrame(Buffer.from(raw as Buffer));
        const type = header(frame, 'type');
        if (frame.method === 0 && type === 'ping') {
          const pong = { PingInterval: 120, ReconnectCount: -1, ReconnectInterval: 1, ReconnectNonce: 1 };
          ws.send(encodeFrame({ ...frame, headers: [{ key: 'type', value: 'pong' }], payload: Buffer.from(JSON.stringify(pong)) }));
          return;
        }
        const id = header(frame, 'message_id');
        if (frame.method === 1 && id !== undefined && frame.payload) {
          const answer = JSON.parse(frame.payload.toString('utf8')) as { code: number; data?: string };
          waiting.get(id)?.({ code: answer.code, data: answer.data === undefined ? undefined : JSON.parse(Buffer.from(answer.data, 'base64').toString('utf8')) });
        }
      });
    },
  });

  return {
    url,
    messages,
    ephemerals,
    hooks,
    limited,
    get connections() {
      return sockets.size;
    },
    revokeTokens: () => tokens.clear(),
    async press({ openId, messageId, value, option }) {
      const socket = [...sockets][0];
      if (!socket) throw new Error('no long connection to deliver the card action on');
      const message = messages.find((m) => m.id === messageId);
      const eventId = randomUUID();
      const event = {
        schema: '2.0',
        header: { event_id: eventId, token: 'verification-token', create_time: String(clock() * 1000), event_type: 'card.action.trigger', tenant_key: 'tenant-fake', app_id: FEISHU_APP_ID },
        event: {
          operator: { tenant_key: 'tenant-fake', open_id: openId, union_id: `on_${openId}` },
          token: `c-${randomUUID()}`,
          action: option === undefined ? { value, tag: 'button' } : { value, tag: 'select_static', option },
          host: 'im_message',
          context: { open_message_id: messageId, open_chat_id: message?.chat ?? FEISHU_CHAT },
        },
      };
      seq += 1;
      const started = performance.now();
      const answered = new Promise<{ code: number; data: unknown }>((resolve, reject) => {
        // Feishu waits 3 seconds for the answer, then shows the user an error.
        const timer = setTimeout(() => reject(new Error(`card action ${eventId} was not answered within 3 s`)), 3000);
        waiting.set(eventId, (a) => {
          clearTimeout(timer);
          waiting.delete(eventId);
          resolve(a);
        });
      });
      socket.send(
        encodeFrame({
          SeqID: seq,
          LogID: seq,
          service: 33,
          method: 1,
          headers: [
            { key: 'type', value: 'event' },
            { key: 'message_id', value: eventId },
            { key: 'sum', value: '1' },
            { key: 'seq', value: '0' },
            { key: 'trace_id', value: randomUUID() },
          ],
          payload: Buffer.from(JSON.stringify(event)),
        }),
      );
      const answer = await answered;
      return { ...answer, ms: performance.now() - started };
    },
    waitFor: waitForValue,
    close,
  };
}
