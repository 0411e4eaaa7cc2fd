import { execa } from 'execa';
import { describe, it } from 'vitest';

/**
 * Suites that need a real local service (PostgreSQL, MariaDB, Redis, …) declare it here, with one
 * policy for all of them:
 * - the service answers its probe: the suite runs;
 * - it does not, under CI (`CI=true`): the suite FAILS with "<name> is required under CI: <why>"
 *   (`.ci/run` starts the services, so a missing one is a broken environment, not a reason to skip);
 * - it does not, elsewhere: the suite is skipped, and the reason is in the skipped test's name.
 *
 * Usage (top-level await, so the probe runs once while the file is collected):
 *
 *   const pg = await requireService('PostgreSQL at 127.0.0.1:5432', probePostgres);
 *   pg.describe('pg_dump round trip', () => { ... pg.value.user ... });
 */
export interface Service<T> {
  name: string;
  available: boolean;
  /** Why the probe failed (undefined when available). */
  problem: string | undefined;
  /** What the probe returned (e.g. the user that could log in); only read it inside `describe`. */
  value: T;
  /** `describe` when available; a failing test under CI; a skipped suite otherwise. */
  describe: (title: string, body: () => void) => void;
}

const underCi = () => process.env.CI === 'true';

/** Probes a service once; see the policy above. `probe` throws (with a reason) when it is unavailable. */
export async function requireService<T>(name: string, probe: () => Promise<T>): Promise<Service<T>> {
  let value: T | undefined;
  let problem: string | undefined;
  try {
    value = await probe();
  } catch (error) {
    problem = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'unavailable';
  }
  const available = problem === undefined;
  return {
    name,
    available,
    problem,
    value: value as T,
    describe(title, body) {
      if (available) {
        describe(title, body);
      } else if (underCi()) {
        describe(title, () => {
          it(`needs ${name}`, () => {
            throw new Error(`${name} is required under CI: ${problem ?? 'unavailable'}`);
          });
        });
      } else {
        describe.skip(`${title} (skipped: ${name} unavailable: ${problem ?? ''})`, body);
      }
    },
  };
}

/** Runs a probe command with a short timeout; throws its first error line when it fails. */
export async function probeCommand(argv: [string, ...string[]], timeoutMs = 5000): Promise<string> {
  const [program, ...args] = argv;
  const r = await execa(program, args, { reject: false, timeout: timeoutMs, stdin: 'ignore', all: true });
  if (r.exitCode !== 0) {
    const why = r.timedOut ? 'timed out' : r.exitCode === undefined ? `${program} could not start (${r.code ?? 'not installed?'})` : `${program} exited ${r.exitCode}`;
    // The first line names the cause ("connection refused"); later ones are hints.
    const line = (r.all ?? '').trim().split('\n')[0]?.trim() ?? '';
    throw new Error(line !== '' ? `${why}: ${line}` : why);
  }
  return r.stdout;
}

/** PostgreSQL at 127.0.0.1:5432 with trust auth: the first of `users` that can log in to `database`. */
export async function probePostgres(database = 'postgres', users = ['postgres', 'root'], host = '127.0.0.1', port = 5432): Promise<{ user: string; host: string; port: number }> {
  const problems: string[] = [];
  for (const user of users) {
    try {
      await probeCommand(['psql', '-X', '-w', '-q', '-h', host, '-p', String(port), '-U', user, '-d', database, '-c', 'select 1']);
      return { user, host, port };
    } catch (error) {
      problems.push(`${user}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(problems.join('; '));
}

/** MariaDB/MySQL at 127.0.0.1:3306 as root without a password. */
export async function probeMariadb(host = '127.0.0.1', port = 3306, user = 'root'): Promise<{ user: string; host: string; port: number }> {
  await probeCommand(['mariadb', `--host=${host}`, `--port=${port}`, `--user=${user}`, '--batch', '-e', 'select 1']);
  return { user, host, port };
}

/** Redis at 127.0.0.1:6379 answering PING. */
export async function probeRedis(host = '127.0.0.1', port = 6379): Promise<{ host: string; port: number }> {
  const out = await probeCommand(['redis-cli', '-h', host, '-p', String(port), 'PING']);
  if (out.trim() !== 'PONG') throw new Error(`PING answered ${out.trim().slice(0, 80)}`);
  return { host, port };
}
