import type { ActionContext } from '../../runbooks/index.js';
import type { BackupExpiry, ChosenFile, RunbookStep, StepProcess, StepResult } from './runbooks.js';
import type { ResultMessage } from '../../domain/result-message.js';

export type { ActionContext };

/** Why a step runs and on whose word: a step that runs on another host carries it there for its own log. */
export interface StepOrigin {
  runbook: string;
  purpose: 'step' | 'checkpoint' | 'job' | 'query';
  incidentId?: number | undefined;
  runId?: number | undefined;
  requestedBy?: string | undefined;
  approvers?: string[] | undefined;
}

/**
 * Thrown by `run` when this process stops waiting (it is shutting down) for a step that goes on
 * elsewhere, on a runner: the run stays running, and the next start (or another replica) takes it
 * over with `reattach` and records its result. A restore on a database host is not killed because
 * the bot is being redeployed.
 */
export class StepDetached extends Error {}

export type FileInspection = { ok: true; file: ChosenFile } | { ok: false; reason: string };

/**
 * Where a step runs. The executor, the scheduler, the pickers and the leftover cleanup call only
 * this; the local implementation runs steps in this process's host, and a step that names a runner
 * (`runOn`) runs there, without the core knowing which.
 */
export interface StepRunner {
  /** Runs one step with resolved params. Never rejects: a failure is a `failed` result. */
  run(step: RunbookStep, params: Record<string, string>, context: ActionContext & { origin: StepOrigin }): Promise<StepResult>;
  /**
   * A run this process lost track of (a bot restart, a replica that died) that is still going on
   * where it runs: resolves with its result once it ends. Undefined when nothing runs it any more.
   */
  reattach(runId: number, signal: AbortSignal): Promise<{ result: Promise<StepResult> } | undefined>;
  /** What the step would do, for approval prompts and dry runs; throws if a template names a missing param. */
  describe(step: RunbookStep, params: Record<string, string>): string;
  /** The same as a code and values without the timeout, where the step's action says one (for other languages). */
  describeSaid?(step: RunbookStep, params: Record<string, string>): ResultMessage | undefined;
  /** The backups a step's picker offers now, listed where the step runs (newest first). */
  listChoices(step: RunbookStep, params: Record<string, string>, origin: StepOrigin): Promise<Array<{ path: string; label: string; said?: ResultMessage[] | undefined }>>;
  /** A chosen file as it is where the step runs; `within`: the directory it must stay inside. */
  inspectFile(step: RunbookStep, params: Record<string, string>, origin: StepOrigin, file: string, within?: string): Promise<FileInspection>;
  /** Applies a backup step's `keep:` to its files; undefined when the step has no keep rule. */
  expireBackups(step: RunbookStep, params: Record<string, string>, now: Date, origin: StepOrigin): Promise<BackupExpiry | undefined>;
  /** The host (and pid namespace) process groups are recorded with. */
  host(): string;
  /** Stops a leftover process group recorded on this host. */
  stopLeftover(process: StepProcess, graceMs?: number): Promise<'killed' | 'gone'>;
}
