/**
 * Shared pieces of the fault-injection suite (test/faults): notifications with their own group,
 * cards grouped by incident, a bounded pool, a read-only look at the SQLite file, an HTTP client
 * with its own connection per simulated sender, and the one-line summary each file prints.
 */
import http from 'node:http';
import Database from 'better-sqlite3';
import type { AuditEvent } from '../../src/core/domain.js';
import type { FakeSlack, StoredMessage } from '../fakes/slack-api.js';
import { loadFixture } from './fixtures.js';

export interface Notification {
  version: string;
  groupKey: string;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  truncatedAlerts: number;
  alerts: Array<{
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
    generatorURL: string;
    fingerprint: string;
  }>;
}

/**
 * The recorded single-alert notification moved to its own group: `alertname` / `service` as given,
 * a fingerprint derived from the group, and extra labels on the alert and the common labels.
 */
export function groupNotification(opts: {
  service: string;
  alertname?: string;
  status?: 'firing' | 'resolved';
  receiver?: string;
  labels?: Record<string, string>;
  fingerprint?: string;
}): Notification {
  const n = structuredClone(loadFixture<Notification>('firing-single.json'));
  const alertname = opts.alertname ?? 'GitCortexDown';
  const status = opts.status ?? 'firing';
  const labels = { ...n.alerts[0]!.labels, alertname, service: opts.service, ...opts.labels };
  n.groupKey = `{}:{alertname="${alertname}", service="${opts.service}"}`;
  n.status = status;
  n.receiver = opts.receiver ?? n.receiver;
  n.groupLabels = { alertname, service: opts.service };
  n.commonLabels = { ...labels };
  n.alerts = n.alerts.map((a) => ({
    ...a,
    status,
    labels: { ...labels },
    // A resolved alert keeps its start (Alertmanager sends the same startsAt) and gets an end.
    endsAt: status === 'resolved' ? '2026-11-22T02:07:37Z' : a.endsAt,
    fingerprint: opts.fingerprint ?? fingerprintOf(n.groupKey),
  }));
  return n;
}

/** A stable 16-hex-digit fingerprint for a string, as Alertmanager prints them. */
export function fingerprintOf(s: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < s.length; i += 1) {
    h1 = Math.imul(h1 ^ s.charCodeAt(i), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ s.charCodeAt(i), 0x85ebca6b) >>> 0;
  }
  return `${h1.toString(16).padStart(8, '0')}${h2.toString(16).padStart(8, '0')}`;
}

/** The incident id a card shows (`[FIRING] critical: #12 …`), from its fallback text. */
export function cardIncidentId(m: Pick<StoredMessage, 'text'>): number | undefined {
  const match = /^\[(?:FIRING|RESOLVED)\] \w+: #(\d+) /.exec(m.text);
  return match ? Number(match[1]) : undefined;
}

/** Top-level messages of the channel grouped by the incident id in their text (messages without one under -1). */
export function cardsByIncident(slack: FakeSlack, channel: string): Map<number, StoredMessage[]> {
  const byId = new Map<number, StoredMessage[]>();
  for (const m of slack.topLevel(channel)) {
    const id = cardIncidentId(m) ?? -1;
    byId.set(id, [...(byId.get(id) ?? []), m]);
  }
  return byId;
}

/** Top-level messages of every channel grouped by incident id (see cardsByIncident). */
export function allCardsByIncident(slack: FakeSlack): Map<number, StoredMessage[]> {
  const byId = new Map<number, StoredMessage[]>();
  for (const m of slack.allMessages()) {
    if (m.thread_ts !== undefined) continue;
    const id = cardIncidentId(m) ?? -1;
    byId.set(id, [...(byId.get(id) ?? []), m]);
  }
  return byId;
}

/**
 * A ROUTES_FILE spreading incidents over `channels` Slack channels by the label `shard`
 * (`s0` → `<prefix>0`, …). The outbox paces each channel at Slack's 1 message/s, so spreading a
 * storm over channels is what lets it show within seconds, as in a real deployment.
 */
export function shardRoutes(channels: number, prefix: string): string {
  const routes = Array.from({ length: channels }, (_, k) => `  - match: { shard: s${k} }\n    slack: ${prefix}${k}`);
  return `routes:\n${routes.join('\n')}\n`;
}

