import { execa } from 'execa';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPickChoices, loadRunbooks, runStep, type Runbook, type RunbookStep } from '../../../src/runbooks/index.js';
import { probeMariadb, probePostgres, requireService } from '../../support/services.js';
import { context, fact, show, tempDir, unique } from './helpers.js';

/*
 * Backups made with the manuals' own commands (sqlite3 .backup + gzip, tar czf of the Memgraph
 * volume, pg_dump > .sql, mysqldump --all-databases > .sql), offered by the shipped runbooks'
 * pickers and restored by their restore steps, with the shipped step definitions (only the
 * paths and servers given as params, as a deployment would).
 */

const pg = await requireService('PostgreSQL at 127.0.0.1:5432', () => probePostgres('test'));
const maria = await requireService('MariaDB at 127.0.0.1:3306', () => probeMariadb());

const runbooks = await loadRunbooks(path.resolve('manifests/runbooks'));
function step(runbook: string, id: string): { rb: Runbook; step: RunbookStep } {
  const rb = runbooks.find((r) => r.name === runbook);
  const s = rb?.steps.find((x) => x.id === id);
  if (!rb || !s) throw new Error(`no step ${runbook}/${id}`);
  return { rb, step: s };
}
/** The runbook's defaults with the given values. */
function params(rb: Runbook, values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(rb.params)) if (spec.default !== undefined) out[name] = spec.default;
  return { ...out, ...values };
}
const run = (runbook: string, id: string, values: Record<string, string>) => {
  const { rb, step: s } = step(runbook, id);
  return runStep(s, params(rb, values), context());
};
const choices = (runbook: string, id: string, values: Record<string, string>) => {
  const { rb, step: s } = step(runbook, id);
  return listPickChoices(s, params(rb, values));
};
const sqlite = async (db: string, sql: string) => (await execa('sqlite3', [db, sql])).stdout.trim();

