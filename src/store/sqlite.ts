import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sqliteMigrations } from './migrations.js';
import { GroupCommit } from './group-commit.js';
import { SqlTx } from './sql-tx.js';
import { SqliteDriver } from './sqlite-driver.js';
import type { Store, StoreTx } from './store.js';

/**
 * The embedded store: one SQLite file in WAL mode, synced on every commit so a 2xx means durable.
 * With `groupCommit` (the bot turns it on), transactions that arrive together share a commit, one
 * sync for many, at the price of one event-loop turn for a transaction that follows a commit made
 * in the same turn (see GroupCommit). Off, each transaction commits at once, alone.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly tx: SqlTx;
  private readonly commits: GroupCommit;

  constructor(file: string, options: { groupCommit?: boolean } = {}) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a notification answered 2xx must survive power loss, not only a process crash.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.tx = new SqlTx(new SqliteDriver(this.db));
    this.commits = new GroupCommit(this.db, { batch: options.groupCommit ?? false });
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
    return this.commits.run(() => work(this.tx));
  }

  ping(): Promise<void> {
    // A read between two transactions' statements is harmless on this one connection; a closed database throws.
    try {
      this.db.prepare('SELECT 1').get();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async close(): Promise<void> {
    await this.commits.idle();
    if (this.db.open) this.db.close();
  }
}
