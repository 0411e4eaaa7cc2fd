import { describeStep, describeStepSaid, runStep } from './actions/index.js';
import { backupRetention } from './actions/data-actions.js';
import { applyRetention } from './actions/data/backup-files.js';
import { processHost, stopLeftoverGroup } from './actions/process-group.js';
import { renderInputs } from './actions/render-inputs.js';
import { listPickChoices, type BackupChoice } from './backup-choices.js';
import { inspectChosenFile, type Inspection } from './chosen-file.js';
import type { RunbookStep } from './schema.js';

/** What expiring a backup step's old files did; see `keep:` in the backup action. */
export interface BackupExpiry {
  dir: string;
  kept: number;
  deleted: string[];
  problems: string[];
}

/**
 * Runs steps here, in this process's host: in the bot (the core sees it only as its StepRunner port,
 * src/core/ports/step-runner.ts) and in a runner agent on a target host.
 */
export const localStepRunner = {
  run: runStep,
  describe: describeStep,
  describeSaid: describeStepSaid,
  /** A step run here ends with this process: nothing is left to reattach to. */
  reattach: (): Promise<undefined> => Promise.resolve(undefined),
  /** This host and pid namespace, as recorded with a step's process group. */
  host: processHost,
  stopLeftover: stopLeftoverGroup,
  /** The newest backups the step's `pick:` offers, with the step's params. */
  listChoices(step: RunbookStep, params: Record<string, string>): Promise<BackupChoice[]> {
    return listPickChoices(step, params);
  },
  inspectFile(_step: RunbookStep, _params: Record<string, string>, _origin: unknown, file: string, within?: string): Promise<Inspection> {
    return inspectChosenFile(file, within);
  },
  /** Applies a backup step's `keep:` (the same rule the step applies after a backup); undefined when it has none. */
  async expireBackups(step: RunbookStep, params: Record<string, string>, now: Date): Promise<BackupExpiry | undefined> {
    if (step.action !== 'backup') throw new Error(`step ${step.id} is not a backup step`);
    const plan = backupRetention(renderInputs(step.with, params));
    if (!plan.keep) return undefined;
    const outcome = await applyRetention({ dir: plan.dir, prefix: plan.prefix, ext: plan.ext, names: plan.names }, plan.keep, '', now);
    return { dir: plan.dir, kept: outcome.kept, deleted: outcome.deleted, problems: outcome.problems };
  },
};
