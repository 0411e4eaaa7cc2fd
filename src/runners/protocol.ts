import { z } from 'zod';

/*
 * What a runner and the bot say to each other, over the bot's one HTTP port (TLS in front of it, as
 * for Slack). The runner connects out: it long-polls `POST /runners/poll` for jobs (each poll is its
 * heartbeat) and reports with `POST /runners/events`. Jobs and their states live in the store, so any
 * replica behind a load balancer can answer any runner: a job queued by one replica is handed out by
 * whichever replica the runner's poll reaches, and its result is taken by whichever gets the report.
 *
 * Every request carries `Authorization: Bearer <RUNNER_TOKEN>` and `X-Runner-Name: <RUNNER_NAME>`;
 * the bot accepts only the runners listed in its RUNNERS_FILE.
 */

export const RUNNER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const RUNNER_HEADER = 'x-runner-name';
export const POLL_PATH = '/runners/poll';
export const EVENTS_PATH = '/runners/events';
/** The longest a poll is held open when there is nothing to hand out (the bot may hold it shorter). */
export const MAX_POLL_WAIT_MS = 25_000;

const labelsSchema = z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_.-]{0,62}$/), z.string().min(1).max(200));

export const pollRequestSchema = z.strictObject({
  /** What the runner advertises (host, service, …); the bot's RUNNERS_FILE may pin some of them. */
  labels: labelsSchema.default({}),
  version: z.string().max(100).default(''),
  /** Jobs the runner is executing now: a job the bot thinks it holds but it does not list was lost. */
  running: z.array(z.int().positive()).max(1000).default([]),
  /** How long the bot may hold the poll when there is nothing to do. */
  waitMs: z.int().min(0).max(MAX_POLL_WAIT_MS).default(MAX_POLL_WAIT_MS),
});
export type PollRequest = z.output<typeof pollRequestSchema>;

