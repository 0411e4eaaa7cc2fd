import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sqliteMigrations } from './migrations.js';
import { Mutex } from './mutex.js';
import { SqlTx } from './sql-tx.js';
import { SqliteDriver } from './sqlite-driver.js';
import type { Store, StoreTx } from './store.js';

/** The embedded store: one SQLite file in WAL mode, fsync on every commit so a 2xx means durable. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly tx: SqlTx;
  private readonly lock = new Mutex();

  constructor(file: string) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a notification answered 2xx must survive power loss, not only a process crash.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.tx = new SqlTx(new SqliteDriver(this.db));
  }

  private migrate() {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = new Set(
      (this.db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version),
    );
    for (const migration of sqliteMigrations) {
      if (applied.has(migration.version)) continue;
      this.db.transaction(() => {
        this.db.exec(migration.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(migration.version, migration.name, new Date().toISOString());
      })();
    }
  }

  transaction<T>(work: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(this.tx);
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  async ping() {
    // eslint-disable-next-line @typescript-eslint/require-await -- Mutex.run takes an async callback; better-sqlite3 inside it is synchronous.
    await this.lock.run(async () => {
      this.db.prepare('SELECT 1').get();
    });
  }

  async close() {
    // eslint-disable-next-line @typescript-eslint/require-await -- Mutex.run takes an async callback; better-sqlite3 inside it is synchronous.
    await this.lock.run(async () => {
      if (this.db.open) this.db.close();
    });
  }
}