describe('GitCortex: the manual’s backup.sh files and latest.db.gz', () => {
  it('offers latest.db.gz (labelled with its file) and backup.sh’s files, restores through the link, and offers the safety copy to undo it', async () => {
    const root = await tempDir('gitcortex');
    const data = path.join(root, 'data');
    const backups = path.join(root, 'backups');
    await mkdir(data);
    await mkdir(backups);
    const db = path.join(data, 'gitcortex.db');
    await sqlite(db, "PRAGMA journal_mode=WAL; CREATE TABLE repos (name TEXT); INSERT INTO repos VALUES ('before-upgrade');");
    // The manual's backup.sh, command for command.
    const manual = path.join(backups, 'gitcortex_20240131_020000.db');
    await execa('sqlite3', [db, `.backup '${manual}'`]);
    await execa('gzip', [manual]);
    await symlink('gitcortex_20240131_020000.db.gz', path.join(backups, 'latest.db.gz'));
    // The upgrade migrates the database.
    await sqlite(db, "INSERT INTO repos VALUES ('migrated');");
    const values = { db_path: db, data_dir: data, backup_dir: backups };

    const offered = await choices('gitcortex-recovery', 'restore', values);
    expect(offered.map((c) => c.label)).toEqual([
      expect.stringMatching(/^latest\.db\.gz → gitcortex_20240131_020000\.db\.gz \(.*no sidecar$/u),
      expect.stringMatching(/^gitcortex_20240131_020000\.db\.gz, 2024-01-31 \d\d:00 UTC, .*no sidecar$/u),
    ]);

    // The release rollback's checkpoint names the pre-upgrade backup, not a copy of the migrated database.
    const named = await run('gitcortex-recovery', 'pre-upgrade-backup', values);
    expect(named.status, show(named)).toBe('succeeded');
    expect(named.summary).toContain(`latest.db.gz → ${manual}.gz`);
    expect(named.artefacts?.[0]?.path).toBe(`${manual}.gz`);

    const restored = await run('gitcortex-recovery', 'restore-snapshot', { ...values, snapshot: named.artefacts?.[0]?.path ?? '' });
    expect(restored.status, show(restored)).toBe('succeeded');
    expect(await sqlite(db, 'SELECT group_concat(name) FROM repos')).toBe('before-upgrade');

    // The safety copy of the migrated database is offered next, and restoring it undoes the restore.
    const again = await choices('gitcortex-recovery', 'restore', values);
    const safety = again.find((c) => c.label.startsWith('safety copy before a restore'));
    expect(safety, JSON.stringify(again)).toBeDefined();
    const undo = await run('gitcortex-recovery', 'restore', { ...values, backup: safety?.path ?? '' });
    expect(undo.status, show(undo)).toBe('succeeded');
    expect(await sqlite(db, 'SELECT group_concat(name) FROM repos')).toBe('before-upgrade,migrated');

    // Through the link, from the picker, too.
    const viaLink = await run('gitcortex-recovery', 'restore', { ...values, backup: path.join(backups, 'latest.db.gz') });
    expect(viaLink.status, show(viaLink)).toBe('succeeded');
    expect(fact(viaLink, 'link')).toBe(`${path.join(backups, 'latest.db.gz')} → ${manual}.gz`);
    expect(await sqlite(db, 'SELECT group_concat(name) FROM repos')).toBe('before-upgrade');
  });

  it('backs up config/ so that tar xzf FILE -C / restores it, and restores the manual’s config_<date>.tar.gz', async () => {
    const root = await tempDir('gitcortex-config');
    const config = path.join(root, 'opt', 'gitcortex', 'config');
    const backups = path.join(root, 'backups');
    await mkdir(config, { recursive: true });
    await mkdir(backups);
    await writeFile(path.join(config, 'server.toml'), 'port = 3001\n');
    // The manual: tar -czvf …/config_<date>.tar.gz /opt/gitcortex/config/ (tar drops the leading /).
    await execa('tar', ['-czf', path.join(backups, 'config_20240131.tar.gz'), '-C', root, 'opt/gitcortex/config/']);
    const values = { config_dir: config, backup_dir: backups };
    const bot = await run('gitcortex-recovery', 'config-backup', values);
    expect(bot.status, show(bot)).toBe('succeeded');
    const unpacked = await tempDir('gitcortex-root');
    await execa('tar', ['-xzf', bot.artefacts?.[0]?.path ?? '', '-C', unpacked]);
    expect(await readFile(path.join(unpacked, 'opt', 'gitcortex', 'config', 'server.toml'), 'utf8')).toBe('port = 3001\n');

    await writeFile(path.join(config, 'server.toml'), 'port = 9999\n');
    const offered = await choices('gitcortex-recovery', 'config-restore', values);
    const manual = offered.find((c) => c.path.endsWith('config_20240131.tar.gz'));
    expect(manual?.label).toMatch(/^config_20240131\.tar\.gz, .*no sidecar$/u);
    const restored = await run('gitcortex-recovery', 'config-restore', { ...values, config_backup: manual?.path ?? '' });
    expect(restored.status, show(restored)).toBe('succeeded');
    expect(await readFile(path.join(config, 'server.toml'), 'utf8')).toBe('port = 3001\n');
  });
});

describe('OpenTruss: the manual’s memgraph-<date>.tar.gz of the volume', () => {
  it('restores the manual’s archive, and writes archives that the manual’s tar xzf FILE -C / restores', async () => {
    const root = await tempDir('opentruss');
    const volume = path.join(root, 'volumes', 'opentruss_memgraph_data', '_data');
    const backups = path.join(root, 'backup');
    await mkdir(path.join(volume, 'snapshots'), { recursive: true });
    await mkdir(backups);
    await writeFile(path.join(volume, 'snapshots', 'snap-1'), 'graph v1');
    // The manual's `docker run -v opentruss_memgraph_data:/data … tar czf /backup/memgraph-<date>.tar.gz /data`:
    // the volume is /data in the container, so the archive holds data/….
    const container = await tempDir('opentruss-container');
    await execa('cp', ['-a', volume, path.join(container, 'data')]);
    await execa('tar', ['czf', path.join(backups, 'memgraph-20240101_020000.tar.gz'), '-C', container, 'data']);
    await writeFile(path.join(volume, 'snapshots', 'snap-1'), 'graph v2 (damaged)');
    const values = { memgraph_data: volume, backup_dir: backups };

    const offered = await choices('opentruss-memgraph', 'restore', values);
    expect(offered.map((c) => path.basename(c.path))).toEqual(['memgraph-20240101_020000.tar.gz']);
    const restored = await run('opentruss-memgraph', 'restore', { ...values, backup: offered[0]?.path ?? '' });
    expect(restored.status, show(restored)).toBe('succeeded');
    expect(await readFile(path.join(volume, 'snapshots', 'snap-1'), 'utf8')).toBe('graph v1');
    // The safety archive of the damaged state is in the backups directory, offered to undo the restore.
    expect((await choices('opentruss-memgraph', 'restore', values)).some((c) => c.label.startsWith('safety copy before a restore'))).toBe(true);

    const bot = await run('opentruss-memgraph', 'backup', values);
    expect(bot.status, show(bot)).toBe('succeeded');
    const fakeRoot = await tempDir('opentruss-root');
    await execa('tar', ['xzf', bot.artefacts?.[0]?.path ?? '', '-C', fakeRoot]);
    expect(await readdir(fakeRoot)).toEqual(['data']);
    expect(await readFile(path.join(fakeRoot, 'data', 'snapshots', 'snap-1'), 'utf8')).toBe('graph v1');
  });
});

describe('OpenTruss: the manual’s config-backup-<date>.tar.gz of loose files', () => {
  it('backs up .env.production, nginx/nginx.conf and docker-compose.yml as the manual’s tar does, restores the manual’s archive, and the safety archive undoes it', async () => {
    const root = await tempDir('opentruss-config');
    const project = path.join(root, 'opt', 'opentruss');
    const backups = path.join(root, 'backup');
    await mkdir(path.join(project, 'nginx'), { recursive: true });
    await mkdir(backups);
    const files = { '.env.production': 'JWT_SECRET=one\n', 'nginx/nginx.conf': 'worker_processes 1;\n', 'docker-compose.yml': 'services: {}\n' };
    const write = async (suffix: string) => {
      for (const [name, body] of Object.entries(files)) await writeFile(path.join(project, name), `${body}${suffix}`);
    };
    const read = async () => Promise.all(Object.keys(files).map((name) => readFile(path.join(project, name), 'utf8')));
    await write('');
    // The manual, in the project directory: tar czf config-backup-$DATE.tar.gz .env.production nginx/nginx.conf docker-compose.yml
    await execa('tar', ['czf', path.join(backups, 'config-backup-20240101_020000.tar.gz'), '.env.production', 'nginx/nginx.conf', 'docker-compose.yml'], { cwd: project });
    const values = { project_dir: project, backup_dir: backups };

    const bot = await run('opentruss-memgraph', 'config-backup', values);
    expect(bot.status, show(bot)).toBe('succeeded');
    expect(path.basename(bot.artefacts?.[0]?.path ?? '')).toMatch(/^config-\d{8}T\d{6}Z\.tar\.gz$/u);
    // The same layout as the manual's: `tar xzf FILE` in the project directory restores it.
    expect((await execa('tar', ['-tzf', bot.artefacts?.[0]?.path ?? ''])).stdout.split('\n').sort()).toEqual(['.env.production', 'docker-compose.yml', 'nginx/nginx.conf']);

    await write('# changed\n');
    const offered = await choices('opentruss-memgraph', 'config-restore', values);
    expect(offered.map((c) => path.basename(c.path))).toEqual([path.basename(bot.artefacts?.[0]?.path ?? ''), 'config-backup-20240101_020000.tar.gz']);
    expect(offered[1]?.label).toMatch(/^config-backup-20240101_020000\.tar\.gz, 2024-01-01 \d\d:00 UTC, .*no sidecar$/u);
    const restored = await run('opentruss-memgraph', 'config-restore', { ...values, config_backup: offered[1]?.path ?? '' });
    expect(restored.status, show(restored)).toBe('succeeded');
    expect(await read()).toEqual(Object.values(files));
    expect(fact(restored, 'previous files kept as')).toMatch(/^\.env\.production\.before-restore-\d{8}T\d{6}Z, nginx\/nginx\.conf\.before-restore-/u);
    expect(fact(restored, 'safety backup')).toMatch(/config-safety-\d{8}T\d{6}Z\.tar\.gz/u);

    // The safety archive of the changed files is offered now, and restoring it undoes the restore.
    const safety = (await choices('opentruss-memgraph', 'config-restore', values)).find((c) => c.label.startsWith('safety copy before a restore'));
    expect(safety).toBeDefined();
    const undo = await run('opentruss-memgraph', 'config-restore', { ...values, config_backup: safety?.path ?? '' });
    expect(undo.status, show(undo)).toBe('succeeded');
    expect(await read()).toEqual(Object.values(files).map((body) => `${body}# changed\n`));
  });

  it('restores an archive whose entries start with ./ (tar czf F ./.env.production …), leaving a file it lacks as it is', async () => {
    const root = await tempDir('opentruss-config-dot');
    const project = path.join(root, 'project');
    const backups = path.join(root, 'backup');
    await mkdir(path.join(project, 'nginx'), { recursive: true });
    await mkdir(backups);
    await writeFile(path.join(project, '.env.production'), 'A=1\n');
    await writeFile(path.join(project, 'nginx', 'nginx.conf'), 'worker_processes 1;\n');
    const archive = path.join(backups, 'config-backup-20240103_000000.tar.gz');
    await execa('tar', ['czf', archive, './.env.production', './nginx/nginx.conf'], { cwd: project });
    await writeFile(path.join(project, '.env.production'), 'A=2\n');
    await writeFile(path.join(project, 'docker-compose.yml'), 'services: {}\n');
    const result = await run('opentruss-memgraph', 'config-restore', { project_dir: project, backup_dir: backups, config_backup: archive });
    expect(result.status, show(result)).toBe('succeeded');
    expect(await readFile(path.join(project, '.env.production'), 'utf8')).toBe('A=1\n');
    expect(fact(result, 'not in the archive (left as they are)')).toBe('docker-compose.yml');
    expect(await readFile(path.join(project, 'docker-compose.yml'), 'utf8')).toBe('services: {}\n');
  });

  it('refuses an archive holding anything besides the declared files, and changes nothing', async () => {
    const root = await tempDir('opentruss-config-foreign');
    const project = path.join(root, 'project');
    const backups = path.join(root, 'backup');
    await mkdir(project);
    await mkdir(backups);
    await writeFile(path.join(project, 'docker-compose.yml'), 'services: {}\n');
    await writeFile(path.join(project, 'evil.sh'), 'echo hi\n');
    const archive = path.join(backups, 'config-backup-20240102_000000.tar.gz');
    await execa('tar', ['czf', archive, 'docker-compose.yml', 'evil.sh'], { cwd: project });
    await writeFile(path.join(project, 'docker-compose.yml'), 'services: { web: {} }\n');
    const result = await run('opentruss-memgraph', 'config-restore', { project_dir: project, backup_dir: backups, config_backup: archive });
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/holds entries other than \.env\.production, nginx\/nginx\.conf, docker-compose\.yml: evil\.sh; nothing was restored/u);
    expect(await readFile(path.join(project, 'docker-compose.yml'), 'utf8')).toBe('services: { web: {} }\n');
    expect((await readdir(project)).sort()).toEqual(['docker-compose.yml', 'evil.sh']);
  });
});

