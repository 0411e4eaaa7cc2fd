import { link, realpath, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { StepFact } from '../types.js';
import { formatBytes } from '../../../domain/format.js';
import { ActionError, check, fsProblem, pathProblem, prefixPart, refusal, sizeValue, summary, utcStamp, type Summary } from './common.js';
import type { Job } from './job.js';
import type { BackupEngine, RestoreEngine } from './engine.js';
import { copyOwnership, gunzipFile, gzipFile, lstatOrUndefined, statOrUndefined, syncDir, verifyGzipRoundTrip } from './files.js';
import type { CheckpointInputs } from './inputs.js';

/*
 * SQLite through the `sqlite3` shell (no driver in the bot): `-init /dev/null` so no ~/.sqliterc
 * applies, `-batch -bail -json` for parseable output, and databases opened by `file:` URI so that
 * `mode=rw` never creates a missing database and `mode=ro` never writes to our own copies.
 *
 * Backups use `VACUUM INTO '<file>'` rather than the shell's `.backup '<file>'`. Both read one
 * consistent snapshot while other processes keep writing (in WAL mode writers are not even
 * blocked). The difference is quoting: a dot-command argument follows the shell's own ad-hoc
 * quoting rules, whereas `VACUUM INTO` takes an ordinary SQL string literal whose only escape is
 * `'` → `''`, so any destination path is passed exactly with no way to inject a second command.
 * The copy is also defragmented. It is written in rollback-journal mode (an application that
 * wants WAL sets it again when it opens the database).
 */

export interface SqliteTarget {
  path: string;
}

/** A `file:` URI for the shell. `%`, `?` and `#` would be read as URI syntax, so they are escaped. */
export function sqliteUri(file: string, mode: 'ro' | 'rw'): string {
  const escaped = file.replace(/[%?#]/gu, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `file://${escaped}?mode=${mode}`;
}

/** An SQL string literal: the only escape SQL has is doubling the quote. */
export const sqlString = (value: string) => `'${value.replaceAll("'", "''")}'`;
/** An SQL identifier, e.g. a table name read from the schema. */
const sqlIdentifier = (value: string) => `"${value.replaceAll('"', '""')}"`;

interface SqliteCall {
  what: string;
  /** How long SQLite waits for a lock held by another connection. */
  busyMs?: number;
  allowFailure?: boolean;
}

/** Runs one SQL statement (passed on stdin, so its length is not bound by argv limits); returns the JSON rows. */
async function sqlite(job: Job, uri: string, sql: string, call: SqliteCall): Promise<{ rows: Record<string, unknown>[]; ok: boolean; output: string }> {
  const busy = Math.max(0, Math.round(call.busyMs ?? 0));
  const run = await job.program(['sqlite3', '-init', '/dev/null', '-batch', '-bail', '-json', '-cmd', `.timeout ${busy}`, uri], {
    what: call.what,
    input: `${sql}\n`,
    allowFailure: call.allowFailure,
  });
  if (!run.ok) return { rows: [], ok: false, output: run.output };
  const text = run.stdout.trim();
  let rows: unknown;
  try {
    rows = text === '' ? [] : JSON.parse(text);
  } catch {
    throw new ActionError(`${call.what}: unexpected output from sqlite3: ${text.slice(0, 200)}`);
  }
  return { rows: Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [], ok: true, output: run.output };
}

/** One value of a JSON row as text. */
const cell = (value: unknown): string => (typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value));

/** `PRAGMA integrity_check`: undefined when "ok", else the first problems. */
async function integrityProblems(job: Job, uri: string, what: string): Promise<string[] | undefined> {
  const { rows } = await sqlite(job, uri, 'PRAGMA integrity_check(20);', { what, busyMs: Math.min(5000, job.remainingMs() / 2) });
  const results = rows.map((r) => cell(r.integrity_check ?? Object.values(r)[0]));
  return results.length === 1 && results[0] === 'ok' ? undefined : results.length === 0 ? ['no result'] : results;
}

/** Table names and their row counts, as facts (`tables`, `rows`, `rows per table`). */
async function tableFacts(job: Job, uri: string, label: string): Promise<StepFact[]> {
  const { rows: tables } = await sqlite(job, uri, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name;", {
    what: `listing the tables of ${label}`,
  });
  const names = tables.map((t) => cell(t.name));
  if (names.length === 0) return [{ label: 'tables', value: '0' }];
  const sql = `${names.map((n) => `SELECT ${sqlString(n)} AS name, count(*) AS n FROM ${sqlIdentifier(n)}`).join(' UNION ALL ')};`;
  const { rows } = await sqlite(job, uri, sql, { what: `counting the rows of ${label}` });
  const counts = rows.map((r) => ({ name: cell(r.name), n: Number(r.n) }));
  const total = counts.reduce((sum, c) => sum + c.n, 0);
  const shown = counts.slice(0, 12).map((c) => `${c.name}=${c.n}`);
  if (counts.length > shown.length) shown.push(`… +${counts.length - shown.length}`);
  return [
    { label: 'tables', value: String(names.length) },
    { label: 'rows', value: String(total) },
    { label: 'rows per table', value: shown.join(', ') },
  ];
}

function validate(target: SqliteTarget): void {
  check(pathProblem(target.path, 'path'));
}

/** The database must exist as a regular file: opening a missing one would create an empty database. */
async function requireDatabase(file: string): Promise<void> {
  let info;
  try {
    info = await statOrUndefined(file);
  } catch (error) {
    throw new ActionError(`SQLite database ${file}: ${fsProblem(error)}`);
  }
  if (info === undefined) throw refusal(`SQLite database ${file} does not exist (nothing was created)`, 'data.sqlite.missing', { path: file });
  if (!info.isFile()) throw refusal(`SQLite database ${file} is not a regular file`, 'data.sqlite.notFile', { path: file });
}

async function walSize(file: string): Promise<number | undefined> {
  return (await statOrUndefined(`${file}-wal`))?.size;
}

/** What `PRAGMA integrity_check` answers for a sound database, as a finding's value in every language. */
const INTEGRITY_OK = '✓';

const walText = (size: number | undefined) => (size === undefined ? '0 bytes (no -wal file)' : formatBytes(size));

/** The WAL's size as a fact: a missing -wal file is said by the label, so the value stays a size. */
const walFact = (job: Job, when: 'before' | 'after', size: number | undefined) => job.fact(size === undefined ? `wal ${when} (no -wal file)` : `wal ${when}`, sizeValue(size ?? 0));

/**
 * `PRAGMA wal_checkpoint(MODE)`, then `PRAGMA integrity_check`.
 *
 * busy=1 (a FULL, RESTART or TRUNCATE checkpoint blocked by another connection's read or write
 * after waiting up to 5 s) fails the step: the WAL was not reset, which is what the responder
 * asked for, so reporting success would hide that the remedy did not happen. The facts show
 * how far it got and the step can simply be run again. A PASSIVE checkpoint never waits and never
 * reports busy; if it could not copy every frame that is shown as a fact but is not a failure.
 */
export async function checkpointSqlite(inputs: Extract<CheckpointInputs, { engine: 'sqlite' }>, job: Job): Promise<Summary> {
  validate(inputs);
  await requireDatabase(inputs.path);
  const before = await walSize(inputs.path);
  walFact(job, 'before', before);
  const { rows } = await sqlite(job, sqliteUri(inputs.path, 'rw'), `PRAGMA wal_checkpoint(${inputs.mode});`, {
    what: `wal_checkpoint(${inputs.mode}) of ${inputs.path}`,
    busyMs: Math.min(5000, job.remainingMs() / 3),
  });
  const row = rows[0] ?? {};
  const [busy, log, done] = [Number(row.busy), Number(row.log), Number(row.checkpointed)];
  if (![busy, log, done].every(Number.isInteger)) throw new ActionError(`wal_checkpoint returned an unexpected row: ${JSON.stringify(row)}`);
  const after = await walSize(inputs.path);
  const walMode = log !== -1;
  job.fact('busy', String(busy));
  // Out of WAL mode there are no frames; the summary says why.
  job.fact('log frames', walMode ? String(log) : '—');
  job.fact('checkpointed frames', walMode ? String(done) : '—');
  walFact(job, 'after', after);
  if (inputs.mode === 'PASSIVE' && walMode && done < log) job.fact('frames copied by the PASSIVE checkpoint (other connections are active)', `${done} / ${log}`);

  let integrity = '';
  if (inputs.integrityCheck) {
    const problems = await integrityProblems(job, sqliteUri(inputs.path, 'rw'), `integrity_check of ${inputs.path}`);
    job.fact('integrity', problems === undefined ? INTEGRITY_OK : problems.slice(0, 5).join('; '));
    if (problems !== undefined) {
      throw refusal(`integrity_check of ${inputs.path} found problems: ${problems.slice(0, 3).join('; ')}`, 'data.sqlite.integrity', { path: inputs.path, problems: problems.slice(0, 3).join('; ') });
    }
    integrity = ', integrity ok';
  }
  if (busy !== 0) {
    throw refusal(
      `wal_checkpoint(${inputs.mode}) of ${inputs.path} did not complete: busy (another connection kept reading or writing); ${done} of ${log} frames checkpointed, WAL ${walText(after)} — run it again once the blocker is gone`,
      'data.sqlite.busy',
      { path: inputs.path, mode: inputs.mode, done, log, wal: sizeValue(after ?? 0) },
    );
  }
  const checked = integrity !== '' ? '.checked' : '';
  if (!walMode) return summary(`SQLite ${inputs.path} is not in WAL mode: nothing to checkpoint${integrity}`, `data.checkpoint.notWal${checked}`, { path: inputs.path });
  return summary(`checkpointed SQLite ${inputs.path} (${inputs.mode}): WAL ${walText(before)} → ${walText(after)}${integrity}`, `data.checkpoint.sqlite${checked}`, {
    path: inputs.path,
    mode: inputs.mode,
    before: sizeValue(before ?? 0),
    after: sizeValue(after ?? 0),
  });
}

export const sqliteBackup: BackupEngine<SqliteTarget> = {
  ext: 'db.gz',
  what: (t) => `SQLite ${t.path}`,
  subject: (t) => `SQLite ${t.path}`,
  method: () => 'VACUUM INTO a snapshot, integrity_check and row counts, gzip',
  defaultPrefix: (t) => `sqlite-${prefixPart(path.basename(t.path).replace(/\.(db|sqlite3?|db3)$/iu, ''))}`,
  validate,
  besideLive: (t) => path.dirname(t.path),
  async absent(t) {
    return (await lstatOrUndefined(t.path)) === undefined;
  },
  async produce(t, out, job) {
    await requireDatabase(t.path);
    const copy = job.tempPath(path.dirname(out), path.basename(out), 'db');
    for (const suffix of ['-wal', '-shm', '-journal']) job.track(`${copy}${suffix}`);
    // The busy timeout covers a writer holding a lock in rollback-journal mode; the step's own time limit bounds it.
    await sqlite(job, sqliteUri(t.path, 'rw'), `VACUUM INTO ${sqlString(copy)};`, { what: `VACUUM INTO a copy of ${t.path}`, busyMs: job.remainingMs() });
    const problems = await integrityProblems(job, sqliteUri(copy, 'ro'), 'integrity_check of the copy');
    if (problems !== undefined) {
      throw refusal(`the copy of ${t.path} failed integrity_check: ${problems.slice(0, 3).join('; ')}`, 'data.sqlite.copyIntegrity', { path: t.path, problems: problems.slice(0, 3).join('; ') });
    }
    const facts: StepFact[] = [{ label: 'integrity', value: INTEGRITY_OK }, ...(await tableFacts(job, sqliteUri(copy, 'ro'), 'the copy'))];
    const digest = await gzipFile(copy, out, job.signal);
    await verifyGzipRoundTrip(out, digest, job.signal);
    facts.push({ label: 'database size', value: sizeValue(digest.bytes) });
    return facts;
  },
  async produceAsIs(t, out, job) {
    const digest = await gzipFile(t.path, out, job.signal);
    await verifyGzipRoundTrip(out, digest, job.signal);
    return [{ label: 'database size', value: sizeValue(digest.bytes) }];
  },
};

interface StagedSqlite {
  staged: string;
  backup: string;
}

/**
 * Whether another process has the database open: taking an exclusive lock fails with "database is
 * locked" while any WAL-mode connection is open or any transaction is active. Idle connections to a
 * rollback-journal database hold no lock and cannot be seen; stopping the application first is the
 * restart action's job, this only catches the common mistake of restoring under a running service.
 */
async function refuseIfInUse(job: Job, file: string): Promise<void> {
  const run = await sqlite(job, sqliteUri(file, 'rw'), 'PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;', {
    what: `checking that ${file} is not in use`,
    busyMs: Math.min(1000, job.remainingMs() / 4),
    allowFailure: true,
  });
  if (!run.ok && /database is locked|SQLITE_BUSY|\(5\)/u.test(run.output)) {
    throw refusal(`SQLite database ${file} is in use by another process (it holds a lock): stop the application first (restart action), then restore`, 'data.sqlite.inUse', { path: file });
  }
}

export const sqliteRestore: RestoreEngine<SqliteTarget, StagedSqlite> = {
  method: () => 'gunzip next to the database, integrity_check, rename over it (previous database kept)',
  async prepare(t, backup, job) {
    validate(t);
    const dir = path.dirname(t.path);
    const info = await statOrUndefined(dir).catch((error: unknown) => {
      throw new ActionError(`directory ${dir}: ${fsProblem(error)}`);
    });
    if (!info?.isDirectory()) throw new ActionError(`directory ${dir} of the database does not exist`);
    const staged = job.tempPath(dir, path.basename(t.path), 'restore');
    for (const suffix of ['-wal', '-shm', '-journal']) job.track(`${staged}${suffix}`);
    try {
      await gunzipFile(backup, staged, job.signal);
    } catch (error) {
      if (job.signal.aborted) throw error;
      throw new ActionError(`${backup} could not be decompressed next to ${t.path}: ${fsProblem(error)}`);
    }
    const problems = await integrityProblems(job, sqliteUri(staged, 'ro'), 'integrity_check of the backup');
    if (problems !== undefined) {
      throw refusal(`the backup ${backup} failed integrity_check: ${problems.slice(0, 3).join('; ')}`, 'data.sqlite.backupIntegrity', { backup, problems: problems.slice(0, 3).join('; ') });
    }
    for (const fact of await tableFacts(job, sqliteUri(staged, 'ro'), 'the backup')) job.fact(`restored ${fact.label}`, fact.value);
    if ((await statOrUndefined(t.path)) !== undefined) await refuseIfInUse(job, t.path);
    return { staged, backup };
  },
  async apply(t, { staged, backup }, job) {
    const old = await statOrUndefined(t.path);
    // Replace the file a symlink points to, not the symlink.
    const file = old !== undefined ? await realpath(t.path) : t.path;
    const aside = `${file}.before-restore-${utcStamp(new Date())}`;
    try {
      if (old !== undefined) {
        // A hard link keeps the old database under the new name while the path itself is replaced atomically below.
        await link(file, aside).catch(async (error: unknown) => {
          if ((error as { code?: string }).code === 'EEXIST') throw error;
          await rename(file, aside);
        });
        job.fact('previous database kept as', aside);
        await copyOwnership(staged, old);
      }
      // The old database's WAL and hot journal belong to it: they move with it (so it stays openable),
      // and must not be applied to the restored one. The -shm index is rebuilt from the WAL, so it goes.
      for (const suffix of ['-wal', '-journal']) {
        if ((await lstatOrUndefined(`${file}${suffix}`)) === undefined) continue;
        await rename(`${file}${suffix}`, `${aside}${suffix}`);
        job.fact(`previous ${suffix.slice(1)} kept as`, `${aside}${suffix}`);
      }
      await rm(`${file}-shm`, { force: true });
      await rename(staged, file);
      job.keep(staged);
      await syncDir(path.dirname(file));
    } catch (error) {
      if (error instanceof ActionError) throw error;
      throw new ActionError(`replacing ${file}: ${fsProblem(error)}`);
    }
    return summary(`restored SQLite ${t.path} from ${backup}`, 'data.restored', { what: sqliteBackup.subject(t), backup });
  },
};
