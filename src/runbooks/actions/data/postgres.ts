import os from 'node:os';
import path from 'node:path';
import type { StepFact } from '../types.js';
import { ActionError, check, errorLine, nameProblem, portProblem, prefixPart, refusal, serverSubject, summary, type Summary } from './common.js';
import type { Job } from './job.js';
import type { BackupEngine, RestoreEngine } from './engine.js';
import { readHead, readTail, scanLines } from './files.js';
import type { PostgresTarget } from './inputs.js';

/*
 * PostgreSQL through psql, pg_dump and pg_restore. Every tool gets `-w` (never prompt: there is no
 * terminal, a missing password must fail at once) and options in `--name=value` form. A password
 * comes from PGPASSWORD (or a PGPASSFILE) allowlisted in the step's `env`, never from the inputs.
 *
 * `--dbname` is special in libpq: a value containing "=" or starting with postgres:// is read as a
 * whole connection string (host, sslmode, …). Since the database may come from an alert label, such
 * values are refused: the inputs name a database, they cannot redirect the connection.
 */

function validate(t: PostgresTarget): void {
  check(nameProblem(t.database, 'database'));
  if (t.database.includes('=') || /^postgres(?:ql)?:\/\//iu.test(t.database)) {
    throw new ActionError(`database ${JSON.stringify(t.database)} must be a database name, not a connection string`);
  }
  if (t.host !== undefined) check(nameProblem(t.host, 'host'));
  if (t.user !== undefined) check(nameProblem(t.user, 'user'));
  if (t.port !== undefined) check(portProblem(t.port));
}

function connection(t: PostgresTarget): string[] {
  return [
    ...(t.host !== undefined ? [`--host=${t.host}`] : []),
    ...(t.port !== undefined ? [`--port=${t.port}`] : []),
    ...(t.user !== undefined ? [`--username=${t.user}`] : []),
    `--dbname=${t.database}`,
  ];
}

export function describePostgres(t: PostgresTarget): string {
  const where = t.host !== undefined || t.port !== undefined ? ` on ${t.host ?? 'localhost'}${t.port !== undefined ? `:${t.port}` : ''}` : '';
  return `PostgreSQL ${t.database}${where}${t.user !== undefined ? ` as ${t.user}` : ''}`;
}

export const postgresSubject = (t: PostgresTarget) => serverSubject('PostgreSQL', t);

/** `CHECKPOINT` needs a superuser or (PostgreSQL 15+) a member of pg_checkpoint; the refusal is reported as such. */
export async function checkpointPostgres(t: PostgresTarget, job: Job): Promise<Summary> {
  validate(t);
  const run = await job.program(['psql', '-X', '-w', '-q', '-v', 'ON_ERROR_STOP=1', ...connection(t), '-c', 'CHECKPOINT'], {
    what: `CHECKPOINT on ${describePostgres(t)}`,
    allowFailure: true,
  });
  if (!run.ok) {
    const detail = errorLine(run.output) ?? run.failure ?? 'failed';
    if (run.timedOut) throw new ActionError(`CHECKPOINT on ${describePostgres(t)}: ${run.failure ?? 'timed out'}`, true);
    const denied = /superuser|pg_checkpoint|permission denied/iu.test(run.output);
    const hint = denied ? ' (CHECKPOINT needs a superuser or, from PostgreSQL 15, a role granted pg_checkpoint)' : '';
    throw refusal(`CHECKPOINT on ${describePostgres(t)} failed: ${detail}${hint}`, denied ? 'data.checkpoint.postgres.denied' : 'data.checkpoint.postgres.failed', { what: postgresSubject(t), detail });
  }
  job.fact('checkpoint', '✓');
  return summary(`ran CHECKPOINT on ${describePostgres(t)}`, 'data.checkpoint.postgres', { what: postgresSubject(t) });
}

