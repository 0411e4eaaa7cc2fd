/**
 * A fake DingTalk on 127.0.0.1 for an enterprise internal app's robot, and for a custom robot's
 * webhook, answering as DingTalk documents (open.dingtalk.com):
 * - POST /v1.0/oauth2/accessToken {appKey, appSecret} → {accessToken, expireIn}; the open API
 *   wants it in `x-acs-dingtalk-access-token`, oapi (/topapi/…) as `?access_token=`.
 * - POST /v1.0/im/v1.0/robot/interactiveCards/send (StandardCard, `cardData` a JSON string,
 *   `cardBizId` ours) → {processQueryKey}; PUT /v1.0/im/robots/interactiveCards updates one.
 * - POST /v1.0/robot/oToMessages/batchSend: a one-to-one robot message (sampleMarkdown).
 * - POST /topapi/v2/user/get {userid} → {errcode: 0, result: {name, dept_id_list, role_list}}.
 * - Stream mode: POST /v1.0/gateway/connections/open → {endpoint, ticket}; the websocket at
 *   `endpoint?ticket=` (a ticket is good once) gets CALLBACK frames, which the client must answer
 *   with `{code: 200, headers: {messageId}, message: 'OK', data}`.
 * - POST /robot/send?access_token=…&timestamp=…&sign=…: the custom robot, signed (加签) with
 *   base64(HmacSHA256(key = secret, msg = timestamp + "\n" + secret)); a bad or stale (> 1 h)
 *   signature answers errcode 310000.
 * - The robot limit: 20 messages a minute per robot (cards sent, one-to-one messages and webhook
 *   posts; card updates are not messages). The message beyond it answers errcode 130101 ("send
 *   too fast") and blocks the robot for 10 minutes, during which every message answers 660026.
 *   The app API answers these with HTTP 200 and `{errcode, errmsg}` too, as the robot APIs do.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { json, readJson, startStreamServer, waitForValue } from './stream-server.js';

export const DINGTALK_CLIENT_ID = 'dingfakeclientid01';
export const DINGTALK_CLIENT_SECRET = 'dingtalk-client-secret-for-tests';
export const DINGTALK_CONVERSATION = 'cidALERTS000000==';
export const DINGTALK_WEBHOOK_TOKEN = 'webhook-access-token-for-tests';
export const DINGTALK_WEBHOOK_SECRET = 'SECwebhooksecretfortests';

/** The address book: staff id → name, departments and roles. */
export const DINGTALK_USERS: Readonly<Record<string, { name: string; depts: number[]; roles: number[] }>> = {
  'staff-alice': { name: 'alice', depts: [100], roles: [] },
  'staff-bob': { name: 'bob', depts: [100, 9100], roles: [3001] },
  'staff-carol': { name: 'carol', depts: [100], roles: [] },
};

export interface DingTalkMessage {
  /** cardBizId (app robot) or a local id (webhook). */
  id: string;
  conversation: string;
  kind: 'card' | 'webhook';
  /** The StandardCard (parsed cardData) or the webhook body. */
  content: Record<string, unknown>;
  updates: number;
}

export interface DingTalkAck {
  messageId: string;
  /** The answer's data, parsed. */
  data: unknown;
  ms: number;
}

export interface FakeDingTalkOptions {
  /** Messages a minute per robot before 130101 (default 20); `false` lifts the limit. */
  rateLimit?: number | false;
  /** The fake's clock (ms), for the limit's minute and block. */
  clock?: () => number;
}

export interface FakeDingTalk {
  url: string;
  messages: DingTalkMessage[];
  privates: Array<{ user: string; title: string; text: string }>;
  /** Every refused message: the errcode answered. */
  limited: number[];
  /** Open stream connections. */
  readonly connections: number;
  /** Connections opened so far (each with a ticket of its own). */
  readonly opened: number;
  /** A SYSTEM ping, as DingTalk sends one: resolves with the data the client echoed. */
  ping(): Promise<unknown>;
  /** A SYSTEM disconnect, as DingTalk announces a closing connection; the socket closes a moment later. */
  disconnect(): void;
  /** Sends a card button's callback over the stream, as DingTalk does, and waits for its answer. */
  press(input: { userId: string; cardBizId: string; actionId: string }): Promise<DingTalkAck>;
  waitFor<T>(predicate: () => T, timeoutMs?: number, description?: string): Promise<NonNullable<T>>;
  close(): Promise<void>;
}

