import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import type { Clock } from '../core/ports/clock.js';
import type { Store } from '../core/ports/store.js';
import type { RunnerJob } from '../core/ports/runner-jobs.js';
import type { Redactor } from '../domain/redact.js';
import { InputError } from '../domain/errors.js';
import { readBody } from '../http/read-body.js';
import { sendError, sendJson } from '../http/respond.js';
import type { Route } from '../http/router.js';
import type { AcceptedRunner } from '../settings/runners.js';
import { jobKey, runnerKey, type RunnerHub } from './hub.js';
import { jobDetail } from './job-detail.js';
import { EVENTS_PATH, POLL_PATH, RUNNER_HEADER, eventsRequestSchema, pollRequestSchema, type Job, type PollResponse } from './protocol.js';
import { handleEvent } from './events.js';

export interface RunnerRoutesOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  hub: RunnerHub;
  redact: Redactor;
  accepted: readonly AcceptedRunner[];
  replicaId: string;
  heartbeatTimeoutMs: number;
  /** How often a held poll looks in the store for jobs another replica queued. */
  storePollMs?: number;
  /** Aborted when the bot stops: held polls answer at once. */
  stopping: AbortSignal;
}

const BODY_LIMIT = 256 * 1024;

/** Who is calling: a runner listed in RUNNERS_FILE whose token matches, or undefined. */
function authenticate(req: IncomingMessage, accepted: readonly AcceptedRunner[]): AcceptedRunner | undefined {
  const name = req.headers[RUNNER_HEADER];
  const auth = req.headers.authorization;
  if (typeof name !== 'string' || typeof auth !== 'string' || !auth.startsWith('Bearer ')) return undefined;
  const runner = accepted.find((r) => r.name === name);
  const presented = createHash('sha256').update(auth.slice('Bearer '.length), 'utf8').digest();
  // Compared even for an unknown name, so the answer takes as long whether or not the name exists.
  const ok = timingSafeEqual(presented, runner?.tokenSha256 ?? Buffer.alloc(32));
  return ok ? runner : undefined;
}

