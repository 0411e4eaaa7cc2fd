import { WebSocket } from 'undici';
import type { Logger } from 'pino';
import { z } from 'zod';

/**
 * DingTalk's Stream mode: the app opens a websocket to DingTalk and receives its callbacks over it,
 * so the bot needs no public URL. The official `dingtalk-stream` package fixes DingTalk's gateway
 * address in its code (it cannot be pointed anywhere else, such as a test server), so the protocol
 * is implemented here as DingTalk documents it (open.dingtalk.com, "Stream 模式协议接入说明"):
 *
 * 1. POST {api}/v1.0/gateway/connections/open with clientId, clientSecret and the subscriptions
 *    answers `{endpoint, ticket}`; the websocket is `endpoint?ticket=…` (a ticket is good once).
 * 2. Frames are JSON: `{specVersion, type: SYSTEM|EVENT|CALLBACK, headers: {messageId, topic, …},
 *    data}` with `data` a JSON string.
 * 3. Every EVENT and CALLBACK is answered on the socket with `{code: 200, headers: {contentType,
 *    messageId}, message: 'OK', data}`; DingTalk pushes an unanswered one again.
 * 4. SYSTEM `ping` is echoed back with its data; SYSTEM `disconnect` announces that DingTalk closes
 *    this connection: a new one is opened (with a new ticket).
 */
export const CARD_CALLBACK_TOPIC = '/v1.0/card/instances/callback';

const Frame = z.looseObject({
  type: z.string(),
  headers: z.looseObject({ messageId: z.string().optional(), topic: z.string().optional() }),
  data: z.string().optional(),
});
const Endpoint = z.looseObject({ endpoint: z.string().min(1), ticket: z.string().min(1) });

export interface StreamOptions {
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  /** CALLBACK topics to subscribe to, each with the answer's `response` (it must return quickly). */
  callbacks: Record<string, (data: unknown, messageId: string) => unknown>;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** First delay before connecting again; doubled up to 30 s while attempts fail. */
  retryMs?: number;
}

const MAX_RETRY_MS = 30_000;

export class DingTalkStream {
  private socket: WebSocket | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  /** Resolves once the first connection is open (tests and start-up logs wait for it). */
  readonly connected: Promise<void>;
  private markConnected!: () => void;

  constructor(private readonly o: StreamOptions) {
    this.delay = o.retryMs ?? 1000;
    this.connected = new Promise((resolve) => (this.markConnected = resolve));
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close();
    this.socket = undefined;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let url: string;
    try {
      url = await this.openConnection();
    } catch (error) {
      this.o.log.warn({ err: error }, 'dingtalk stream: could not open a connection; trying again');
      this.retry();
      return;
    }
    if (this.stopped) return;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.delay = this.o.retryMs ?? 1000;
      this.o.log.info('dingtalk stream connected');
      this.markConnected();
    });
    socket.addEventListener('message', (event) => {
      if (typeof event.data === 'string') this.onFrame(socket, event.data);
    });
    socket.addEventListener('error', () => undefined);
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.retry();
    });
  }

  private retry(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, MAX_RETRY_MS);
  }

  private async openConnection(): Promise<string> {
    const res = await fetch(`${this.o.apiUrl}/v1.0/gateway/connections/open`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        clientId: this.o.clientId,
        clientSecret: this.o.clientSecret,
        subscriptions: Object.keys(this.o.callbacks).map((topic) => ({ type: 'CALLBACK', topic })),
        ua: 'incident-chatops-bot',
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`gateway answered ${res.status}: ${text.slice(0, 200)}`);
    const answer = Endpoint.parse(JSON.parse(text));
    const url = new URL(answer.endpoint);
    url.searchParams.set('ticket', answer.ticket);
    return url.toString();
  }

  private onFrame(socket: WebSocket, raw: string): void {
    let frame: z.infer<typeof Frame>;
    try {
      frame = Frame.parse(JSON.parse(raw));
    } catch {
      this.o.log.warn('dingtalk stream: a frame that is not DingTalk JSON was ignored');
      return;
    }
    const { messageId, topic } = frame.headers;
    const answer = (data: string) => socket.send(JSON.stringify({ code: 200, headers: { contentType: 'application/json', messageId }, message: 'OK', data }));
    if (frame.type === 'SYSTEM') {
      if (topic === 'ping') socket.send(JSON.stringify({ code: 200, headers: frame.headers, message: 'OK', data: frame.data }));
      // DingTalk closes this connection soon: open the next one now, and let this one drain.
      if (topic === 'disconnect') {
        this.socket = undefined;
        this.retry();
      }
      return;
    }
    if (messageId === undefined) return;
    if (frame.type === 'EVENT') {
      answer(JSON.stringify({ status: 'SUCCESS' }));
      return;
    }
    const handler = topic === undefined ? undefined : this.o.callbacks[topic];
    let response: unknown = {};
    if (handler) {
      try {
        response = handler(frame.data === undefined ? undefined : (JSON.parse(frame.data) as unknown), messageId) ?? {};
      } catch (error) {
        this.o.log.error({ err: error, topic }, 'dingtalk stream: callback failed');
      }
    }
    answer(JSON.stringify({ response }));
  }
}
