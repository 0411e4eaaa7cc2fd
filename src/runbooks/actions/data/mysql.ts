import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ActionError, check, nameProblem, portProblem, prefixPart, serverSubject, sizeValue, summary } from './common.js';
import type { Job } from './job.js';
import type { BackupEngine, RestoreEngine } from './engine.js';
import { gunzipToBuffer, gzipFile, readTail, scanLines, verifyGzipRoundTrip } from './files.js';
import type { MysqlTarget } from './inputs.js';

/*
 * MariaDB / MySQL through `mariadb-dump` and `mariadb` (or `mysqldump` and `mysql` where the
 * MariaDB names are absent). A password comes from MYSQL_PWD allowlisted in the step's `env`.
 *
 * The dump is `--single-transaction` (a consistent InnoDB snapshot without locking writers),
 * with routines and triggers, `--hex-blob` (binary columns as hex, so the dump is plain UTF-8 text
 * and can be fed back through the client's stdin), and `--databases` (it carries its own
 * CREATE DATABASE / USE, which restore checks against the target). A dump is complete only when
 * it ends with the "-- Dump completed" trailer: a dump cut short by an error never has one.
 */

/** Largest dump restored through the client's stdin (it is held in memory on the way). */
export const MAX_RESTORE_BYTES = 256 * 1024 * 1024;

const TRAILER = '-- Dump completed';

function validate(t: MysqlTarget): void {
  check(nameProblem(t.database, 'database'));
  if (t.host !== undefined) check(nameProblem(t.host, 'host'));
  if (t.user !== undefined) check(nameProblem(t.user, 'user'));
  if (t.port !== undefined) check(portProblem(t.port));
}

function connection(t: MysqlTarget): string[] {
  return [...(t.host !== undefined ? [`--host=${t.host}`] : []), ...(t.port !== undefined ? [`--port=${t.port}`] : []), ...(t.user !== undefined ? [`--user=${t.user}`] : [])];
}

export function describeMysql(t: MysqlTarget): string {
  const where = t.host !== undefined || t.port !== undefined ? ` on ${t.host ?? 'localhost'}${t.port !== undefined ? `:${t.port}` : ''}` : '';
  return `MySQL/MariaDB ${t.database}${where}${t.user !== undefined ? ` as ${t.user}` : ''}`;
}

const mysqlSubject = (t: MysqlTarget) => serverSubject('MySQL/MariaDB', t);

/** The first of `names` found on the programs' PATH (MariaDB's names first, MySQL's as fallback). */
async function findProgram(job: Job, names: readonly [string, ...string[]]): Promise<string> {
  const dirs = (job.ctx.programEnv.PATH ?? '').split(':').filter((d) => d !== '');
  for (const name of names) {
    for (const dir of dirs) {
      try {
        await access(path.join(dir, name), constants.X_OK);
        return name;
      } catch {
        // not here
      }
    }
  }
  throw new ActionError(`none of ${names.join(', ')} is installed (on the PATH)`);
}

/** The database names a dump switches to (`USE \`name\`;`), in order. */
function usedDatabases(sql: string): string[] {
  return [...sql.matchAll(/^USE `((?:[^`]|``)+)`;$/gmu)].map((m) => (m[1] ?? '').replaceAll('``', '`'));
}

export const mysqlBackup: BackupEngine<MysqlTarget> = {
  ext: 'sql.gz',
  what: describeMysql,
  subject: mysqlSubject,
  method: () => 'mariadb-dump --single-transaction --routines --triggers, trailer check, gzip',
  defaultPrefix: (t) => `mysql-${prefixPart(t.database)}`,
  validate,
  async produce(t, out, job) {
    const dumper = await findProgram(job, ['mariadb-dump', 'mysqldump']);
    const raw = job.tempPath(path.dirname(out), path.basename(out), 'sql');
    await job.program(
      [dumper, ...connection(t), '--single-transaction', '--routines', '--triggers', '--hex-blob', `--result-file=${raw}`, '--databases', t.database],
      { what: `${dumper} of ${describeMysql(t)}` },
    );
    if (!(await readTail(raw, 512)).toString('utf8').includes(TRAILER)) {
      throw new ActionError(`the dump of ${describeMysql(t)} is incomplete: it does not end with "${TRAILER}"`);
    }
    let tables = 0;
    let views = 0;
    let inserts = 0;
    await scanLines(raw, job.signal, (line) => {
      if (line.startsWith('CREATE TABLE ')) tables++;
      else if (line.startsWith('INSERT INTO ')) inserts++;
      else if (/^\/\*!50001 VIEW /u.test(line)) views++;
    });
    const digest = await gzipFile(raw, out, job.signal);
    await verifyGzipRoundTrip(out, digest, job.signal);
    return [
      { label: 'program', value: dumper },
      { label: 'tables', value: String(tables) },
      ...(views > 0 ? [{ label: 'views', value: String(views) }] : []),
      { label: 'insert statements', value: String(inserts) },
      { label: 'dump size', value: sizeValue(digest.bytes) },
      { label: 'trailer', value: TRAILER },
    ];
  },
};

