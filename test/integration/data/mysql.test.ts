import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { probeMariadb, requireService } from '../../support/services.js';
import { entries, fact, run, sha256, show, tempDir, unique } from './helpers.js';

/* Real MariaDB at 127.0.0.1:3306 (root, no password). Each run uses its own databases, dropped at the end. */
const maria = await requireService('MariaDB at 127.0.0.1:3306', () => probeMariadb());

const database = `chatops_data_${unique()}`;
const broken = `chatops_broken_${unique()}`;
const other = `chatops_other_${unique()}`;

async function sql(statements: string, db?: string): Promise<string> {
  const r = await execa('mariadb', [`--host=${maria.value.host}`, `--port=${maria.value.port}`, `--user=${maria.value.user}`, '--batch', '--skip-column-names', ...(db ? [db] : []), '-e', statements], {
    stdin: 'ignore',
  });
  return r.stdout.trim();
}

const target = (db = database) => ({ engine: 'mysql', host: maria.value.host, port: maria.value.port, user: maria.value.user, database: db });

maria.describe('MariaDB data actions', () => {
  beforeAll(async () => {
    await sql(`CREATE DATABASE ${database}; CREATE DATABASE ${broken}; CREATE DATABASE ${other}`);
  });
  afterAll(async () => {
    await sql(`DROP DATABASE IF EXISTS ${database}; DROP DATABASE IF EXISTS ${broken}; DROP DATABASE IF EXISTS ${other}`);
  });

  it('mariadb-dump round trip, binary data included: the deleted rows come back after a safety backup', async () => {
    await sql(
      "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, data VARBINARY(64)) ENGINE=InnoDB; INSERT INTO items (name, data) SELECT CONCAT('item ', seq), UNHEX(SHA2(seq, 256)) FROM seq_1_to_200",
      database,
    );
    const checksum = await sql('SELECT MD5(GROUP_CONCAT(HEX(data) ORDER BY id)) FROM items', database);
    const backups = await tempDir('my-backups');

    const backup = await run('backup', { ...target(), dir: backups }, { env: ['MYSQL_PWD'] });
    expect(backup.status, show(backup)).toBe('succeeded');
    expect(backup.description).toMatch(/^will back up MySQL\/MariaDB chatops_data_\S+ on 127\.0\.0\.1:3306 as root to .* as mysql-chatops_data_\S+-<UTC time>\.sql\.gz \(mariadb-dump --single-transaction/);
    const file = backup.artefacts?.[0]?.path ?? '';
    expect(path.basename(file)).toMatch(new RegExp(`^mysql-${database}-\\d{8}T\\d{6}Z\\.sql\\.gz$`));
    expect(await sha256(file)).toBe(backup.artefacts?.[0]?.sha256);
    const dump = gunzipSync(await readFile(file)).toString('utf8');
    expect(dump.trimEnd()).toMatch(/-- Dump completed on .*$/);
    expect(dump).toContain(`USE \`${database}\`;`);
    expect(fact(backup, 'tables')).toBe('1');
    expect(fact(backup, 'program')).toBe('mariadb-dump');

    await sql('DELETE FROM items WHERE id > 5', database);
    const restore = await run('restore', { ...target(), latest: true, dir: backups });
    expect(restore.status, show(restore)).toBe('succeeded');
    expect(await sql('SELECT count(*) FROM items', database)).toBe('200');
    expect(await sql('SELECT MD5(GROUP_CONCAT(HEX(data) ORDER BY id)) FROM items', database)).toBe(checksum);
    const safety = restore.artefacts?.find((a) => a.kind === 'safety-backup');
    expect(path.basename(safety?.path ?? '')).toMatch(new RegExp(`^mysql-${database}-safety-\\d{8}T\\d{6}Z\\.sql\\.gz$`));
    // The safety backup is the state before the restore: 5 rows.
    const safetyDump = gunzipSync(await readFile(safety?.path ?? '')).toString('utf8');
    expect(safetyDump).toMatch(/^\(5,'item 5',0x[0-9A-F]+\);$/m);
    expect(safetyDump).not.toMatch(/^\(6,/m);
  });

  it('a dump that fails part-way leaves no file behind (not even the partial dump)', async () => {
    // A view over a dropped table makes mariadb-dump fail after it has written the table before it.
    await sql('CREATE TABLE a (x INT); INSERT INTO a VALUES (1),(2); CREATE TABLE t (x INT); CREATE VIEW v AS SELECT x FROM t; DROP TABLE t', broken);
    const backups = await tempDir('my-backups');

    const result = await run('backup', { ...target(broken), dir: backups });

    expect(result.status, show(result)).toBe('failed');
    expect(result.summary).toMatch(/^mariadb-dump of .*: mariadb-dump exited 2: .*View .* references invalid table/);
    expect(await entries(backups)).toEqual([]);
  });

  it('refuses to restore a dump of another database, before anything is changed', async () => {
    await sql('CREATE TABLE keep (x INT); INSERT INTO keep VALUES (42)', other);
    const backups = await tempDir('my-backups');
    const backup = await run('backup', { ...target(), dir: backups });
    expect(backup.status, show(backup)).toBe('succeeded');

    const result = await run('restore', { ...target(other), from: backup.artefacts?.[0]?.path });

    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(new RegExp(`is a dump of "${database}", not of "${other}": restoring it would change another database`));
    expect(result.artefacts).toBeUndefined();
    expect(await sql('SELECT x FROM keep', other)).toBe('42');
  });
});
