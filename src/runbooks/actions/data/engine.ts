import type { StepFact } from '../types.js';
import type { Summary } from './common.js';
import type { Job } from './job.js';

/**
 * How one kind of data is backed up. `produce` writes a complete, verified backup to `out` (a
 * fresh temporary path in the destination directory, which the caller hashes and renames) and
 * returns facts about it; any intermediate file it needs comes from `job.tempPath`, so it is
 * removed whatever happens.
 */
export interface BackupEngine<T> {
  /** File extension of the backups, without the dot. */
  ext: string;
  /** "SQLite /var/lib/app.db", "PostgreSQL orders on db1:5432". */
  what(target: T): string;
  /**
   * The same without English words, for the results said in the bot's language: "SQLite
   * /var/lib/app.db", "PostgreSQL orders @ db1:5432 (app)", "/srv/data/", "/srv/app/{.env,nginx.conf}".
   */
  subject(target: T): string;
  /** How it is done, for describe(): "VACUUM INTO, integrity_check, gzip". */
  method(target: T): string;
  defaultPrefix(target: T): string;
  /** Checks the rendered inputs; throws ActionError with a clear message. */
  validate(target: T): void;
  produce(target: T, out: string, job: Job): Promise<StepFact[]>;
  /**
   * For the safety backup before a restore: true when there is no current state at all (the file
   * or directory to restore over does not exist), so there is nothing to protect.
   */
  absent?(target: T): Promise<boolean>;
  /**
   * For the safety backup before a restore: the directory beside the live data, where it goes
   * unless the step names one. Undefined for data with no local file (a database server).
   */
  besideLive?(target: T): string;
  /**
   * For the safety backup before a restore, when `produce` fails because the current state is
   * damaged (the usual reason to restore): an as-is copy that keeps the damaged state.
   */
  produceAsIs?(target: T, out: string, job: Job): Promise<StepFact[]>;
}

/**
 * How a verified backup is put back. `prepare` checks the backup and stages it (decompress, list,
 * extract) without touching the current state; `apply` replaces the current state and returns
 * the summary. The safety backup runs between the two.
 */
export interface RestoreEngine<T, P> {
  /** What restoring means here, for describe(): "pg_restore --clean --if-exists -1". */
  method(target: T): string;
  prepare(target: T, backup: string, job: Job): Promise<P>;
  apply(target: T, prepared: P, job: Job): Promise<Summary>;
  /** A line describe() adds, e.g. that a restart is needed afterwards. */
  afterwards?: string;
}
