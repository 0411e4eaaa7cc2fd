/**
 * A stand-in for the bot's runner routes, for the fault tests of the runner agent that need the
 * bot to misbehave on cue (unreachable, then back on the same port). It speaks the runner protocol
 * (src/runners/protocol.ts) and holds the runner to it: every request is checked against the
 * protocol's zod schemas and its headers, and a request that breaks them fails the test.
 */
import http from 'node:http';
import type net from 'node:net';
import {
  EVENTS_PATH,
  eventsRequestSchema,
  POLL_PATH,
  pollRequestSchema,
  RUNNER_HEADER,
  type Job,
  type PollRequest,
  type RunnerEvent,
} from '../../src/runners/protocol.js';

export interface BotDouble {
  url: string;
  polls: PollRequest[];
  /** Every event received, in order, with whether it was accepted. */
  events: Array<RunnerEvent & { accepted: boolean }>;
  /** Protocol violations seen (the test asserts there are none). */
  violations: string[];
  queue(job: Job): void;
  cancel(id: number): void;
  /** Decides, per event, whether it is taken (undefined) or refused (a reason). Default: all taken. */
  refuseWith: (event: RunnerEvent) => string | undefined;
  /** Closes the port, cutting open connections, as a bot that went down. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startBotDouble(o: { name: string; token: string; heartbeatMs?: number }): Promise<BotDouble> {
  const pending: Job[] = [];
  const cancels: number[] = [];
  const waiting = new Set<() => void>();
  const sockets = new Set<net.Socket>();
  const heartbeatMs = o.heartbeatMs ?? 2000;

  const wakeAll = () => {
    for (const w of [...waiting]) w();
  };

  const readJson = async (req: http.IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  };

  const answer = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.method !== 'POST' || (req.url !== POLL_PATH && req.url !== EVENTS_PATH)) {
        double.violations.push(`${req.method} ${req.url}`);
        return answer(res, 404, { error: 'not found' });
      }
      if (req.headers.authorization !== `Bearer ${o.token}` || req.headers[RUNNER_HEADER] !== o.name) {
        double.violations.push(`${req.url}: wrong credentials`);
        return answer(res, 401, { error: 'unknown runner' });
      }
      const body = await readJson(req);
      if (req.url === POLL_PATH) {
        const parsed = pollRequestSchema.safeParse(body);
        if (!parsed.success) {
          double.violations.push(`poll: ${parsed.error.message}`);
          return answer(res, 400, { error: 'bad poll' });
        }
        double.polls.push(parsed.data);
        // Held until there is something to hand out, or the runner's wait is over.
        if (pending.length === 0 && cancels.length === 0 && parsed.data.waitMs > 0) {
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              waiting.delete(done);
              resolve();
            };
            const timer = setTimeout(done, parsed.data.waitMs);
            waiting.add(done);
            res.once('close', done);
          });
        }
        if (res.destroyed) return;
        return answer(res, 200, { jobs: pending.splice(0), cancel: cancels.splice(0), heartbeatMs });
      }
      const parsed = eventsRequestSchema.safeParse(body);
      if (!parsed.success) {
        double.violations.push(`events: ${parsed.error.message}`);
        return answer(res, 400, { error: 'bad events' });
      }
      const results = parsed.data.events.map((event) => {
        const reason = double.refuseWith(event);
        double.events.push({ ...event, accepted: reason === undefined });
        return reason === undefined ? { jobId: event.jobId, accepted: true } : { jobId: event.jobId, accepted: false, reason };
      });
      return answer(res, 200, { results });
    })().catch((error: unknown) => {
      double.violations.push(String(error));
      if (!res.headersSent) answer(res, 500, { error: 'double failed' });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const port = await listen(0);

  const double: BotDouble = {
    url: `http://127.0.0.1:${port}`,
    polls: [],
    events: [],
    violations: [],
    queue(job) {
      pending.push(job);
      wakeAll();
    },
    cancel(id) {
      cancels.push(id);
      wakeAll();
    },
    refuseWith: () => undefined,
    async down() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    async up() {
      await listen(port);
    },
    async close() {
      if (server.listening) await double.down();
    },
  };
  return double;
}
