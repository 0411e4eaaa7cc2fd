import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { notificationSchema } from '../core/alertmanager-payload.js';
import type { IncidentUseCases } from '../core/use-cases.js';
import { InputError } from '../domain/errors.js';
import type { LogThrottle } from '../core/log-throttle.js';
import { readBody } from '../http/read-body.js';
import { sendError, sendJson } from '../http/respond.js';
import type { Metrics } from '../metrics.js';

export interface WebhookDeps {
  engine: IncidentUseCases;
  token: string | undefined;
  maxBytes: number;
  metrics: Metrics;
  log: Logger;
  /** Rejections are logged once per kind, then at most every few seconds (see LogThrottle); every one is counted in the metrics. */
  rejections: LogThrottle;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
/** The configured token's digest, computed once (a bot has one token; tests make a few). */
const tokenDigests = new Map<string, Buffer>();

/** Compares digests, so neither content nor length of the token leaks through timing. The scheme is case-insensitive (RFC 9110). */
export function tokenMatches(header: string | undefined, token: string): boolean {
  let expected = tokenDigests.get(token);
  if (!expected) tokenDigests.set(token, (expected = digest(token)));
  const presented = /^bearer\s+(.*)$/i.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(presented), expected);
}

const INBOX_FULL_RETRY_AFTER_S = 10;

/**
 * POST /webhooks/alertmanager. Answers 2xx only once the notification is durably stored: 200 when
 * it was recorded (incident, alerts, chat messages), 202 when the bot was busy and it waits in the
 * inbox to be recorded right after. Only truly invalid requests get a 4xx, because Alertmanager
 * drops those for good; a storage failure or a full inbox answers 5xx so that Alertmanager retries.
 */
export async function handleAlertmanagerWebhook(req: IncomingMessage, res: ServerResponse, deps: WebhookDeps): Promise<void> {
  const started = process.hrtime.bigint();
  const reject = (status: number, error: string, message: string, extra?: Record<string, unknown>) => {
    deps.metrics.notificationsReceived.inc({ result: 'rejected' });
    deps.rejections.run(error, (suppressed) =>
      deps.log.warn({ status, error, message, ...(suppressed > 0 ? { suppressed } : {}) }, 'alertmanager notification rejected'),
    );
    sendError(res, status, error, message, extra);
  };

  if (deps.token !== undefined && !tokenMatches(req.headers.authorization, deps.token)) {
    return reject(401, 'unauthorized', 'missing or wrong Authorization: Bearer token');
  }
  let body: Buffer;
  try {
    body = await readBody(req, deps.maxBytes);
  } catch (error) {
    if (error instanceof InputError) {
      res.setHeader('connection', 'close');
      return reject(error.status, error.code, error.message);
    }
    throw error;
  }
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return reject(400, 'invalid_json', `body is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = notificationSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
    const first = issues[0];
    return reject(400, 'invalid_payload', `invalid Alertmanager payload: ${first ? `${first.path}: ${first.message}` : 'unknown problem'}`, { issues });
  }

  const accepted = await deps.engine.accept(parsed.data, text);
  if (accepted.outcome === 'inbox_full') {
    // Alertmanager retries a 5xx; by then the inbox has room again.
    res.setHeader('retry-after', String(INBOX_FULL_RETRY_AFTER_S));
    return reject(503, 'inbox_full', `the inbox is full (${accepted.waiting} notifications waiting to be recorded); try again later`);
  }
  deps.metrics.notificationsReceived.inc({ result: accepted.outcome === 'queued' ? 'queued' : accepted.duplicate ? 'duplicate' : 'stored' });
  deps.metrics.ingestDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  if (accepted.outcome === 'queued') return sendJson(res, 202, { status: 'queued', seq: accepted.seq });
  sendJson(res, 200, { status: accepted.duplicate ? 'duplicate' : 'stored', incidentId: accepted.incidentId, created: accepted.created });
}