const pinSchema = z.strictObject({ path: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

/** Who asked for the job and why: the runner logs it locally with what it did. */
export const evidenceSchema = z.strictObject({
  incidentId: z.int().optional(),
  runId: z.int().optional(),
  requestedBy: z.string().max(200).optional(),
  approvers: z.array(z.string().max(200)).max(20).default([]),
  /** `step`: the approved step; `checkpoint`: the snapshot taken before it; `job`: a scheduled job; `query`: a picker or file check. */
  purpose: z.enum(['step', 'checkpoint', 'job', 'query']),
});
export type Evidence = z.output<typeof evidenceSchema>;

/**
 * One job. `run` runs the step; `list` returns what the step's picker offers; `inspect` returns a
 * chosen file as it is on the runner's host; `expire` applies a backup step's `keep:`. The runner
 * does any of them only for a runbook step it holds itself with the same `stepHash`.
 */
export const jobSchema = z.strictObject({
  id: z.int().positive(),
  kind: z.enum(['run', 'list', 'inspect', 'expire']),
  runbook: z.string().min(1).max(100),
  step: z.string().min(1).max(100),
  stepHash: z.string().regex(/^[0-9a-f]{64}$/),
  params: z.record(z.string(), z.string()),
  /** Files chosen in chat with the hash they had when the step was requested. */
  pins: z.array(pinSchema).max(20).default([]),
  /** `inspect`: the file; `within`: the directory it must stay inside (a picker's dir), if any. */
  path: z.string().min(1).max(4096).optional(),
  within: z.string().min(1).max(4096).optional(),
  /** `expire`: the time the retention is measured from (ISO 8601). */
  now: z.string().optional(),
  evidence: evidenceSchema,
});
export type Job = z.output<typeof jobSchema>;

export const pollResponseSchema = z.strictObject({
  jobs: z.array(jobSchema),
  /** Jobs to stop now (the bot is shutting down, or gave up on them). */
  cancel: z.array(z.int().positive()).default([]),
  /** How often the runner must poll (at least) to count as connected. */
  heartbeatMs: z.int().positive(),
});
export type PollResponse = z.output<typeof pollResponseSchema>;

const artefactSchema = z.strictObject({
  kind: z.enum(['backup', 'safety-backup', 'release', 'checkpoint']),
  path: z.string(),
  sizeBytes: z.number().nonnegative(),
  sha256: z.string(),
});

/** A step's whole output carried in a result, at most (characters): well within a runner request body (256 KiB). */
export const RESULT_OUTPUT_MAX = 96 * 1024;

/** A result, or one part of it, as a code and its values. */
const saidSchema = z.strictObject({ code: z.string().max(100), params: z.record(z.string().max(100), z.union([z.string().max(2000), z.number()])), onRunner: z.string().max(200).optional() });

/** Parts of a result said in the bot's language, at most (a typed action has a handful of phases). */
export const MAX_SAID_PARTS = 24;

/** A step's outcome as the runner reports it (already redacted on the runner). */
export const stepResultSchema = z.strictObject({
  status: z.enum(['succeeded', 'failed', 'timed_out']),
  summary: z.string().max(2000),
  // A code this bot does not know (a newer runner) is shown as the English summary.
  said: saidSchema.optional(),
  saidParts: z.array(saidSchema).max(MAX_SAID_PARTS).optional(),
  exitCode: z.int().optional(),
  httpStatus: z.int().optional(),
  durationMs: z.number().nonnegative(),
  outputTail: z.string().max(8000),
  /** The whole output (redacted), cut to RESULT_OUTPUT_MAX so that a result stays within a request body. */
  output: z.string().max(RESULT_OUTPUT_MAX).optional(),
  facts: z.array(z.strictObject({ label: z.string().max(200), value: z.string().max(2000), said: saidSchema.optional() })).max(50).optional(),
  artefacts: z.array(artefactSchema).max(20).optional(),
});

const chosenFileSchema = z.strictObject({
  path: z.string(),
  sizeBytes: z.number().nonnegative(),
  mtime: z.string(),
  sha256: z.string(),
  sidecar: z.enum(['verified', 'mismatch', 'missing']),
});

/** The answer to a `list`, `inspect` or `expire` job. */
export const answerSchema = z.union([
  z.strictObject({ kind: z.literal('list'), choices: z.array(z.strictObject({ path: z.string(), label: z.string().max(200), said: z.array(saidSchema).max(4).optional() })).max(10) }),
  z.strictObject({ kind: z.literal('inspect'), inspection: z.union([z.strictObject({ ok: z.literal(true), file: chosenFileSchema }), z.strictObject({ ok: z.literal(false), reason: z.string().max(2000) })]) }),
  z.strictObject({
    kind: z.literal('expire'),
    expiry: z.strictObject({ dir: z.string(), kept: z.int(), deleted: z.array(z.string()), problems: z.array(z.string()) }).nullable(),
  }),
]);
export type Answer = z.output<typeof answerSchema>;

/** What a runner reports about a job; each is acknowledged, and re-sent until it is. */
export const runnerEventSchema = z.discriminatedUnion('type', [
  /** The job passed the runner's checks and its program is starting. */
  z.strictObject({ jobId: z.int().positive(), type: z.literal('started') }),
  /** The latest redacted output tail of a running step. */
  z.strictObject({ jobId: z.int().positive(), type: z.literal('output'), tail: z.string().max(8000) }),
  z.strictObject({ jobId: z.int().positive(), type: z.literal('result'), result: stepResultSchema }),
  z.strictObject({ jobId: z.int().positive(), type: z.literal('answer'), answer: answerSchema }),
  /** The runner will not run it: its own manifests do not hold this step, or a param failed its pattern. */
  z.strictObject({ jobId: z.int().positive(), type: z.literal('refused'), reason: z.string().min(1).max(2000) }),
  /** The runner restarted while it ran the job (it stopped what was left), or lost it otherwise. */
  z.strictObject({ jobId: z.int().positive(), type: z.literal('interrupted'), reason: z.string().min(1).max(2000) }),
]);
export type RunnerEvent = z.output<typeof runnerEventSchema>;

export const eventsRequestSchema = z.strictObject({ events: z.array(runnerEventSchema).min(1).max(100) });

/** Per event: taken, or refused with the reason (a job not this runner's, already finished, …). */
export const eventsResponseSchema = z.strictObject({
  results: z.array(z.strictObject({ jobId: z.int(), accepted: z.boolean(), reason: z.string().optional() })),
});
export type EventsResponse = z.output<typeof eventsResponseSchema>;
