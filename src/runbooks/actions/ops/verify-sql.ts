import { isAbsolute } from 'node:path';
import { quoteValue } from '../../param-value.js';
import { runProgram } from '../program.js';
import type { TypedActionContext } from '../typed-action.js';
import { nameProblem, portProblem, type Attempt } from './common.js';
import { problemOf, programProblem, programProblemSaid, reasonLine, say, type Problem } from './said.js';
import type { SqlVerify } from './verify-inputs.js';

/*
 * verify's SQL check: `SELECT 1` through the engine's own client (sqlite3, psql, mariadb or mysql),
 * so a database that is up but refuses connections is not healthy.
 */

const HOST = /^[A-Za-z0-9_.:%[\]/-]+$/u;
const SQL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.$-]*$/u;
/** Reads the schema too, so a file that is not a database fails (a bare SELECT 1 would not). */
export const SQLITE_CHECK = 'SELECT 1 FROM (SELECT count(*) FROM sqlite_master)';

function sqlProblem(v: SqlVerify): Problem | undefined {
  if (v.engine === 'sqlite') {
    const shown = quoteValue(v.path, 200);
    return isAbsolute(v.path) ? undefined : problemOf(`the sqlite path must be absolute: ${shown}`, 'verify.sqlitePath', { path: shown });
  }
  return (
    portProblem(v.port) ??
    nameProblem(v.host, 'host', HOST, 'a host name, an IP address or a socket directory') ??
    nameProblem(v.user, 'user', SQL_NAME, 'letters, digits, _ . $ -') ??
    nameProblem(v.database, 'database', SQL_NAME, 'letters, digits, _ . $ -')
  );
}

/**
 * The argv that runs `SELECT 1` for a connection (pure: tests check it). The password never
 * appears here: psql reads PGPASSWORD and the MariaDB client MYSQL_PWD, from the step's env allowlist.
 */
export function sqlArgv(v: SqlVerify, connectTimeoutSeconds: number, mysqlClient = 'mariadb'): [string, ...string[]] {
  switch (v.engine) {
    case 'sqlite':
      // -readonly: a missing file is an error, never a new empty database.
      return ['sqlite3', '-readonly', '-batch', v.path, SQLITE_CHECK];
    case 'postgres':
      // --dbname is a plain name (sqlProblem refuses "=" and "://"), so it cannot carry a connection string.
      return ['psql', '-X', '-tAc', 'SELECT 1', `--host=${v.host}`, `--port=${v.port}`, `--username=${v.user}`, `--dbname=${v.database}`, '--no-password'];
    case 'mysql':
      return [
        mysqlClient,
        '--batch',
        '-N',
        '-e',
        'SELECT 1',
        `--host=${v.host}`,
        `--port=${v.port}`,
        `--user=${v.user}`,
        `--database=${v.database}`,
        `--connect-timeout=${connectTimeoutSeconds}`,
      ];
  }
}

export function sqlCheck(v: SqlVerify, ctx: TypedActionContext): ((timeoutMs: number) => Promise<Attempt>) | Problem {
  const problem = sqlProblem(v);
  if (problem !== undefined) return problem;
  let mysqlClient = 'mariadb';
  return async (timeoutMs) => {
    const connectTimeout = Math.max(1, Math.floor(timeoutMs / 1000));
    const env = v.engine === 'postgres' ? { ...ctx.programEnv, PGCONNECT_TIMEOUT: String(connectTimeout) } : ctx.programEnv;
    const options = { timeoutMs, signal: ctx.signal, env, onSpawn: ctx.onSpawn };
    let run = await runProgram(sqlArgv(v, connectTimeout, mysqlClient), options);
    // MySQL hosts ship `mysql` without the `mariadb` name; use whichever client is installed.
    if (v.engine === 'mysql' && mysqlClient === 'mariadb' && run.failure?.startsWith('could not start') === true) {
      mysqlClient = 'mysql';
      const fallback = await runProgram(sqlArgv(v, connectTimeout, mysqlClient), options);
      if (fallback.failure?.startsWith('could not start') === true) mysqlClient = 'mariadb';
      else run = fallback;
    }
    const exit = run.exitCode !== undefined ? { exitCode: run.exitCode } : {};
    if (!run.ok) {
      const seen = reasonLine(run.output) || (run.failure ?? '');
      return { ok: false, fatal: run.failure?.startsWith('could not start') === true, detail: programProblem(run), said: programProblemSaid(run), seen, output: run.output, ...exit };
    }
    const answer = run.stdout.trim();
    if (answer !== '1') {
      const shown = quoteValue(answer);
      return { ok: false, detail: `SELECT 1 answered ${shown}`, said: [say('verify.sqlAnswer', { answer: shown })], seen: `\`SELECT 1\` → ${shown}`, output: run.output, ...exit };
    }
    return { ok: true, detail: 'SELECT 1 answered 1', said: [say('verify.sqlAnswer', { answer: 1 })], seen: '`SELECT 1` → 1', output: run.output, ...exit };
  };
}
