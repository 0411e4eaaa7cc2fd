import type { Redactor } from '../../domain/redact.js';
import type { ResultMessage } from '../../domain/result-message.js';
import type { OnSpawn } from './process-group.js';

/** What an executor needs from its caller. */
export interface ActionContext {
  /** Aborting cancels the step (the process is killed / the request aborted). */
  signal: AbortSignal;
  /** Applied to everything a step reports, since command output may echo secrets. */
  redact: Redactor;
  /** The bot's environment: the only source of variables an exec step's `env` allowlist may pass through. */
  env: NodeJS.ProcessEnv;
  /** Bot settings some actions default to. */
  settings?: ActionSettings | undefined;
  /**
   * Files chosen in chat with the hash they had when the step was requested: a step refuses to
   * run when one changed since (swapped between approval and run).
   */
  pins?: ReadonlyArray<{ path: string; sha256: string }> | undefined;
  /** Records each program's process group before it runs, so a restarted bot can stop what a crash left running. */
  onSpawn?: OnSpawn | undefined;
}

export interface ActionSettings {
  /** Base URL for `verify` with `kind: prometheus` when the step gives none. */
  prometheusUrl?: string | undefined;
  /** The compose program as argv (`docker compose`, `docker-compose`); absent: the first of them that works. */
  composeCommand?: readonly string[] | undefined;
}

/** Outcome of one step, ready to show in a thread and store in the audit log. */
export interface StepResult {
  /** `interrupted`: the step was running elsewhere (a runner) when it was lost; it is never re-run. */
  status: 'succeeded' | 'failed' | 'timed_out' | 'interrupted';
  /** One line, e.g. "exit 0 in 1.2s" or "HTTP 200 in 35 ms". */
  summary: string;
  /** The summary as a code and values, for the bot to say in its language (the common shapes only). */
  said?: ResultMessage;
  /** A typed action's summary in parts (one per phase), said in the bot's language; shown instead of `said`. */
  saidParts?: ResultMessage[];
  exitCode?: number;
  httpStatus?: number;
  durationMs: number;
  /** What a thread shows of the output: all of it when short, else a head and a tail with the cut marked (output.ts); redacted. */
  outputTail: string;
  /** The whole output, redacted and bounded (FULL_OUTPUT_MAX_CHARS), when longer than outputTail shows; kept for the output route. */
  output?: string;
  /** Structured findings shown in the thread, e.g. WAL size before/after, rows per table. */
  facts?: StepFact[];
  /** Files the step produced (a backup, a safety copy), verified before being reported. */
  artefacts?: StepArtefact[];
}

export interface StepFact {
  label: string;
  value: string;
  /** The value as a code, where it is words rather than data ("✅ none"), for the bot to say in its language. */
  said?: ResultMessage | undefined;
}

export interface StepArtefact {
  /** `checkpoint`: a snapshot taken before a changing step; the thread offers "Roll back" to it. */
  kind: 'backup' | 'safety-backup' | 'release' | 'checkpoint';
  path: string;
  sizeBytes: number;
  sha256: string;
}
