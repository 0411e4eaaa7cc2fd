import type { ActionContext } from '../../runbooks/index.js';
import type { BackupExpiry, RunbookStep, StepProcess, StepResult } from './runbooks.js';

export type { ActionContext };

/**
 * Where a step runs. The executor, the scheduler and the leftover cleanup call only this; the
 * local implementation (runbooks' `localStepRunner`) runs steps in this process's host, and a
 * remote runner can take its place without the core changing.
 */
export interface StepRunner {
  /** Runs one step with resolved params. Never rejects: a failure is a `failed` result. */
  run(step: RunbookStep, params: Record<string, string>, context: ActionContext): Promise<StepResult>;
  /** What the step would do, for approval prompts and dry runs; throws if a template names a missing param. */
  describe(step: RunbookStep, params: Record<string, string>): string;
  /** Applies a backup step's `keep:` to its files; undefined when the step has no keep rule. */
  expireBackups(step: RunbookStep, params: Record<string, string>, now: Date): Promise<BackupExpiry | undefined>;
  /** The host (and pid namespace) process groups are recorded with. */
  host(): string;
  /** Stops a leftover process group recorded on this host. */
  stopLeftover(process: StepProcess, graceMs?: number): Promise<'killed' | 'gone'>;
}
