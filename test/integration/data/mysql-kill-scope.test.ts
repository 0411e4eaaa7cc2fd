import { execa, type ResultPromise } from 'execa';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadRunbooks } from '../../../src/runbooks/loader.js';
import { resolveParams, runStep, type Runbook } from '../../../src/runbooks/index.js';
import { probeMariadb, requireService } from '../../support/services.js';

/*
 * The IM suite's "Kill the longest-running query", as shipped, against real MariaDB: two users run
 * long queries and only the application user's is killed; the other user's query, the longer one,
 * keeps running. The step reaches MySQL through `docker exec <container> mysql …`; here a `docker`
 * on PATH that drops `exec -e MYSQL_PWD <container>` stands for the container and points the real
 * mysql client at 127.0.0.1:3306. The SQL, the client and the server are the real ones.
 */
const maria = await requireService('MariaDB at 127.0.0.1:3306', () => probeMariadb());

const suffix = `${process.pid}_${Date.now() % 100_000}`;
const APP = `ck_app_${suffix}`;
const OTHER = `ck_rep_${suffix}`;
const PASSWORD = 'kill-scope-pw';

async function sql(statements: string): Promise<string> {
  const r = await execa('mariadb', [`--host=${maria.value.host}`, `--port=${maria.value.port}`, `--user=${maria.value.user}`, '--batch', '--skip-column-names', '-e', statements], { stdin: 'ignore' });
  return r.stdout.trim();
}

/** A long query held open by a client process of `user`, as the backend (or a report) would. */
function longQuery(user: string, seconds: number): ResultPromise {
  return execa('mariadb', [`--host=${maria.value.host}`, `--port=${maria.value.port}`, `--user=${user}`, `--password=${PASSWORD}`, '--batch', '-e', `SELECT SLEEP(${seconds}) AS slept`], { stdin: 'ignore', reject: false });
}

/** The ids of `user`'s connections running a query. */
async function queries(user: string): Promise<string[]> {
  const out = await sql(`SELECT id FROM information_schema.processlist WHERE user = '${user}' AND command = 'Query' ORDER BY id`);
  return out === '' ? [] : out.split('\n');
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

maria.describe('IM suite kill step, scoped to the application user (real MariaDB)', () => {
  let bin: string;
  let runbook: Runbook;
  const clients: ResultPromise[] = [];

  beforeAll(async () => {
    await sql(`CREATE USER '${APP}'@'%' IDENTIFIED BY '${PASSWORD}'; CREATE USER '${OTHER}'@'%' IDENTIFIED BY '${PASSWORD}'`);
    bin = await mkdtemp(path.join(os.tmpdir(), 'kill-scope-'));
    // docker exec -e MYSQL_PWD <container> mysql ARGS… → mysql --host … ARGS…
    await writeFile(path.join(bin, 'docker'), `#!/bin/sh\n[ "$1" = exec ] || exit 64\nshift 4\nprog="$1"\nshift\nexec "$prog" --host=${maria.value.host} --port=${maria.value.port} "$@"\n`);
    await chmod(path.join(bin, 'docker'), 0o755);
    const found = (await loadRunbooks(path.resolve('manifests/runbooks'))).find((r) => r.name === 'im-suite-mysql');
    if (!found) throw new Error('im-suite-mysql is not shipped');
    runbook = found;
  });
  afterAll(async () => {
    for (const c of clients) c.kill();
    await Promise.all(clients);
    await sql(`DROP USER IF EXISTS '${APP}'@'%'; DROP USER IF EXISTS '${OTHER}'@'%'`);
    await rm(bin, { recursive: true, force: true });
  });

  it('kills the application user\'s long query and leaves another user\'s longer one running', async () => {
    const other = longQuery(OTHER, 120);
    clients.push(other);
    await until('the other user\'s query', async () => (await queries(OTHER)).length === 1);
    // The other user's query has run longer by the time the app's starts: server-wide, it would be chosen.
    await new Promise((r) => setTimeout(r, 2100));
    const app = longQuery(APP, 120);
    clients.push(app);
    await until('the app user\'s query to run 1s', async () => (await sql(`SELECT COUNT(*) FROM information_schema.processlist WHERE user = '${APP}' AND command = 'Query' AND time >= 1`)) === '1');
    const [appId] = await queries(APP);
    const [otherId] = await queries(OTHER);

    const step = runbook.steps.find((s) => s.id === 'kill-longest');
    expect(step).toBeDefined();
    const params = resolveParams(runbook, {});
    if (!params.ok) throw new Error(params.problems.join('; '));
    const env = { PATH: `${bin}:${process.env.PATH ?? ''}`, MYSQL_PWD: '' };
    const result = await runStep(step!, { ...params.params, mysql_user: maria.value.user, app_user: APP, kill_after_seconds: '1' }, { signal: new AbortController().signal, redact: (s) => s, env });

    expect(result.status, result.outputTail).toBe('succeeded');
    expect(result.outputTail).toContain(`killed connection ${appId} of ${APP}`);
    expect(result.outputTail).toContain(APP);
    expect(result.outputTail).not.toContain(OTHER);
    await until('the app user\'s query to end', async () => (await queries(APP)).length === 0);
    expect((await app).stderr).toMatch(/interrupted|Lost connection|server has gone away|killed/i);
    // The other user's query is untouched, and so is the connection the step ran on (it finished on its own).
    expect(await queries(OTHER)).toEqual([otherId]);

    // Pressed again, there is no app query left: nothing is killed, and it says so.
    const again = await runStep(step!, { ...params.params, mysql_user: maria.value.user, app_user: APP, kill_after_seconds: '1' }, { signal: new AbortController().signal, redact: (s) => s, env });
    expect(again.status).toBe('succeeded');
    expect(again.outputTail).toContain(`nothing killed: no query of ${APP} has run for 1s`);
    expect(await queries(OTHER)).toEqual([otherId]);
  }, 60_000);
});