/** What a thread message's text becomes on Slack: the three mrkdwn control characters escaped. */
export function slackEscaped(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Audit events that post to the incident's thread: every kind except refusals (`*.refused`). */
export function threadEvents(events: readonly AuditEvent[]): AuditEvent[] {
  return events.filter((e) => !e.kind.endsWith('.refused'));
}

/** Runs `work` over `items` with at most `concurrency` at once; results in input order. */
export async function runPool<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next;
      next += 1;
      if (i >= items.length) return;
      results[i] = await work(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Reads the bot's SQLite file through a separate read-only connection. */
export function readDb<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

export interface HttpAnswer {
  /** 0 when no answer came (refused, reset, timed out). */
  status: number;
  json: Record<string, unknown>;
  text: string;
  error?: string;
  ms: number;
}

/**
 * POSTs with node:http, so each simulated sender can have its own connection (`agent`) and a hard
 * time limit; a network failure is an answer with status 0, never a throw.
 */
export function httpPost(url: string, body: string | Buffer, opts: { headers?: Record<string, string>; agent?: http.Agent; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  const started = performance.now();
  return new Promise<HttpAnswer>((resolve) => {
    let settled = false;
    const done = (a: Omit<HttpAnswer, 'ms'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...a, ms: performance.now() - started });
    };
    const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const req = http.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...opts.headers },
      ...(opts.agent ? { agent: opts.agent } : {}),
      timeout: opts.timeoutMs ?? 15_000,
    });
    req.on('timeout', () => {
      req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 15_000} ms`));
    });
    req.on('error', (error) => done({ status: 0, json: {}, text: '', error: error.message }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (error) => done({ status: 0, json: {}, text: '', error: error.message }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          json = { raw: text };
        }
        done({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.end(payload);
  });
}

/** GET returning parsed JSON (throws on a network error or a non-JSON body). */
export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as T };
}

export interface FaultCounts {
  /** Notifications the bot acknowledged (2xx) that should each be one incident. */
  sent: number;
  /** Incidents in the store. */
  stored: number;
  /** Incident cards on the fake Slack. */
  posted: number;
  /** Faults the file injected (see each file for what it counts). */
  faults: number;
  /** Step executions (what the steps' own output files show). */
  executions: number;
}

/** The one summary line of a fault file, exactly in the agreed form. */
export function faultSummary(topic: string, c: FaultCounts): string {
  return `fault summary [${topic}]: notifications sent=${c.sent} stored=${c.stored} posted=${c.posted}; faults injected=${c.faults}; executions=${c.executions}`;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface PacedPlatform {
  pacing?: { messagesPerSecond: number; burst: number; updates?: { perMinute: number; burst: number } };
}

/**
 * Raises the chat pacing of an in-process bot. The outbox paces each channel at Slack's rate
 * (1 message/s after a burst of 3), so 20 incidents take about a minute to show; fault tests care
 * about what arrives (once, in order), not the pace, so they compress it (card updates, paced on
 * their own, as much). Call it before the bot sends anything: the outbox reads the pace when it
 * first sends to a channel. Reaches into the outbox's options (there is no setting for it) and
 * fails loudly if that shape changed.
 */
export function compressChatPacing(bot: { engine: { outbox: unknown } }, messagesPerSecond: number, burst: number): void {
  const outbox = bot.engine.outbox as { o?: { platforms?: Map<string, PacedPlatform> } };
  const platform = outbox.o?.platforms?.get('slack');
  if (!platform) throw new Error('compressChatPacing: the outbox no longer keeps its platforms in o.platforms; update test/support/faults-kit.ts');
  if (!platform.pacing) return;
  platform.pacing.messagesPerSecond = messagesPerSecond;
  platform.pacing.burst = burst;
  if (platform.pacing.updates) platform.pacing.updates = { perMinute: messagesPerSecond * 60, burst };
}

/** The value of a counter on a Prometheus text page, summed over the label sets matching `labels`. */
export function metricValue(page: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of page.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = new Map<string, string>();
    for (const x of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) set.set(x[1] ?? '', x[2] ?? '');
    if (Object.entries(labels).every(([k, v]) => set.get(k) === v)) total += Number(m[3]);
  }
  return total;
}
