import path from 'node:path';
import { formatBytes } from '../../domain/format.js';
import type { ResultMessage } from '../../domain/result-message.js';
import { sizeValue, STAMP_PATTERN, summary, type KeepRule } from './data/common.js';
import { Job } from './data/job.js';
import type { BackupEngine, RestoreEngine } from './data/engine.js';
import { directoryBackup, directoryRestore } from './data/directory.js';
import { fileSetBackup, fileSetRestore } from './data/file-set.js';
import { backupInputs, checkpointInputs, restoreInputs, type BackupInputs, type RestoreInputs } from './data/inputs.js';
import { mysqlBackup, mysqlRestore } from './data/mysql.js';
import { runRestore, writeBackup, type RestorePlan } from './data/pipeline.js';
import { checkpointPostgres, describePostgres, postgresBackup, postgresRestore, postgresSubject } from './data/postgres.js';
import { redisBackup, redisRestore } from './data/redis.js';
import { checkpointSqlite, sqliteBackup, sqliteRestore } from './data/sqlite.js';
import { defineAction, type TypedAction } from './typed-action.js';
import type { BackupName } from './data/naming.js';
import { locateAction } from './data/locate.js';

/*
 * checkpoint, backup and restore, for SQLite, PostgreSQL, MySQL/MariaDB, Redis, directories and
 * loose files of a directory.
 * Each engine lives in ./data/<engine>.ts; ./data/pipeline.ts holds the procedure all backups and
 * restores follow (temporary file, verify, hash, rename, sidecar, retention; safety backup first).
 */

/** One engine's backup and restore, bound to the target named by the inputs. */
interface BoundEngine {
  what: string;
  /** `what` without English words, for the bot's other languages. */
  subject: string;
  ext: string;
  defaultPrefix: string;
  backupMethod: string;
  restoreMethod: string;
  afterwards: string | undefined;
  besideLive: string | undefined;
  backup(plan: { dir: string; prefix: string; keep?: KeepRule | undefined; names?: readonly BackupName[] | undefined }, job: Job): ReturnType<typeof writeBackup>;
  restore(plan: RestorePlan, job: Job): ReturnType<typeof runRestore>;
}

function bind<T, P>(backup: BackupEngine<T>, restore: RestoreEngine<T, P>, target: T): BoundEngine {
  return {
    what: backup.what(target),
    subject: backup.subject(target),
    ext: backup.ext,
    defaultPrefix: backup.defaultPrefix(target),
    backupMethod: backup.method(target),
    restoreMethod: restore.method(target),
    afterwards: restore.afterwards,
    besideLive: backup.besideLive?.(target),
    backup: (plan, job) => writeBackup(backup, target, { ...plan, kind: 'backup' }, job),
    restore: (plan, job) => runRestore(backup, restore, target, plan, job),
  };
}

function engineFor(inputs: BackupInputs | RestoreInputs): BoundEngine {
  switch (inputs.engine) {
    case 'sqlite':
      return bind(sqliteBackup, sqliteRestore, { path: inputs.path });
    case 'postgres':
      return bind(postgresBackup, postgresRestore, { host: inputs.host, port: inputs.port, user: inputs.user, database: inputs.database });
    case 'mysql':
      return bind(mysqlBackup, mysqlRestore, { host: inputs.host, port: inputs.port, user: inputs.user, database: inputs.database });
    case 'redis':
      return bind(redisBackup, redisRestore, { host: inputs.host, port: inputs.port, user: inputs.user, dumpPath: inputs.dumpPath, mode: inputs.mode });
    case 'directory':
      return bind(directoryBackup, directoryRestore, { path: 'source' in inputs ? inputs.source : inputs.target, member: inputs.member });
    case 'files':
      return bind(fileSetBackup, fileSetRestore, { base: inputs.base, files: inputs.files });
  }
}

function keepText(keep: KeepRule | undefined): string {
  if (keep === undefined) return '';
  const days = keep.days === undefined ? [] : keep.by === 'mtime' ? [`what find ${keep.match !== undefined ? `-name '${keep.match}' ` : ''}-mtime +${keep.days} does not match`] : [`${keep.days} days`];
  const rules = [...days, ...(keep.files !== undefined ? [`the newest ${keep.files}`] : [])];
  return `, keep ${rules.join(' or ')}`;
}

/** A backup's description as a code: the keep rules choose it (a find expression is shown as written). */
function describeBackupSaid(params: { what: string; dir: string; name: string }, keep: KeepRule | undefined): ResultMessage {
  if (keep === undefined) return { code: 'data.describe.backup', params };
  if (keep.by === 'mtime' && keep.days !== undefined) {
    const find = `find ${keep.match !== undefined ? `-name '${keep.match}' ` : ''}-mtime +${keep.days}`;
    return keep.files !== undefined ? { code: 'data.describe.backup.keepFindFiles', params: { ...params, find, files: keep.files } } : { code: 'data.describe.backup.keepFind', params: { ...params, find } };
  }
  if (keep.days !== undefined && keep.files !== undefined) return { code: 'data.describe.backup.keepDaysFiles', params: { ...params, days: keep.days, files: keep.files } };
  if (keep.days !== undefined) return { code: 'data.describe.backup.keepDays', params: { ...params, days: keep.days } };
  return { code: 'data.describe.backup.keepFiles', params: { ...params, files: keep.files ?? 0 } };
}

