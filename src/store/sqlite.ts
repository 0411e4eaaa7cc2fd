import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sqliteMigrations } from './migrations.js';
import { GroupCommit } from './group-commit.js';
import { SqlTx } from './sql-tx.js';
import { SqliteDriver } from './sqlite-driver.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import { WalSync } from './wal-sync.js';
import type { Store, StoreTx, TransactionScope } from '../core/ports/store.js';

/** A checkpoint thread copies the WAL this often: about a thousand pages at a storm's write rate. */
const CHECKPOINT_EVERY_MS = 250;
const SQLITE_DEFAULT_AUTOCHECKPOINT = 1000;

/**
 * The embedded store: one SQLite file in WAL mode, synced after every commit so a 2xx means durable.
 * With `groupCommit` (the bot turns it on), transactions that arrive together share a commit, one
 * sync for many, at the price of one event-loop turn for a transaction that follows a commit made
 * in the same turn (see GroupCommit). Off, each transaction commits at once, alone.
 * On a file, commits are synced off the event loop (WalSync), and with `checkpointThread` (the bot
 * turns it on) so are WAL checkpoints (WalCheckpointer).
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly tx: SqlTx;
  private readonly commits: GroupCommit;
  private readonly wal: WalSync | undefined;
  private readonly checkpointer: WalCheckpointer | undefined;

  /**
   * `checkpointThread`: checkpoint the WAL from a worker thread (see WalCheckpointer) instead of
   * inside commits; `onFailure` hears when that thread fails and the store went back to the latter.
   */
  constructor(
    file: string,
    options: { groupCommit?: boolean; checkpointThread?: { everyMs?: number; walLimitBytes: number; onFailure: (error: Error) => void } } = {},
  ) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    const inMemory = this.db.memory || file === '';
    this.db.pragma('journal_mode = WAL');
    // A notification answered 2xx must survive power loss, not only a process crash. Migrations
    // commit with a sync of their own (FULL); after them, commits only write the WAL and WalSync
    // syncs it off the event loop before any transaction is answered.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    if (!inMemory) this.db.pragma('synchronous = NORMAL');
    this.wal = inMemory ? undefined : WalSync.forDatabase(path.resolve(file));
    const wal = this.wal;
    this.commits = new GroupCommit(this.db, { batch: options.groupCommit ?? false, ...(wal ? { durable: () => wal.sync() } : {}) });
    const thread = options.checkpointThread;
    if (!inMemory && thread) {
      // Past walLimitBytes the thread briefly holds commits so that the WAL can start again (see
      // WalCheckpointer), and SQLite truncates the file back to it once it does: disk use stays
      // bounded through a storm of any length.
      const { walLimitBytes } = thread;
      this.db.pragma('wal_autocheckpoint = 0');
      this.db.pragma(`journal_size_limit = ${walLimitBytes}`);
      this.checkpointer = new WalCheckpointer(path.resolve(file), {
        everyMs: thread.everyMs ?? CHECKPOINT_EVERY_MS,
        walLimitBytes,
        hold: () => this.commits.hold(),
        onFailure: (error) => {
          if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
          thread.onFailure(error);
        },
      });
    }
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

  /** One connection runs one transaction at a time, whatever its scope. */
  transaction<T>(work: (tx: StoreTx) => Promise<T>, _scope?: TransactionScope): Promise<T> {
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
    // The thread first: a hold of its own must not keep the last commits waiting.
    await this.checkpointer?.stop();
    await this.commits.idle();
    await this.wal?.close();
    if (this.db.open) this.db.close();
  }
}
