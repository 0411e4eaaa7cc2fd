import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { probePostgres, requireService } from '../../support/services.js';
import { entries, fact, run, sha256, show, tempDir, unique } from './helpers.js';

/*
 * Real PostgreSQL at 127.0.0.1:5432 (trust auth). Each run works in its own database, created
 * here and dropped WITH (FORCE) at the end, so a restore's --clean can never touch anything else.
 */
const pg = await requireService('PostgreSQL at 127.0.0.1:5432', () => probePostgres('test'));

const database = `chatops_data_${unique()}`;
const role = `chatops_nocp_${unique()}`;

async function psql(sql: string, db = database, user = pg.value.user): Promise<string> {
  const r = await execa('psql', ['-X', '-w', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', pg.value.host, '-p', String(pg.value.port), '-U', user, '-d', db, '-c', sql], {
    stdin: 'ignore',
  });
  return r.stdout.trim();
}

const target = () => ({ engine: 'postgres', host: pg.value.host, port: pg.value.port, user: pg.value.user, database });

pg.describe('PostgreSQL data actions', () => {
  const lockers: ResultPromise[] = [];

  beforeAll(async () => {
    await psql(`CREATE DATABASE ${database}`, 'test');
  });
  afterAll(async () => {
    for (const locker of lockers) locker.kill('SIGKILL');
    await psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, 'test');
    await psql(`DROP ROLE IF EXISTS ${role}`, 'test');
  });

  it('pg_dump / pg_restore round trip: the deleted rows come back, after a safety backup', async () => {
    await psql('CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL); INSERT INTO items (name) SELECT $$item $$ || g FROM generate_series(1, 100) g');
    const backups = await tempDir('pg-backups');

    const backup = await run('backup', { ...target(), dir: backups, prefix: 'orders', keep: { files: 3 } }, { env: ['PGPASSWORD'] });
    expect(backup.status, show(backup)).toBe('succeeded');
    expect(backup.description).toBe(
      `will back up PostgreSQL ${database} on ${pg.value.host}:${pg.value.port} as ${pg.value.user} to ${backups} as orders-<UTC time>.dump (pg_dump -Fc, verified with pg_restore --list; sha256 sidecar, keep the newest 3) (timeout 60s)`,
    );
    const file = backup.artefacts?.[0]?.path ?? '';
    expect(file).toMatch(/\/orders-\d{8}T\d{6}Z\.dump$/);
    expect(await sha256(file)).toBe(backup.artefacts?.[0]?.sha256);
    expect(Number(fact(backup, 'toc entries'))).toBeGreaterThanOrEqual(3);
    expect(fact(backup, 'tables')).toBe('1');
    expect(fact(backup, 'table data entries')).toBe('1');

    await psql('DELETE FROM items WHERE id > 10');
    expect(await psql('SELECT count(*) FROM items')).toBe('10');

    const restore = await run('restore', { ...target(), latest: true, dir: backups, prefix: 'orders' });
    expect(restore.status, show(restore)).toBe('succeeded');
    expect(restore.description).toMatch(/^will restore PostgreSQL .* from the newest verified orders-<UTC time>\.dump in .* \(pg_restore --clean --if-exists in one transaction\), after a safety backup to /);
    expect(await psql('SELECT count(*) FROM items')).toBe('100');
    const safety = restore.artefacts?.find((a) => a.kind === 'safety-backup');
    expect(safety?.path).toMatch(/\/orders-safety-\d{8}T\d{6}Z\.dump$/);
    // The safety backup holds the state before the restore: 10 rows.
    const list = await execa('pg_restore', ['--list', safety?.path ?? '']);
    expect(list.stdout).toMatch(/TABLE DATA public items/);
    expect(fact(restore, 'safety toc entries')).toBe(fact(backup, 'toc entries'));
    expect(await entries(backups)).toEqual([base(file), `${base(file)}.sha256`, base(safety?.path), `${base(safety?.path)}.sha256`].sort());
  });

  it('CHECKPOINT as a superuser; refused for a role without pg_checkpoint, with the reason', async () => {
    const ok = await run('checkpoint', target());
    expect(ok.status, show(ok)).toBe('succeeded');
    expect(ok.summary).toMatch(/^ran CHECKPOINT on PostgreSQL /);

    await psql(`CREATE ROLE ${role} LOGIN`);
    const refused = await run('checkpoint', { ...target(), user: role });
    expect(refused.status).toBe('failed');
    expect(refused.summary).toMatch(/CHECKPOINT on .* failed: ERROR: +must be superuser or have privileges of pg_checkpoint .*\(CHECKPOINT needs a superuser or, from PostgreSQL 15, a role granted pg_checkpoint\)/);
  });

  it('pg_dump blocked by a lock times out and leaves no file', async () => {
    await psql('CREATE TABLE locked (id int)');
    const locker = execa('psql', ['-X', '-w', '-h', pg.value.host, '-p', String(pg.value.port), '-U', pg.value.user, '-d', database, '-c', 'BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30);'], {
      reject: false,
      stdin: 'ignore',
    });
    lockers.push(locker);
    // Wait until the lock is really held.
    for (let i = 0; i < 50 && (await psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'locked' AND l.mode = 'AccessExclusiveLock'")) !== '1'; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const backups = await tempDir('pg-backups');

    const result = await run('backup', { ...target(), dir: backups }, { timeoutSeconds: 1 });

    expect(result.status, show(result)).toBe('timed_out');
    expect(result.summary).toMatch(/timed out/);
    expect(await entries(backups)).toEqual([]);
    locker.kill('SIGKILL');
    await psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database}' AND pid <> pg_backend_pid()`);
    await psql('DROP TABLE locked');
  });

  it('refuses a database that is really a connection string', async () => {
    const result = await run('backup', { ...target(), database: 'host=evil.example dbname=x', dir: await tempDir('pg-backups') });
    expect(result.status).toBe('failed');
    expect(result.summary).toBe('database "host=evil.example dbname=x" must be a database name, not a connection string');
  });
});

const base = (file: string | undefined) => (file ?? '').split('/').at(-1) ?? '';
