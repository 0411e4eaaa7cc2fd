/**
 * What the fakes of DingTalk and Feishu do alike: an HTTP API answering JSON, and a stream (a
 * WebSocket upgrade on the same port) that the platform's client holds open to receive events.
 * Each fake keeps its own routes, its own check of who may open a stream, and its own frames.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/** Polls `predicate` (what a test expects of the fake's state) until it holds. */
export async function waitForValue<T>(predicate: () => T, timeoutMs = 5000, description = 'condition'): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface StreamServerOptions {
  /** Answers an API request. */
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>;
  /** The JSON body of the 500 answered when `handle` throws, in the platform's error shape. */
  failure: (error: unknown) => unknown;
  /** The status line (e.g. `401 Unauthorized`) refusing a stream to `url`; undefined accepts it. */
  refuse: (url: URL) => string | undefined;
  /** A stream just opened; closed ones leave `sockets` by themselves. */
  onStream: (ws: WebSocket) => void;
}

export interface StreamServer {
  url: string;
  port: number;
  /** The streams open now. */
  sockets: Set<WebSocket>;
  /** Drops every stream and connection, as the platform going away would. */
  close: () => Promise<void>;
}

export async function startStreamServer(o: StreamServerOptions): Promise<StreamServer> {
  const sockets = new Set<WebSocket>();
  const server = createServer((req, res) => {
    o.handle(req, res).catch((error: unknown) => json(res, 500, o.failure(error)));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const refusal = o.refuse(new URL(req.url ?? '/', 'http://fake'));
    if (refusal !== undefined) {
      socket.end(`HTTP/1.1 ${refusal}\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      o.onStream(ws);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    sockets,
    close: async () => {
      for (const s of sockets) s.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