/** `pg_restore --list`, written to a file (a large schema lists more than a program's output buffer), counted. */
async function tocFacts(job: Job, dump: string, dir: string): Promise<StepFact[]> {
  const magic = await readHead(dump, 5);
  if (magic.toString('latin1') !== 'PGDMP') throw new ActionError(`${dump} is not a pg_dump custom-format archive (no PGDMP header)`);
  const list = job.tempPath(dir, path.basename(dump), 'list');
  await job.program(['pg_restore', `--file=${list}`, '--list', dump], { what: `pg_restore --list of ${path.basename(dump)}` });
  let entries = 0;
  let tables = 0;
  let data = 0;
  await scanLines(list, job.signal, (line) => {
    if (line.trim() === '' || line.startsWith(';')) return;
    entries++;
    if (/^\d+; \d+ \d+ TABLE DATA /u.test(line)) data++;
    else if (/^\d+; \d+ \d+ TABLE /u.test(line)) tables++;
  });
  if (entries === 0) throw new ActionError(`pg_restore --list found no entries in ${dump}`);
  return [
    { label: 'toc entries', value: String(entries) },
    { label: 'tables', value: String(tables) },
    { label: 'table data entries', value: String(data) },
  ];
}

export const postgresBackup: BackupEngine<PostgresTarget> = {
  ext: 'dump',
  what: describePostgres,
  subject: postgresSubject,
  method: () => 'pg_dump -Fc, verified with pg_restore --list',
  defaultPrefix: (t) => `postgres-${prefixPart(t.database)}`,
  validate,
  async produce(t, out, job) {
    await job.program(['pg_dump', '-w', '--format=custom', `--file=${out}`, ...connection(t)], { what: `pg_dump of ${describePostgres(t)}` });
    const facts = await tocFacts(job, out, path.dirname(out));
    return facts;
  },
};

/** A plain-SQL `pg_dump` (the manuals' `pg_dump … > backup_<time>.sql`), restored with psql. */
const isPlain = (backup: string) => /\.sql$/iu.test(backup);

const PLAIN_HEAD = '-- PostgreSQL database dump';
const PLAIN_TAIL = '-- PostgreSQL database dump complete';

interface PreparedPostgres {
  backup: string;
  plain: boolean;
}

export const postgresRestore: RestoreEngine<PostgresTarget, PreparedPostgres> = {
  // A plain .sql backup goes through psql instead; its result and facts say so.
  method: () => 'pg_restore --clean --if-exists in one transaction',
  async prepare(t, backup, job) {
    validate(t);
    if (isPlain(backup)) {
      // pg_dump writes the completion line last: a dump cut short has none.
      const head = (await readHead(backup, 400)).toString('utf8');
      if (!head.includes(PLAIN_HEAD)) throw new ActionError(`${backup} is not a plain pg_dump (no "${PLAIN_HEAD}" header)`);
      if (!(await readTail(backup, 400)).toString('utf8').includes(PLAIN_TAIL)) throw new ActionError(`${backup} is not a complete dump (no "${PLAIN_TAIL}" line at its end)`);
      let tables = 0;
      await scanLines(backup, job.signal, (line) => {
        if (line.startsWith('CREATE TABLE ')) tables++;
      });
      job.fact('backup format', 'plain SQL (pg_dump)');
      job.fact('backup tables', String(tables));
      return { backup, plain: true };
    }
    // The listing goes to the temp directory: the backups' directory may be read-only.
    const facts = await tocFacts(job, backup, os.tmpdir());
    for (const fact of facts) job.fact(`backup ${fact.label}`, fact.value);
    return { backup, plain: false };
  },
  async apply(t, { backup, plain }, job) {
    if (plain) {
      // The manual empties the database before `psql < dump` (a plain dump has no DROPs): the public
      // schema is recreated and the dump run, all in one transaction, so an error changes nothing.
      await job.program(
        ['psql', '-X', '-w', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', ...connection(t), '-c', 'DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;', '-f', backup],
        { what: `psql restoring ${describePostgres(t)} (rolled back, nothing changed)` },
      );
      job.fact('note', 'the public schema was emptied and recreated before the dump was loaded (its owner is now the restoring role)');
      return summary(`restored ${describePostgres(t)} from ${backup} (plain SQL, psql)`, 'data.restored.plain', { what: postgresSubject(t), backup });
    }
    // One transaction: an error rolls the whole restore back and the database stays as it was.
    const run = await job.program(['pg_restore', '-w', '--clean', '--if-exists', '--single-transaction', '--exit-on-error', ...connection(t), backup], {
      what: `pg_restore into ${describePostgres(t)} (rolled back, nothing changed)`,
    });
    if (run.output.trim() !== '') job.fact('pg_restore said', errorLine(run.output) ?? '');
    job.fact('note', 'objects created after the backup and not in it are left as they are');
    return summary(`restored ${describePostgres(t)} from ${backup}`, 'data.restored', { what: postgresSubject(t), backup });
  },
};