pg.describe('Approval Gin: the manual’s pg_dump > backup_<date>.sql', () => {
  const database = `chatops_manual_${unique()}`;
  const psql = async (sql: string, db = database) =>
    (await execa('psql', ['-X', '-w', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', pg.value.host, '-p', String(pg.value.port), '-U', pg.value.user, '-d', db, '-c', sql], { stdin: 'ignore' })).stdout.trim();
  beforeAll(async () => {
    await psql(`CREATE DATABASE ${database}`, 'test');
  });
  afterAll(async () => {
    await psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, 'test');
  });

  it('offers the plain dump next to the bot’s and restores it with psql after a safety dump', async () => {
    await psql("CREATE TABLE tasks (id serial PRIMARY KEY, title text); INSERT INTO tasks (title) VALUES ('a'), ('b');");
    const backups = await tempDir('approval-backups');
    const values = { db_host: pg.value.host, db_port: String(pg.value.port), db_user: pg.value.user, db_name: database, backup_dir: backups };
    const dump = path.join(backups, 'backup_20251122_000000.sql');
    // The manual: pg_dump -U postgres -d approval > backup_<date>.sql
    const out = await execa('pg_dump', ['-h', pg.value.host, '-p', String(pg.value.port), '-U', pg.value.user, '-d', database], { stdin: 'ignore' });
    await writeFile(dump, `${out.stdout}\n`);
    const bot = await run('approval-gin-recovery', 'backup', values);
    expect(bot.status, show(bot)).toBe('succeeded');
    await psql("DELETE FROM tasks; CREATE TABLE junk (x int); INSERT INTO tasks (title) VALUES ('z');");

    const offered = await choices('approval-gin-recovery', 'restore', values);
    expect(offered.map((c) => path.basename(c.path)).sort()).toEqual([path.basename(bot.artefacts?.[0]?.path ?? ''), 'backup_20251122_000000.sql'].sort());
    const restored = await run('approval-gin-recovery', 'restore', { ...values, backup: dump });
    expect(restored.status, show(restored)).toBe('succeeded');
    expect(fact(restored, 'backup format')).toBe('plain SQL (pg_dump)');
    expect(fact(restored, 'safety backup')).toMatch(/approval-safety-\d{8}T\d{6}Z\.dump/u);
    expect(await psql('SELECT string_agg(title, \',\' ORDER BY id) FROM tasks')).toBe('a,b');
    expect(await psql("SELECT count(*) FROM pg_tables WHERE tablename = 'junk'")).toBe('0');
  });
});

maria.describe('IM suite: the manual’s mysqldump --all-databases > backup-<date>.sql', () => {
  const database = `im_manual_${unique()}`;
  const bystander = `im_bystander_${unique()}`;
  const sql = async (statements: string, db?: string) =>
    (await execa('mariadb', [`--host=${maria.value.host}`, `--port=${maria.value.port}`, `--user=${maria.value.user}`, '--batch', '--skip-column-names', ...(db ? [db] : []), '-e', statements], { stdin: 'ignore' })).stdout.trim();
  beforeAll(async () => {
    await sql(`CREATE DATABASE ${database}; CREATE DATABASE ${bystander}`);
  });
  afterAll(async () => {
    await sql(`DROP DATABASE IF EXISTS ${database}; DROP DATABASE IF EXISTS ${bystander}`);
  });

  it('restores only the suite’s database from a dump of every database', async () => {
    await sql("CREATE TABLE messages (id INT PRIMARY KEY, body VARCHAR(50)); INSERT INTO messages VALUES (1, 'hello'), (2, 'world');", database);
    await sql("CREATE TABLE t (v VARCHAR(10)); INSERT INTO t VALUES ('old');", bystander);
    const backups = await tempDir('im-backups');
    const dump = path.join(backups, 'backup-20251011.sql');
    const out = await execa('mysqldump', [`--host=${maria.value.host}`, `--port=${maria.value.port}`, `--user=${maria.value.user}`, '--all-databases'], { stdin: 'ignore' });
    await writeFile(dump, `${out.stdout}\n`);
    await sql("DELETE FROM messages; INSERT INTO messages VALUES (3, 'lost');", database);
    await sql("UPDATE t SET v = 'new';", bystander);
    const values = { mysql_host: maria.value.host, mysql_port: String(maria.value.port), mysql_user: maria.value.user, mysql_db: database, mysql_backup_dir: backups };

    const offered = await choices('im-suite-data', 'mysql-restore', values);
    expect(offered.map((c) => c.label)).toEqual([expect.stringMatching(/^backup-20251011\.sql, .*no sidecar$/u)]);
    const restored = await run('im-suite-data', 'mysql-restore', { ...values, backup: dump });
    expect(restored.status, show(restored)).toBe('succeeded');
    expect(fact(restored, 'dump of several databases')).toContain(`restoring only ${database}`);
    expect(await sql('SELECT GROUP_CONCAT(body ORDER BY id) FROM messages', database)).toBe('hello,world');
    // Every other database, the bystander and mysql's own, is left as it is.
    expect(await sql('SELECT v FROM t', bystander)).toBe('new');
  });
});