/** Reads a plain `.sql` dump into memory, refusing one larger than `maxBytes`. */
async function readBounded(file: string, maxBytes: number): Promise<Buffer> {
  const info = await stat(file);
  if (info.size > maxBytes) throw new ActionError(`${file} is larger than ${Math.round(maxBytes / 1024 / 1024)} MiB, the most this action restores through the client's stdin`);
  return readFile(file);
}

/**
 * From a dump of several databases (the IM suite manual's `mysqldump --all-databases`), the part
 * that restores `database`: the dump's header (session settings), then its section, from its
 * `-- Current Database:` line to the next one. Undefined when the dump has no such section.
 */
export function sectionOf(sql: string, database: string): { sql: string; others: string[] } | undefined {
  const marker = /^-- Current Database: `((?:[^`]|``)+)`$/gmu;
  const starts = [...sql.matchAll(marker)].map((m) => ({ name: (m[1] ?? '').replaceAll('``', '`'), at: m.index }));
  const mine = starts.findIndex((s) => s.name === database);
  if (mine === -1) return undefined;
  const header = sql.slice(0, starts[0]?.at ?? 0);
  const section = sql.slice(starts[mine]?.at ?? 0, starts[mine + 1]?.at ?? sql.length);
  return { sql: `${header}${section}`, others: starts.filter((s) => s.name !== database).map((s) => s.name) };
}

export const mysqlRestore: RestoreEngine<MysqlTarget, { sql: string; backup: string; useDatabase: boolean }> = {
  method: () => `gunzip | mariadb, or a plain .sql dump through mariadb (up to ${MAX_RESTORE_BYTES / 1024 / 1024} MiB)`,
  async prepare(t, backup, job) {
    validate(t);
    let buffer: Buffer;
    try {
      buffer = /\.sql$/iu.test(backup) ? await readBounded(backup, MAX_RESTORE_BYTES) : await gunzipToBuffer(backup, MAX_RESTORE_BYTES, job.signal);
    } catch (error) {
      if (error instanceof ActionError || job.signal.aborted) throw error;
      throw new ActionError(`${backup} cannot be read: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!buffer.subarray(-512).toString('utf8').includes(TRAILER)) throw new ActionError(`${backup} is not a complete dump (no "${TRAILER}" trailer)`);
    let sql: string;
    try {
      sql = new TextDecoder('utf-8', { fatal: true }).decode(buffer);
    } catch {
      throw new ActionError(`${backup} is not UTF-8 text (dumps made without --hex-blob cannot be restored through stdin)`);
    }
    let used = [...new Set(usedDatabases(sql))];
    if (used.length > 1) {
      // A dump of every database: only this database's part is restored, never the others (mysql's own tables among them).
      const part = sectionOf(sql, t.database);
      if (part === undefined) throw new ActionError(`${backup} is a dump of ${used.map((n) => JSON.stringify(n)).join(', ')} and holds no ${JSON.stringify(t.database)}`);
      sql = part.sql;
      job.fact('dump of several databases', `restoring only ${t.database}; left alone: ${part.others.join(', ')}`);
      used = [...new Set(usedDatabases(sql))];
    }
    const others = used.filter((name) => name !== t.database);
    if (others.length > 0) {
      throw new ActionError(`${backup} is a dump of ${others.map((n) => JSON.stringify(n)).join(', ')}, not of ${JSON.stringify(t.database)}: restoring it would change another database`);
    }
    job.fact('backup size', sizeValue(buffer.length));
    return { sql, backup, useDatabase: used.length === 0 };
  },
  async apply(t, { sql, backup, useDatabase }, job) {
    const client = await findProgram(job, ['mariadb', 'mysql']);
    // A --databases dump selects its database itself; a plain one is pointed at the target.
    await job.program([client, ...connection(t), '--batch', ...(useDatabase ? [`--database=${t.database}`] : [])], {
      what: `${client} restoring ${describeMysql(t)} stopped part-way (the safety backup holds the state before)`,
      input: sql,
    });
    job.fact('note', 'tables in the dump were dropped and recreated; tables created after the backup are left as they are');
    return summary(`restored ${describeMysql(t)} from ${backup}`, 'data.restored', { what: mysqlSubject(t), backup });
  },
};
