import Database from 'better-sqlite3';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { entries, run, show, tempDir } from './helpers.js';

/*
 * Bad inputs and a hostile destination: each must end in a failed (or timed_out) result with a
 * clear summary, and must never leave a file that looks like a finished backup.
 *
 * Tests run as root, where permission bits do not stop writes, so "read-only destination" is made
 * two ways: a path under a regular file (ENOTDIR, works everywhere) and an immutable directory
 * (`chattr +i`, which stops root too; skipped where the file system has no such flag). A full
 * destination is a 64 KiB tmpfs (`mount -t tmpfs`, needs root and CAP_SYS_ADMIN; skipped where
 * mounting is not allowed, e.g. an unprivileged container). The MariaDB suite covers the same
 * no-half-file guarantee with a dump that fails part-way, which needs no privileges.
 */

async function capability(argv: [string, ...string[]][]): Promise<boolean> {
  for (const [program, ...args] of argv) {
    const r = await execa(program, args, { reject: false, stdin: 'ignore', timeout: 5000 });
    if (r.exitCode !== 0) return false;
  }
  return true;
}

const probeDir = await mkdtemp(path.join(os.tmpdir(), 'chatops-probe-'));
const canChattr = await capability([
  ['chattr', '+i', probeDir],
  ['chattr', '-i', probeDir],
]);
const canMount = await capability([
  ['mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probeDir],
  ['umount', probeDir],
]);
await rm(probeDir, { recursive: true, force: true });

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function sqliteDb(file: string, blobBytes: number): void {
  const db = new Database(file);
  db.exec('CREATE TABLE blobs (data BLOB)');
  db.prepare('INSERT INTO blobs VALUES (?)').run(randomBytes(blobBytes));
  db.close();
}

describe('backup failures leave nothing that looks like a backup', () => {
  it('a SQLite source that does not exist', async () => {
    const dest = await tempDir('dest');
    const missing = path.join(dest, 'nope.db');
    const result = await run('backup', { engine: 'sqlite', path: missing, dir: dest });
    expect(result.status).toBe('failed');
    expect(result.summary).toBe(`SQLite database ${missing} does not exist (nothing was created)`);
    expect(await entries(dest)).toEqual([]);
  });

  it('a source directory that does not exist', async () => {
    const dest = await tempDir('dest');
    const result = await run('backup', { engine: 'directory', source: '/nonexistent/chatops/source', dir: dest });
    expect(result.status).toBe('failed');
    expect(result.summary).toBe('source directory /nonexistent/chatops/source does not exist');
    expect(await entries(dest)).toEqual([]);
  });

  it('a destination that does not exist, or lies under a regular file (ENOTDIR)', async () => {
    const dir = await tempDir();
    const db = path.join(dir, 'a.db');
    sqliteDb(db, 10);
    await writeFile(path.join(dir, 'file'), 'a regular file');

    const missing = await run('backup', { engine: 'sqlite', path: db, dir: path.join(dir, 'missing') });
    expect(missing.status).toBe('failed');
    expect(missing.summary).toMatch(/^destination .*\/missing does not exist \(it is not created/);

    const under = await run('backup', { engine: 'sqlite', path: db, dir: path.join(dir, 'file', 'backups') });
    expect(under.status).toBe('failed');
    expect(under.summary).toMatch(/^destination .*\/file\/backups: is not a directory \(a part of the path is a file\) \(ENOTDIR\)$/);
    expect(await entries(dir)).toEqual(['a.db', 'file']);
  });

  it.skipIf(!canChattr)('an immutable destination (chattr +i stops root as well)', async () => {
    const dir = await tempDir();
    const dest = path.join(dir, 'immutable');
    await mkdir(dest);
    const db = path.join(dir, 'a.db');
    sqliteDb(db, 10);
    await execa('chattr', ['+i', dest]);
    cleanups.push(() => execa('chattr', ['-i', dest]));

    const result = await run('backup', { engine: 'sqlite', path: db, dir: dest });
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/^destination .* is not writable: operation not permitted/);
    expect(await entries(dest)).toEqual([]);
  });

  it.skipIf(!canMount)('a destination that fills up, in sqlite3, in gzip and in tar (64 KiB tmpfs)', async () => {
    const dir = await tempDir();
    const dest = path.join(dir, 'small');
    await mkdir(dest);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dest]);
    cleanups.push(() => execa('umount', [dest]));

    // Too big for the VACUUM INTO copy itself: sqlite3 fails.
    const big = path.join(dir, 'big.db');
    sqliteDb(big, 200_000);
    const inSqlite = await run('backup', { engine: 'sqlite', path: big, dir: dest });
    expect(inSqlite.status, show(inSqlite)).toBe('failed');
    expect(inSqlite.summary).toMatch(/VACUUM INTO .*(full|space)/i);
    expect(await entries(dest)).toEqual([]);

    // The copy fits, the copy plus its gzip (random data does not shrink) does not: Node's stream fails.
    const medium = path.join(dir, 'medium.db');
    sqliteDb(medium, 36_000);
    const inGzip = await run('backup', { engine: 'sqlite', path: medium, dir: dest });
    expect(inGzip.status, show(inGzip)).toBe('failed');
    expect(inGzip.summary).toMatch(/no space left on device \(ENOSPC\)/);
    expect(await entries(dest)).toEqual([]);

    const tree = path.join(dir, 'tree');
    await mkdir(tree);
    await writeFile(path.join(tree, 'random.bin'), randomBytes(200_000));
    const inTar = await run('backup', { engine: 'directory', source: tree, dir: dest });
    expect(inTar.status, show(inTar)).toBe('failed');
    expect(inTar.summary).toMatch(/^tar of .*: tar exited 2: .*No space left on device/);
    expect(await entries(dest)).toEqual([]);
  });

  it('a prefix or path that is not acceptable once rendered', async () => {
    const dest = await tempDir('dest');
    const db = path.join(dest, 'a.db');
    sqliteDb(db, 10);
    const badPrefix = await run('backup', { engine: 'sqlite', path: db, dir: dest, prefix: '../escape' });
    expect(badPrefix.status).toBe('failed');
    expect(badPrefix.summary).toMatch(/^prefix "..\/escape" must be/);
    const relative = await run('backup', { engine: 'directory', source: 'relative/dir', dir: dest });
    expect(relative.summary).toBe('directory must be an absolute path, not "relative/dir"');
    expect(await entries(dest)).toEqual(['a.db']);
  });
});