export const checkpointAction = defineAction({
  name: 'checkpoint',
  summary: 'SQLite: PRAGMA wal_checkpoint (TRUNCATE by default) and integrity_check; PostgreSQL: CHECKPOINT.',
  inputs: checkpointInputs,
  describe(inputs) {
    if (inputs.engine === 'postgres') return `will run CHECKPOINT on ${describePostgres(inputs)}`;
    return `will checkpoint SQLite ${inputs.path} (PRAGMA wal_checkpoint(${inputs.mode})${inputs.integrityCheck ? ', then PRAGMA integrity_check' : ''})`;
  },
  describeSaid(inputs): ResultMessage {
    if (inputs.engine === 'postgres') return { code: 'data.describe.checkpoint.postgres', params: { what: postgresSubject(inputs) } };
    return { code: inputs.integrityCheck ? 'data.describe.checkpoint.sqlite.checked' : 'data.describe.checkpoint.sqlite', params: { path: inputs.path, mode: inputs.mode } };
  },
  run(inputs, ctx) {
    const job = new Job(ctx);
    return job.perform(() => (inputs.engine === 'postgres' ? checkpointPostgres(inputs, job) : checkpointSqlite(inputs, job)));
  },
});

export const backupAction = defineAction({
  name: 'backup',
  summary: 'A verified, sha256-summed backup (SQLite, PostgreSQL, MySQL/MariaDB, Redis, a directory, loose files) with retention.',
  inputs: backupInputs,
  describe(inputs) {
    const engine = engineFor(inputs);
    const prefix = inputs.prefix ?? engine.defaultPrefix;
    return `will back up ${engine.what} to ${inputs.dir} as ${prefix}-<UTC time>.${engine.ext} (${engine.backupMethod}; sha256 sidecar${keepText(inputs.keep)})`;
  },
  describeSaid(inputs): ResultMessage {
    const engine = engineFor(inputs);
    return describeBackupSaid({ what: engine.subject, dir: inputs.dir, name: `${inputs.prefix ?? engine.defaultPrefix}-${STAMP_PATTERN}.${engine.ext}` }, inputs.keep);
  },
  run(inputs, ctx) {
    const job = new Job(ctx);
    const engine = engineFor(inputs);
    return job.perform(async () => {
      const { artefact, facts } = await engine.backup({ dir: inputs.dir, prefix: inputs.prefix ?? engine.defaultPrefix, keep: inputs.keep, names: inputs.names }, job);
      for (const fact of facts) job.fact(fact.label, fact.value);
      job.fact('sha256', artefact.sha256);
      return summary(`backed up ${engine.what} to ${artefact.path} (${formatBytes(artefact.sizeBytes)})`, 'data.backedUp', { what: engine.subject, file: artefact.path, size: sizeValue(artefact.sizeBytes) });
    });
  },
});

export const restoreAction = defineAction({
  name: 'restore',
  summary: 'Restores a verified backup (explicit or the newest) after taking a safety backup of the current state.',
  inputs: restoreInputs,
  describe(inputs) {
    const engine = engineFor(inputs);
    const prefix = inputs.prefix ?? engine.defaultPrefix;
    const from = inputs.from ?? `the newest verified ${prefix}-<UTC time>.${engine.ext} in ${inputs.dir ?? '?'}`;
    const safetyDir = inputs.safetyDir ?? engine.besideLive ?? inputs.dir ?? `the backup's directory`;
    const afterwards = engine.afterwards !== undefined ? `; ${engine.afterwards}` : '';
    return `will restore ${engine.what} from ${from} (${engine.restoreMethod}), after a safety backup to ${safetyDir}${afterwards}`;
  },
  describeSaid(inputs): ResultMessage {
    const engine = engineFor(inputs);
    const prefix = inputs.prefix ?? engine.defaultPrefix;
    // Where the safety backup goes when the step names no place: beside an explicit backup, as the restore does.
    const safetyDir = inputs.safetyDir ?? engine.besideLive ?? inputs.dir ?? path.dirname(inputs.from ?? '/');
    const restart = engine.afterwards !== undefined ? '.restart' : '';
    return inputs.from !== undefined
      ? { code: `data.describe.restore${restart}`, params: { what: engine.subject, from: inputs.from, safetyDir } }
      : { code: `data.describe.restore.latest${restart}`, params: { what: engine.subject, name: `${prefix}-${STAMP_PATTERN}.${engine.ext}`, dir: inputs.dir ?? '?', safetyDir } };
  },
  run(inputs, ctx) {
    const job = new Job(ctx);
    const engine = engineFor(inputs);
    return job.perform(() => engine.restore(inputs, job));
  },
});

/** checkpoint, backup and restore, for SQLite, PostgreSQL, MySQL/MariaDB, Redis and directories. */
export const DATA_ACTIONS: TypedAction[] = [checkpointAction, backupAction, restoreAction, locateAction];

export { listBackups, type BackupFile } from './data/backup-files.js';

/** Where a backup step's files are and which of them it keeps, as rendered for these params. */
export interface BackupRetention {
  dir: string;
  prefix: string;
  ext: string;
  keep: KeepRule | undefined;
  names: readonly BackupName[] | undefined;
}

/**
 * The retention a backup step applies after each backup, without taking one: the scheduled
 * retention job uses it to expire old backups of steps that did not run (a job paused, a service
 * retired). Throws with the input problems when the step's rendered inputs are not valid.
 */
export function backupRetention(withInputs: unknown): BackupRetention {
  const parsed = backupInputs.safeParse(withInputs);
  if (!parsed.success) throw new Error(`invalid backup inputs: ${parsed.error.issues.map((i) => `with.${i.path.map(String).join('.')}: ${i.message}`).join('; ')}`);
  const engine = engineFor(parsed.data);
  return { dir: parsed.data.dir, prefix: parsed.data.prefix ?? engine.defaultPrefix, ext: engine.ext, keep: parsed.data.keep, names: parsed.data.names };
}
