/**
 * The small SQLite databases the backup and restore tests work on: one `items` table, so that a
 * row count tells which copy is live (the live one, a backup of another size, or none after a
 * change). Backups are written as the backup action writes them: gzipped, with a `.sha256` sidecar.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';

/** A database at `file` whose `items` hold `names`; in WAL mode with `wal`, as a live server's would be. */
export function createItemsDb(file: string, names: string[], opts: { wal?: boolean } = {}): void {
  const conn = new Database(file);
  try {
    if (opts.wal) conn.pragma('journal_mode = WAL');
    conn.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)');
    const insert = conn.prepare('INSERT INTO items (name) VALUES (?)');
    for (const name of names) insert.run(name);
  } finally {
    conn.close();
  }
}

/** How many rows `items` of the database at `file` has. */
export function itemCount(file: string): number {
  const conn = new Database(file, { readonly: true });
  try {
    return (conn.prepare('SELECT COUNT(*) AS n FROM items').get() as { n: number }).n;
  } finally {
    conn.close();
  }
}

/**
 * A gzipped database with `rows` rows in `items` at `file`, and its `.sha256` sidecar: right
 * unless told `missing` or `wrong`. Returns the backup's checksum.
 */
export function writeItemsBackup(file: string, rows: number, sidecar: 'ok' | 'missing' | 'wrong' = 'ok'): string {
  const raw = `${file}.raw`;
  createItemsDb(raw, Array.from({ length: rows }, (_, i) => `row ${i}`));
  const gz = gzipSync(fs.readFileSync(raw));
  fs.rmSync(raw);
  fs.writeFileSync(file, gz);
  const sha = createHash('sha256').update(gz).digest('hex');
  if (sidecar !== 'missing') fs.writeFileSync(`${file}.sha256`, `${sidecar === 'ok' ? sha : 'f'.repeat(64)}  ${path.basename(file)}\n`);
  return sha;
}
