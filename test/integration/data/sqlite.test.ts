import Database from 'better-sqlite3';
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { listBackups } from '../../../src/runbooks/actions/data/backup-files.js';
import { parseRunbook } from '../../../src/runbooks/index.js';
import { entries, fact, run, sha256, show, tempDir } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function makeDb(file: string, rows: number, journal: 'wal' | 'delete' = 'wal'): void {
  const db = new Database(file);
  db.pragma(`journal_mode = ${journal}`);
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, payload TEXT NOT NULL); CREATE TABLE notes (body TEXT)');
  const insert = db.prepare('INSERT INTO items (payload) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`row ${i} ${'x'.repeat(50)}`);
  })();
  db.prepare('INSERT INTO notes VALUES (?)').run('hello');
  db.close();
}

function count(file: string, table = 'items'): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function integrity(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}

/** Child processes started by a test; killed by pid when it ends. */
const children: ResultPromise[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/**
 * A `node -e` child using better-sqlite3; resolves once it printed "ready". The process is wrapped
 * in an object: execa's process is a thenable, and returning it would wait for it to exit.
 */
async function child(script: string, args: string[]): Promise<{ proc: ResultPromise }> {
  const proc = execa(process.execPath, ['-e', script, ...args], { cwd: ROOT, reject: false, stdin: 'ignore' });
  children.push(proc);
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('ready')) resolve();
    });
    void proc.then((r) => reject(new Error(`child ended before it was ready: ${String(r.stderr)}`)));
  });
  return { proc };
}

const WRITER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
const insert = db.prepare('INSERT INTO items (payload) VALUES (?)');
const until = Date.now() + Number(process.argv[2]);
let n = 0;
console.log('ready');
while (Date.now() < until) { insert.run('concurrent ' + n); n++; }
console.log('inserted ' + n);
`;

const LOCKER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.exec('BEGIN EXCLUSIVE');
db.prepare("INSERT INTO notes VALUES ('locked')").run();
console.log('ready');
setTimeout(() => db.exec('ROLLBACK'), Number(process.argv[2]));
`;