export async function startFakeDingTalk(opts: FakeDingTalkOptions = {}): Promise<FakeDingTalk> {
  const clock = opts.clock ?? Date.now;
  const limit = opts.rateLimit ?? 20;
  const tokens = new Set<string>();
  const tickets = new Set<string>();
  const waiting = new Map<string, (data: unknown) => void>();
  const messages: DingTalkMessage[] = [];
  const privates: FakeDingTalk['privates'] = [];
  const limited: number[] = [];
  const sent: number[] = [];
  let blockedUntil = 0;
  let opened = 0;
  const systemFrame = (topic: string, messageId: string, data: string) =>
    JSON.stringify({ specVersion: '1.0', type: 'SYSTEM', headers: { contentType: 'application/json', messageId, time: String(Date.now()), topic }, data });

  /** The robot limit: undefined when the message may go, else the errcode DingTalk answers. */
  const robotLimit = (): number | undefined => {
    if (limit === false) return undefined;
    const now = clock();
    if (now < blockedUntil) return 660026;
    while (sent.length > 0 && (sent[0] ?? 0) <= now - 60_000) sent.shift();
    if (sent.length >= limit) {
      blockedUntil = now + 10 * 60_000;
      return 130101;
    }
    sent.push(now);
    return undefined;
  };
  const refuseLimited = (res: ServerResponse, errcode: number) => {
    limited.push(errcode);
    json(res, 200, { errcode, errmsg: errcode === 130101 ? 'send too fast, exceed 20 times per minute' : 'robot is limited for sending too fast, blocked for 10 minutes' });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = req.method === 'GET' ? {} : await readJson(req);
    const authed = tokens.has(String(req.headers['x-acs-dingtalk-access-token'] ?? url.searchParams.get('access_token') ?? ''));
    const route = `${req.method} ${url.pathname}`;
    if (route === 'POST /v1.0/oauth2/accessToken' || route === 'POST /v1.0/gateway/connections/open') {
      const [key, secret] = route.includes('oauth2') ? [body.appKey, body.appSecret] : [body.clientId, body.clientSecret];
      if (key !== DINGTALK_CLIENT_ID || secret !== DINGTALK_CLIENT_SECRET) return json(res, 400, { code: 'invalidClientIdOrSecret', message: '无效的clientId或者clientSecret' });
      if (route.includes('oauth2')) {
        const token = randomUUID().replace(/-/g, '');
        tokens.add(token);
        return json(res, 200, { accessToken: token, expireIn: 7200 });
      }
      const ticket = randomUUID();
      tickets.add(ticket);
      return json(res, 200, { endpoint: `ws://127.0.0.1:${port}/connect`, ticket });
    }
    if (route === 'POST /robot/send') return webhook(url, body, res);
    if (!authed) return json(res, 401, { code: 'InvalidAuthentication', message: '不合法的access_token' });
    if (route === 'POST /v1.0/im/v1.0/robot/interactiveCards/send') {
      if (body.cardTemplateId !== 'StandardCard' || body.robotCode !== DINGTALK_CLIENT_ID || typeof body.cardBizId !== 'string' || typeof body.cardData !== 'string') {
        return json(res, 400, { code: 'invalidParameter', message: 'cardTemplateId, robotCode, cardBizId and cardData are required' });
      }
      if (body.openConversationId !== DINGTALK_CONVERSATION) return json(res, 400, { code: 'invalidParameter.openConversationId', message: '机器人不在群内' });
      if (messages.some((m) => m.id === body.cardBizId)) return json(res, 400, { code: 'param.cardBizIdDuplicate', message: 'cardBizId already used' });
      const errcode = robotLimit();
      if (errcode !== undefined) return refuseLimited(res, errcode);
      messages.push({ id: body.cardBizId, conversation: DINGTALK_CONVERSATION, kind: 'card', content: JSON.parse(body.cardData) as Record<string, unknown>, updates: 0 });
      return json(res, 200, { processQueryKey: randomUUID() });
    }
    if (route === 'PUT /v1.0/im/robots/interactiveCards') {
      const message = messages.find((m) => m.id === body.cardBizId && m.kind === 'card');
      if (!message) return json(res, 400, { code: 'param.cardBizIdNotExist', message: 'card not found' });
      message.content = JSON.parse(String(body.cardData)) as Record<string, unknown>;
      message.updates += 1;
      return json(res, 200, { success: true });
    }
    if (route === 'POST /v1.0/robot/oToMessages/batchSend') {
      const errcode = robotLimit();
      if (errcode !== undefined) return refuseLimited(res, errcode);
      const param = JSON.parse(String(body.msgParam)) as { title: string; text: string };
      for (const user of (body.userIds as string[] | undefined) ?? []) privates.push({ user, ...param });
      return json(res, 200, { processQueryKey: randomUUID(), invalidStaffIdList: [], flowControlledStaffIdList: [] });
    }
    if (route === 'POST /topapi/v2/user/get') {
      const user = DINGTALK_USERS[String(body.userid)];
      if (!user) return json(res, 200, { errcode: 60121, errmsg: '找不到该用户' });
      return json(res, 200, { errcode: 0, errmsg: 'ok', result: { userid: body.userid, name: user.name, dept_id_list: user.depts, role_list: user.roles.map((id) => ({ id, name: `role ${id}`, group_name: 'default' })) } });
    }
    return json(res, 404, { code: 'NotFound', message: `no route ${route}` });
  };

  const webhook = (url: URL, body: Record<string, unknown>, res: ServerResponse) => {
    if (url.searchParams.get('access_token') !== DINGTALK_WEBHOOK_TOKEN) return json(res, 200, { errcode: 300001, errmsg: 'token is not exist' });
    const timestamp = Number(url.searchParams.get('timestamp'));
    const expected = createHmac('sha256', DINGTALK_WEBHOOK_SECRET).update(`${timestamp}\n${DINGTALK_WEBHOOK_SECRET}`).digest('base64');
    if (!Number.isFinite(timestamp) || Math.abs(clock() - timestamp) > 3_600_000 || url.searchParams.get('sign') !== expected) {
      return json(res, 200, { errcode: 310000, errmsg: 'sign not match' });
    }
    if (body.msgtype !== 'markdown' && body.msgtype !== 'actionCard') return json(res, 200, { errcode: 40035, errmsg: 'msgtype not supported here' });
    const errcode = robotLimit();
    if (errcode !== undefined) return refuseLimited(res, errcode);
    messages.push({ id: `webhook-${messages.length + 1}`, conversation: 'webhook', kind: 'webhook', content: body, updates: 0 });
    return json(res, 200, { errcode: 0, errmsg: 'ok' });
  };

  const { url, port, sockets, close } = await startStreamServer({
    handle,
    failure: (error) => ({ code: 'ServiceUnavailable', message: String(error) }),
    refuse: (u) => (u.pathname !== '/connect' || !tickets.delete(u.searchParams.get('ticket') ?? '') ? '401 Unauthorized' : undefined),
    onStream: (ws) => {
      opened += 1;
      ws.on('message', (raw) => {
        const frame = JSON.parse(Buffer.from(raw as Buffer).toString('utf8')) as { headers?: { messageId?: string }; data?: string };
        const id = frame.headers?.messageId;
        if (id !== undefined) waiting.get(id)?.(frame.data === undefined ? undefined : JSON.parse(frame.data));
      });
    },
  });

  return {
    url,
    messages,
    privates,
    limited,
    get connections() {
      return sockets.size;
    },
    get opened() {
      return opened;
    },
    async ping() {
      const socket = [...sockets][0];
      if (!socket) throw new Error('no stream connection to ping');
      const messageId = randomUUID();
      const echoed = new Promise<unknown>((resolve) => waiting.set(messageId, resolve));
      socket.send(systemFrame('ping', messageId, JSON.stringify({ opaque: messageId })));
      return echoed;
    },
    disconnect() {
      for (const socket of sockets) {
        socket.send(systemFrame('disconnect', randomUUID(), JSON.stringify({ reason: 'server restarting' })));
        setTimeout(() => socket.close(), 200);
      }
    },
    async press({ userId, cardBizId, actionId }) {
      const socket = [...sockets][0];
      if (!socket) throw new Error('no stream connection to deliver the callback on');
      const messageId = randomUUID();
      const data = {
        outTrackId: cardBizId,
        corpId: 'dingcorpfortests',
        userId,
        spaceType: 'IM',
        spaceId: DINGTALK_CONVERSATION,
        type: 'actionCallback',
        content: JSON.stringify({ cardPrivateData: { actionIds: [actionId], params: {} } }),
      };
      const started = performance.now();
      const answered = new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`callback ${messageId} was not answered within 10 s`)), 10_000);
        waiting.set(messageId, (answer) => {
          clearTimeout(timer);
          waiting.delete(messageId);
          resolve(answer);
        });
      });
      socket.send(
        JSON.stringify({
          specVersion: '1.0',
          type: 'CALLBACK',
          headers: { appId: 'fake-app', connectionId: 'fake-connection', contentType: 'application/json', messageId, time: String(Date.now()), topic: '/v1.0/card/instances/callback' },
          data: JSON.stringify(data),
        }),
      );
      const answer = await answered;
      return { messageId, data: answer, ms: performance.now() - started };
    },
    waitFor: waitForValue,
    close,
  };
}
