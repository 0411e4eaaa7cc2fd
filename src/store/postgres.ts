import pg from 'pg';
import { PostgresDriver } from './postgres-driver.js';
import { postgresMigrations } from './postgres-migrations.js';
import { SqlTx } from './sql-tx.js';
import type { Store, StoreTx } from './store.js';

/** A fixed 64-bit advisory lock key, spelled as 8 ASCII characters so it is recognisable in pg_locks. */
const lockKey = (name: string): string => BigInt(`0x${Buffer.from(name, 'ascii').toString('hex')}`).toString();
/** Held by every store transaction (transaction-scoped). */
const TRANSACTION_LOCK = lockKey('chatopsT');
/** Held while a process migrates the schema (session-scoped). */
const MIGRATION_LOCK = lockKey('chatopsM');

/**
 * BIGINT (ids, COUNT(*)) arrives as a string by default, since it can exceed 2^53; the domain uses
 * numbers, as better-sqlite3 returns them. Set on this pool's own type table, so that other pg
 * users in the process keep pg's defaults.
 */
const types = new pg.TypeOverrides();
types.setTypeParser(pg.types.builtins.INT8, (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`BIGINT ${value} does not fit a JavaScript number`);
  return n;
});

/**
 * The shared store for several replicas of the bot: one PostgreSQL database.
 *
 * The port promises serialisable transactions, and the core relies on them: read-then-write
 * sequences such as the audit chain (`lastAuditHash` then `insertAudit`), `hasNotification` then
 * insert, and conditional claims are only correct when no other transaction runs in between.
 * SQLite gives that by running one transaction at a time. Here, every transaction first takes one
 * fixed transaction-scoped advisory lock, so store transactions run one at a time across all the
 * replicas sharing the database, exactly as in SQLite: no serialization failures to retry, no
 * deadlocks, and each statement (READ COMMITTED, so the snapshot is taken after the lock is held)
 * sees everything committed before. The price is that writes go at the pace of one writer, which
 * suits the bot's short transactions (the callback only awaits store calls, never the network).
 */
export class PostgresStore implements Store {
  private closing: Promise<void> | undefined;

  private constructor(private readonly pool: pg.Pool) {}

  /**
   * Connects, brings the schema up to date (safe when several replicas start at once) and returns the store.
   * `stalledTransactionMs`: how long a transaction may sit idle between statements before the server
   * ends its session (default 30 s; see below).
   */
  static async open(url: string, options: { poolSize?: number; stalledTransactionMs?: number } = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      types,
      // Every transaction holds the one store lock, so a replica that stops mid-transaction (frozen,
      // partitioned: its TCP session may live on for hours) would stall every replica. Transactions
      // only await store calls, so their idle gaps are tiny; the server ends a session idle longer
      // than this, which rolls it back and frees the lock.
      idle_in_transaction_session_timeout: options.stalledTransactionMs ?? 30_000,
      // An unreachable server fails a checkout (and so ping, for readiness) instead of hanging.
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      // The store's statements are short OLTP queries; a planner estimate over the JIT threshold
      // (the outbox's correlated heads query on a long backlog) would spend far longer compiling than running.
      options: '-c jit=off',
    });
    // An idle pooled connection that drops (server restart, failover) is removed by pg and replaced
    // on the next checkout; without a listener its 'error' event would crash the process.
    pool.on('error', () => {});
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresStore(pool);
  }

  async transaction<T>(work: (tx: StoreTx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const driver = new PostgresDriver(client);
    const tx = new SqlTx(driver);
    let broken: Error | undefined;
    // pg listens for a connection's errors only while it is idle in the pool: a checked-out client
    // whose session the server ends between two statements (stalled transaction, failover,
    // pg_terminate_backend) emits 'error', which with no listener would crash the process.
    const onError = (error: Error) => {
      broken = error;
    };
    client.on('error', onError);
    try {
      // READ COMMITTED whatever the server's default: under REPEATABLE READ the snapshot would be
      // taken by the lock statement itself, before the lock is granted, and miss the previous holder's writes.
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [TRANSACTION_LOCK]);
      const result = await work(tx);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken ??= await rollback(client);
      throw error;
    } finally {
      driver.end();
      client.off('error', onError);
      // A client whose ROLLBACK failed is in an unknown state (or disconnected): destroy it rather
      // than hand it to the next transaction. Closing its session ends its transaction and lock.
      client.release(broken);
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /** Ends the pool once all checked-out clients are released; calling it again waits for the same end. */
  async close(): Promise<void> {
    this.closing ??= this.pool.end();
    await this.closing;
  }
}

/** Rolls back; returns the error when even that failed. */
async function rollback(client: pg.PoolClient): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * Applies the migrations not recorded yet, each in its own transaction (PostgreSQL's DDL is
 * transactional). A session-level advisory lock makes replicas that start together take turns:
 * the first migrates, the others then find everything applied. The lock is taken before even
 * `CREATE TABLE IF NOT EXISTS`, which is not safe against a concurrent create of the same table.
 */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  // As in a transaction: a session ended by the server must fail the migration, not crash the process.
  const ignore = () => {};
  client.on('error', ignore);
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const migration of postgresMigrations) {
      if (applied.has(migration.version)) continue;
      await client.query('BEGIN');
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, new Date().toISOString()]);
      await client.query('COMMIT');
    }
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK]);
    client.off('error', ignore);
    client.release();
  } catch (error) {
    // Dropping the session rolls back a half-applied migration and frees the lock in one go.
    client.off('error', ignore);
    client.release(error instanceof Error ? error : true);
    throw error;
  }
}