describe('SQLite backup', () => {
  it('takes a consistent, verified backup while another process keeps inserting', async () => {
    const dir = await tempDir();
    const backups = await tempDir('backups');
    const db = path.join(dir, 'app.db');
    makeDb(db, 2000);
    const { proc: writer } = await child(WRITER, [db, '1500']);
    await new Promise((r) => setTimeout(r, 200));

    const result = await run('backup', { engine: 'sqlite', path: db, dir: backups, keep: { days: 30 } });
    const writerStillRunning = writer.exitCode === null;
    const done = await writer;
    expect(done.stdout).toMatch(/inserted \d+/);

    expect(result.status, show(result)).toBe('succeeded');
    expect(writerStillRunning).toBe(true);
    expect(result.description).toBe(
      `will back up SQLite ${db} to ${backups} as sqlite-app-<UTC time>.db.gz (VACUUM INTO a snapshot, integrity_check and row counts, gzip; sha256 sidecar, keep 30 days) (timeout 60s)`,
    );
    const [artefact] = result.artefacts ?? [];
    expect(artefact?.kind).toBe('backup');
    const file = artefact?.path ?? '';
    expect(path.basename(file)).toMatch(/^sqlite-app-\d{8}T\d{6}Z\.db\.gz$/);
    expect(artefact?.sha256).toBe(await sha256(file));
    expect(artefact?.sizeBytes).toBe((await stat(file)).size);
    expect(await readFile(`${file}.sha256`, 'utf8')).toBe(`${artefact?.sha256}  ${path.basename(file)}\n`);
    // Only the backup and its sidecar: no temporaries left behind.
    expect(await entries(backups)).toEqual([path.basename(file), `${path.basename(file)}.sha256`]);

    const copy = path.join(dir, 'copy.db');
    await writeFile(copy, gunzipSync(await readFile(file)));
    expect(integrity(copy)).toBe('ok');
    const copied = count(copy);
    const final = count(db);
    expect(copied).toBeGreaterThanOrEqual(2000);
    expect(copied).toBeLessThanOrEqual(final);
    expect(final).toBeGreaterThan(copied); // the writer went on after the snapshot
    expect(fact(result, 'integrity')).toBe('✓');
    expect(fact(result, 'tables')).toBe('2');
    expect(fact(result, 'rows per table')).toBe(`items=${copied}, notes=1`);
    expect(fact(result, 'deleted by retention')).toBeUndefined();
    expect(fact(result, 'kept by retention')).toBe('1');
  });

  it('applies retention to backups of the same prefix only, and lists them newest first', async () => {
    const dir = await tempDir();
    const backups = await tempDir('backups');
    const db = path.join(dir, 'shop.sqlite');
    makeDb(db, 10);
    const old = ['20200101T000000Z', '20200102T000000Z', '20200103T000000Z'].map((t) => `sqlite-shop-${t}.db.gz`);
    for (const name of old) {
      await writeFile(path.join(backups, name), 'old');
      await writeFile(path.join(backups, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
    }
    const unrelated = ['other-20200101T000000Z.db.gz', 'sqlite-shop-safety-20200101T000000Z.db.gz', 'sqlite-shop-20200101T000000Z.tar.gz', 'sqlite-shop-latest.db.gz'];
    for (const name of unrelated) await writeFile(path.join(backups, name), 'keep me');

    const first = await run('backup', { engine: 'sqlite', path: db, dir: backups, keep: { files: 2 } });
    expect(first.status, show(first)).toBe('succeeded');
    expect(fact(first, 'deleted by retention')).toBe(`2: ${old[1]}, ${old[0]}`);
    expect(fact(first, 'kept by retention')).toBe('2');
    const newest = path.basename(first.artefacts?.[0]?.path ?? '');
    expect(await entries(backups)).toEqual([...unrelated, old[2], `${old[2]}.sha256`, newest, `${newest}.sha256`].sort());

    // Without an extension, any engine's backups of the prefix are listed (here a stray tar.gz).
    expect((await listBackups(backups, 'sqlite-shop', 10, { verify: false })).map((b) => b.name)).toEqual([newest, old[2], unrelated[2]]);
    const listed = await listBackups(backups, 'sqlite-shop', 10, { ext: 'db.gz' });
    expect(listed.map((b) => [b.name, b.verified, b.sidecar])).toEqual([
      [newest, true, 'verified'],
      [old[2], false, 'mismatch'],
    ]);
    expect(listed[0]?.sizeBytes).toBe(first.artefacts?.[0]?.sizeBytes);
    expect(listed[0]?.mtime).toBeInstanceOf(Date);

    // keep days: the 2020 backup is far older than a day; the new one is never deleted. It is taken
    // within the same second as the first: it gets the next second's name, nothing is overwritten.
    const second = await run('backup', { engine: 'sqlite', path: db, dir: backups, keep: { days: 1 } });
    expect(second.status, show(second)).toBe('succeeded');
    expect(fact(second, 'deleted by retention')).toBe(`1: ${old[2]}`);
    expect(fact(second, 'kept by retention')).toBe('2');
    const secondName = path.basename(second.artefacts?.[0]?.path ?? '');
    expect(secondName).not.toBe(newest);
    expect(secondName > newest).toBe(true);
    expect((await listBackups(backups, 'sqlite-shop', 10, { ext: 'db.gz' })).map((b) => b.verified)).toEqual([true, true]);
  });

  it('never overwrites a backup of the same name: a taken second moves the new one to the next free second', async () => {
    const dir = await tempDir();
    const db = path.join(dir, 'busy-second.db');
    makeDb(db, 5);
    const stamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(/[-:]/g, '');
    const taken = [0, 1000].map((offset) => `sqlite-busy-second-${stamp(Date.now() + offset)}.db.gz`);
    for (const name of taken) await writeFile(path.join(dir, name), 'occupied');

    const result = await run('backup', { engine: 'sqlite', path: db, dir });

    expect(result.status, show(result)).toBe('succeeded');
    expect(taken).not.toContain(path.basename(result.artefacts?.[0]?.path ?? ''));
    for (const name of taken) expect(await readFile(path.join(dir, name), 'utf8')).toBe('occupied');
    expect((await entries(dir)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('times out against a database held by an exclusive lock and removes its temporary file', async () => {
    const dir = await tempDir();
    const backups = await tempDir('backups');
    const db = path.join(dir, 'locked.db');
    makeDb(db, 100, 'delete');
    await child(LOCKER, [db, '10000']);

    const started = performance.now();
    const result = await run('backup', { engine: 'sqlite', path: db, dir: backups }, { timeoutSeconds: 1 });

    expect(result.status, show(result)).toBe('timed_out');
    expect(result.summary).toMatch(/timed out/);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(await entries(backups)).toEqual([]);
  });
});

describe('SQLite checkpoint', () => {
  it('TRUNCATE empties the WAL while a connection stays open, then checks integrity', async () => {
    const file = path.join(await tempDir(), 'wal.db');
    makeDb(file, 10);
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('wal_autocheckpoint = 0');
      const insert = db.prepare('INSERT INTO items (payload) VALUES (?)');
      for (let i = 0; i < 300; i++) insert.run(`wal ${i}`);
      const before = (await stat(`${file}-wal`)).size;
      expect(before).toBeGreaterThan(0);

      const result = await run('checkpoint', { engine: 'sqlite', path: file });

      expect(result.status, show(result)).toBe('succeeded');
      expect(result.description).toBe(`will checkpoint SQLite ${file} (PRAGMA wal_checkpoint(TRUNCATE), then PRAGMA integrity_check) (timeout 60s)`);
      expect(fact(result, 'wal before')).toContain(`(${before} B)`);
      expect(fact(result, 'wal after')).toBe('0 B');
      expect(fact(result, 'busy')).toBe('0');
      expect(fact(result, 'integrity')).toBe('✓');
      expect((await stat(`${file}-wal`)).size).toBe(0);
      expect(result.summary).toMatch(/^checkpointed SQLite .* \(TRUNCATE\): WAL .* → 0 bytes, integrity ok in /);
      expect(count(file)).toBe(310);
    } finally {
      db.close();
    }
  });

  it('fails when a reader keeps the WAL busy, and says how far it got', async () => {
    const file = path.join(await tempDir(), 'busy.db');
    makeDb(file, 10);
    const writer = new Database(file);
    const reader = new Database(file);
    try {
      writer.pragma('wal_autocheckpoint = 0');
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM items').get(); // holds a read snapshot
      writer.prepare('INSERT INTO items (payload) VALUES (?)').run('after the snapshot');

      const result = await run('checkpoint', { engine: 'sqlite', path: file, mode: 'TRUNCATE', integrityCheck: false }, { timeoutSeconds: 3 });

      expect(result.status, show(result)).toBe('failed');
      expect(result.summary).toMatch(/did not complete: busy/);
      expect(fact(result, 'busy')).toBe('1');
      expect(fact(result, 'integrity')).toBeUndefined();
      expect(Number(/\((\d+) B\)/.exec(fact(result, 'wal after') ?? '')?.[1])).toBeGreaterThan(0);
    } finally {
      reader.exec('ROLLBACK');
      reader.close();
      writer.close();
    }
  });

  it('refuses a missing database without creating it', async () => {
    const file = path.join(await tempDir(), 'missing.db');
    const result = await run('checkpoint', { engine: 'sqlite', path: file });
    expect(result.status).toBe('failed');
    expect(result.summary).toBe(`SQLite database ${file} does not exist (nothing was created)`);
    expect(existsSync(file)).toBe(false);
  });

  it('fails on a damaged database with the integrity problems', async () => {
    const file = path.join(await tempDir(), 'damaged.db');
    makeDb(file, 2000, 'delete');
    await damage(file, 'pages');
    const result = await run('checkpoint', { engine: 'sqlite', path: file });
    expect(result.status, show(result)).toBe('failed');
    expect(result.summary).toMatch(/integrity_check|malformed|not a database/);
  });
});

/** Overwrites the header (not a database any more) or some pages in the middle (corrupt b-tree). */
async function damage(file: string, where: 'header' | 'pages'): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const garbage = Buffer.alloc(where === 'header' ? 100 : 8192, 0xa5);
    await handle.write(garbage, 0, garbage.length, where === 'header' ? 0 : 8192);
  } finally {
    await handle.close();
  }
}

describe('SQLite restore', () => {
  it('round trip: backup, damage, restore the latest gives the rows back and keeps a safety backup', async () => {
    const dir = await tempDir();
    const backups = await tempDir('backups');
    const db = path.join(dir, 'orders.db');
    makeDb(db, 500);
    const backup = await run('backup', { engine: 'sqlite', path: db, dir: backups });
    expect(backup.status, show(backup)).toBe('succeeded');

    await damage(db, 'header');
    expect(() => count(db)).toThrow(/not a database/);

    const result = await run('restore', { engine: 'sqlite', path: db, latest: true, dir: backups });

    expect(result.status, show(result)).toBe('succeeded');
    expect(result.description).toBe(
      `will restore SQLite ${db} from the newest verified sqlite-orders-<UTC time>.db.gz in ${backups} (gunzip next to the database, integrity_check, rename over it (previous database kept)), after a safety backup to ${dir} (timeout 60s)`,
    );
    expect(count(db)).toBe(500);
    expect(integrity(db)).toBe('ok');
    expect(fact(result, 'backup (newest verified)')).toContain(backup.artefacts?.[0]?.path ?? '?');
    expect(fact(result, 'restored rows per table')).toBe('items=500, notes=1');

    const safety = result.artefacts?.find((a) => a.kind === 'safety-backup');
    // Beside the live database, not among the backups it was restored from.
    expect(path.dirname(safety?.path ?? '')).toBe(dir);
    expect(safety?.path).toMatch(/\/sqlite-orders-safety-\d{8}T\d{6}Z\.db\.gz$/);
    expect(await sha256(safety?.path ?? '')).toBe(safety?.sha256);
    expect(existsSync(`${safety?.path ?? ''}.sha256`)).toBe(true);
    // The damaged database could not be VACUUMed, so the safety backup is its byte copy.
    expect(fact(result, 'safety as-is copy')).toMatch(/not a database/);
    expect(gunzipSync(await readFile(safety?.path ?? '')).subarray(0, 100)).toEqual(Buffer.alloc(100, 0xa5));

    const kept = fact(result, 'previous database kept as') ?? '';
    expect(kept).toMatch(/orders\.db\.before-restore-\d{8}T\d{6}Z$/);
    expect((await readFile(kept)).subarray(0, 100)).toEqual(Buffer.alloc(100, 0xa5));
    expect((await entries(dir)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('restores an explicit file after truncation, refuses one whose sidecar does not match', async () => {
    const dir = await tempDir();
    const backups = await tempDir('backups');
    const db = path.join(dir, 'cut.db');
    makeDb(db, 3000, 'delete');
    const backup = await run('backup', { engine: 'sqlite', path: db, dir: backups, prefix: 'cut' });
    const file = backup.artefacts?.[0]?.path ?? '';
    expect(backup.status, show(backup)).toBe('succeeded');

    const handle = await open(db, 'r+');
    await handle.truncate(Math.floor((await handle.stat()).size / 2));
    await handle.close();

    const restored = await run('restore', { engine: 'sqlite', path: db, from: file, prefix: 'cut', safetyDir: dir });
    expect(restored.status, show(restored)).toBe('succeeded');
    expect(count(db)).toBe(3000);
    expect(fact(restored, 'sha256 (matches the sidecar)')).toMatch(/^[0-9a-f]{64}$/);
    expect(restored.artefacts?.[0]?.path).toMatch(new RegExp(`^${dir}/cut-safety-`));

    // A backup whose content no longer matches its sidecar is never restored.
    await writeFile(`${file}.sha256`, `${'f'.repeat(64)}  ${path.basename(file)}\n`);
    const refused = await run('restore', { engine: 'sqlite', path: db, from: file, safetyDir: dir });
    expect(refused.status).toBe('failed');
    expect(refused.summary).toMatch(/does not match its sidecar .* refusing to restore it/);
    expect(refused.artefacts).toBeUndefined();
  });

  it('refuses to restore under a process that has the database open', async () => {
    const dir = await tempDir();
    const db = path.join(dir, 'busy.db');
    makeDb(db, 10);
    const backup = await run('backup', { engine: 'sqlite', path: db, dir });
    const holder = new Database(db);
    try {
      holder.prepare('SELECT 1').get();
      const result = await run('restore', { engine: 'sqlite', path: db, from: backup.artefacts?.[0]?.path });
      expect(result.status, show(result)).toBe('failed');
      expect(result.summary).toMatch(/in use by another process .* stop the application first/);
      expect(result.artefacts).toBeUndefined();
      expect((await entries(dir)).filter((n) => n.includes('safety') || n.startsWith('.') || n.includes('before-restore'))).toEqual([]);
    } finally {
      holder.close();
    }
  });
});

describe('data step inputs', () => {
  it('validate at load time with templates in place, and the rendered values at run time', async () => {
    const manifest = (inputs: string) => `name: t\nmatch: {}\nparams: { db: { default: relative.db, pattern: '.+' } }\nsteps:\n  - { id: b, title: B, action: backup, with: ${inputs} }\n`;
    expect(() => parseRunbook(manifest("{ engine: sqlite, path: '/var/lib/{{db}}', dir: /backups, keep: { days: 7 } }"), 'm.yaml')).not.toThrow();
    expect(() => parseRunbook(manifest('{ engine: oracle, path: /x, dir: /b }'), 'm.yaml')).toThrow(/m\.yaml: steps\.0\.with\.engine/);
    expect(() => parseRunbook(manifest('{ engine: sqlite, path: /x, dir: /b, keep: {} }'), 'm.yaml')).toThrow(/steps\.0\.with\.keep: keep needs days, files, or both/);
    expect(() => parseRunbook(manifest('{ engine: sqlite, path: /x, dir: /b, extra: 1 }'), 'm.yaml')).toThrow(/steps\.0\.with/);
    expect(() =>
      parseRunbook(manifest('{ engine: sqlite, path: /x, from: /a.db.gz }').replace('action: backup', 'action: restore'), 'm.yaml'),
    ).not.toThrow();
    expect(() => parseRunbook(manifest('{ engine: sqlite, path: /x, latest: true }').replace('action: backup', 'action: restore'), 'm.yaml')).toThrow(
      /latest: true needs dir/,
    );

    const backups = await tempDir('backups');
    const result = await run('backup', { engine: 'sqlite', path: '{{db}}', dir: backups }, { params: { db: { default: 'relative.db', pattern: '.+' } }, values: { db: 'relative.db' } });
    expect(result.status).toBe('failed');
    expect(result.summary).toBe('path must be an absolute path, not "relative.db"');
  });
});