async function readJson<T>(req: IncomingMessage, schema: ZodType<T>): Promise<T> {
  const body = await readBody(req, BODY_LIMIT);
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InputError('malformed', 'the body is not JSON', 400);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new InputError('malformed', parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '), 400);
  return parsed.data;
}

const toWire = (job: RunnerJob): Job => ({ ...(JSON.parse(job.payload) as Omit<Job, 'id'>), id: job.id });

/**
 * The runners' side of the bot's HTTP port. A poll records the runner's heartbeat, reports as
 * interrupted the jobs it no longer holds, and hands out its queued jobs (each once), holding the
 * request open while there are none. Events end jobs: only the runner a job was handed to may
 * report on it, and only once.
 */
export function createRunnerRoutes(o: RunnerRoutesOptions): Route[] {
  const guarded = (handle: (runner: AcceptedRunner, req: IncomingMessage, res: ServerResponse) => Promise<void>) => async (req: IncomingMessage, res: ServerResponse) => {
    const runner = authenticate(req, o.accepted);
    if (!runner) {
      const name = req.headers[RUNNER_HEADER];
      o.log.warn({ runner: typeof name === 'string' ? name.slice(0, 64) : undefined, address: req.socket.remoteAddress }, 'runner request refused: unknown runner name or wrong token');
      return sendError(res, 401, 'unauthorized', 'unknown runner or wrong token (the bot accepts the runners of its RUNNERS_FILE)');
    }
    try {
      await handle(runner, req, res);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      o.log.warn({ runner: runner.name, err: error.message }, 'runner request refused: malformed');
      sendError(res, error.status, error.code, error.message);
    }
  };

  const poll = async (runner: AcceptedRunner, req: IncomingMessage, res: ServerResponse) => {
    const request = await readJson(req, pollRequestSchema);
    const conflict = Object.entries(runner.labels).find(([k, v]) => request.labels[k] !== undefined && request.labels[k] !== v);
    if (conflict) {
      o.log.warn({ runner: runner.name, label: conflict[0] }, 'runner refused: it advertises a label its RUNNERS_FILE entry pins to another value');
      return sendError(res, 403, 'label_conflict', `runner ${runner.name} advertises ${conflict[0]}=${request.labels[conflict[0]] ?? ''}, but RUNNERS_FILE pins ${conflict[0]}=${conflict[1]}`);
    }
    const labels = { ...request.labels, ...runner.labels };
    const touch = () => {
      const now = o.clock();
      const at = now.toISOString();
      const staleBefore = new Date(now.getTime() - o.heartbeatTimeoutMs).toISOString();
      return o.store.transaction((tx) => tx.runners.touchRunner({ name: runner.name, labels, version: request.version, replica: o.replicaId, at, staleBefore }));
    };
    await touch();
    await reconcile(runner.name, request.running);

    const closed = new AbortController();
    res.on('close', () => closed.abort());
    const holdUntil = Date.now() + Math.min(request.waitMs, o.heartbeatTimeoutMs / 3);
    for (;;) {
      const at = o.clock().toISOString();
      const { jobs, cancel } = await o.store.transaction(async (tx) => ({
        jobs: await tx.runners.claimRunnerJobs(runner.name, at, 10),
        cancel: (await tx.runners.openRunnerJobs(runner.name, 1000)).filter((j) => j.cancelRequested && j.state === 'running').map((j) => j.id),
      }));
      if (jobs.length > 0 || cancel.length > 0 || Date.now() >= holdUntil || closed.signal.aborted || o.stopping.aborted) {
        if (closed.signal.aborted && jobs.length > 0) {
          // Handed out to a runner that is gone: they never reached it, so they were never started.
          await o.store.transaction(async (tx) => {
            for (const job of jobs) await tx.runners.finishRunnerJob(job.id, ['running'], 'interrupted', at, { detail: jobDetail('runner.detail.disconnected', { runner: runner.name }) });
          });
          for (const job of jobs) o.hub.notify(jobKey(job.id));
          return;
        }
        for (const job of jobs) o.log.info({ runner: runner.name, jobId: job.id, kind: job.kind, runId: job.runId }, 'job handed to runner');
        await touch();
        const body: PollResponse = { jobs: jobs.map(toWire), cancel, heartbeatMs: Math.floor(o.heartbeatTimeoutMs / 3) };
        return sendJson(res, 200, body);
      }
      await o.hub.wait(runnerKey(runner.name), Math.min(o.storePollMs ?? 1000, Math.max(0, holdUntil - Date.now())), AbortSignal.any([closed.signal, o.stopping]));
    }
  };

  /** Jobs the runner held but no longer lists were lost with it (it restarted, or never got them). */
  const reconcile = async (name: string, running: readonly number[]) => {
    const held = new Set(running);
    const at = o.clock().toISOString();
    const lost = await o.store.transaction(async (tx) => {
      const open = (await tx.runners.openRunnerJobs(name, 1000)).filter((j) => j.state === 'running' && !held.has(j.id));
      const ended: RunnerJob[] = [];
      for (const job of open) {
        const detail = jobDetail(job.startedAt ? 'runner.detail.lostStarted' : 'runner.detail.lostNotStarted', { runner: name });
        if (await tx.runners.finishRunnerJob(job.id, ['running'], 'interrupted', at, { detail })) ended.push(job);
      }
      return ended;
    });
    for (const job of lost) {
      o.log.warn({ runner: name, jobId: job.id, runId: job.runId }, 'a job its runner no longer holds was marked interrupted');
      o.hub.notify(jobKey(job.id));
    }
  };

  const events = async (runner: AcceptedRunner, req: IncomingMessage, res: ServerResponse) => {
    const request = await readJson(req, eventsRequestSchema);
    const results = [];
    for (const event of request.events) {
      const outcome = await handleEvent(o, runner.name, event);
      if (!outcome.accepted) o.log.warn({ runner: runner.name, jobId: event.jobId, type: event.type, reason: outcome.reason }, 'runner report refused');
      else if (event.type !== 'output') o.hub.notify(jobKey(event.jobId));
      results.push({ jobId: event.jobId, ...outcome });
    }
    sendJson(res, 200, { results });
  };

  return [
    { method: 'POST', path: POLL_PATH, handle: guarded(poll) },
    { method: 'POST', path: EVENTS_PATH, handle: guarded(events) },
  ];
}
