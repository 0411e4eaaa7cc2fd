/**
 * An HTTP proxy on 127.0.0.1 in front of an upstream (the fake Slack Web API) that can be switched,
 * request by request, between passing through and a chat outage:
 *
 *   const proxy = await startFaultProxy(slack.url);              // slack.url ends in /api/
 *   proxy.set({ kind: 'status', status: 500 });                  // answer 500 without forwarding
 *   proxy.set({ kind: 'status', status: 429, retryAfter: 1 });   // rate limited, Retry-After: 1
 *   proxy.set({ kind: 'hang', closeAfterMs: 1000 });             // accept, never answer, reset after 1 s
 *   await proxy.set({ kind: 'refuse' });                         // listening socket closed: ECONNREFUSED
 *   await proxy.set({ kind: 'pass' });                           // recovery
 *
 * In every fault mode the upstream never sees the request, so a fault can never be the reason a
 * message shows up twice. (`drop-response` is the exception on purpose: Slack processed the call
 * and the answer is lost on the way back, which no client can tell from a timeout.)
 * Every request is recorded with what was done to it.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode =
  | { kind: 'pass' }
  /** Answer this status (not forwarded). 429 gets `Retry-After: retryAfter` (default 1). */
  | { kind: 'status'; status: number; retryAfter?: number; body?: object }
  /** Accept the request and never answer; the connection is reset after `closeAfterMs` (never, when absent). */
  | { kind: 'hang'; closeAfterMs?: number }
  /** Close the listening socket (and every open connection): new connections are refused. */
  | { kind: 'refuse' }
  /** Forward, let the upstream process it, then reset the connection instead of answering. */
  | { kind: 'drop-response' };

export type Outcome = 'passed' | 'status' | 'hung' | 'dropped' | 'upstream-error';

export interface ProxiedRequest {
  /** Date.now() when the request (with its whole body) arrived. */
  at: number;
  /** Slack method (`chat.postMessage`), taken from the path. */
  method: string;
  outcome: Outcome;
  /** Status answered (0 when none was). */
  status: number;
  /** sha256 of the request body: a retry of the same call has the same digest. */
  digest: string;
  body: string;
}

export interface FaultProxy {
  /** Base URL ending in `/api/`, like the fake's. */
  readonly url: string;
  readonly port: number;
  readonly requests: ProxiedRequest[];
  mode(): FaultMode;
  /** Switches the mode; resolves once the listening socket is closed or reopened as needed. */
  set(mode: FaultMode): Promise<void>;
  /** Requests the proxy failed on purpose (status, hung, dropped). */
  injected(): number;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /**
   * Called when the upstream has answered a passed-through request, before the answer is relayed;
   * `'drop'` resets the connection instead (the upstream did the work, the client never hears).
   */
  onUpstreamAnswer?: (request: ProxiedRequest, upstreamStatus: number) => 'relay' | 'drop';
}

export async function startFaultProxy(upstreamApiUrl: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const upstream = new URL(upstreamApiUrl);
  let mode: FaultMode = { kind: 'pass' };
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const hangTimers = new Set<NodeJS.Timeout>();
  let port = 0;
  let listening = false;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const path = new URL(req.url ?? '/', 'http://proxy.invalid').pathname;
    const record: ProxiedRequest = {
      at: Date.now(),
      method: decodeURIComponent(path.replace(/^\/api\//, '')),
      outcome: 'passed',
      status: 0,
      digest: createHash('sha256').update(body).digest('hex'),
      body: body.toString('utf8'),
    };
    requests.push(record);
    const current = mode;

    if (current.kind === 'status') {
      record.outcome = 'status';
      record.status = current.status;
      const retryAfter = current.retryAfter ?? (current.status === 429 ? 1 : undefined);
      const payload = JSON.stringify(current.body ?? { ok: false, error: current.status === 429 ? 'ratelimited' : 'internal_error' });
      res.writeHead(current.status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(payload),
        ...(retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {}),
      });
      res.end(payload);
      return;
    }
    if (current.kind === 'hang' || current.kind === 'refuse') {
      // 'refuse' here means the request came in on a connection accepted just before the switch.
      record.outcome = 'hung';
      const closeAfter = current.kind === 'hang' ? current.closeAfterMs : 0;
      if (closeAfter !== undefined) {
        const timer = setTimeout(() => {
          hangTimers.delete(timer);
          req.socket.destroy();
        }, closeAfter);
        hangTimers.add(timer);
      }
      return;
    }

    // pass or drop-response: forward to the upstream.
    const answer = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer } | undefined>((resolve) => {
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host, 'content-length': String(body.length) },
          agent: false,
        },
        (up) => {
          const parts: Buffer[] = [];
          up.on('data', (c: Buffer) => parts.push(c));
          up.on('end', () => resolve({ status: up.statusCode ?? 502, headers: up.headers, body: Buffer.concat(parts) }));
          up.on('error', () => resolve(undefined));
        },
      );
      forward.on('error', () => resolve(undefined));
      forward.end(body);
    });
    if (!answer) {
      record.outcome = 'upstream-error';
      record.status = 502;
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('upstream unreachable');
      return;
    }
    if (current.kind === 'drop-response' || options.onUpstreamAnswer?.(record, answer.status) === 'drop') {
      record.outcome = 'dropped';
      req.socket.destroy();
      return;
    }
    record.status = answer.status;
    const headers = { ...answer.headers };
    delete headers['transfer-encoding'];
    delete headers.connection;
    res.writeHead(answer.status, { ...headers, 'content-length': String(answer.body.length) });
    res.end(answer.body);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        listening = true;
        resolve();
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });

  await listen();

  return {
    get url() {
      return `http://127.0.0.1:${port}/api/`;
    },
    get port() {
      return port;
    },
    requests,
    mode: () => mode,
    async set(next) {
      mode = next;
      if (next.kind === 'refuse') await stopListening();
      else if (!listening) await listen();
    },
    injected: () => requests.filter((r) => r.outcome === 'status' || r.outcome === 'hung' || r.outcome === 'dropped').length,
    async close() {
      for (const t of hangTimers) clearTimeout(t);
      hangTimers.clear();
      await stopListening();
    },
  };
}
