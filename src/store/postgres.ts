import { createHash } from 'node:crypto';
import pg from 'pg';
import { PostgresDriver } from './postgres-driver.js';
import { postgresMigrations } from './migrations.js';
import { SqlTx } from './sql-tx.js';
import type { Store, StoreTx, TransactionScope } from '../core/ports/store.js';

/** A fixed 64-bit advisory lock key, spelled as 8 ASCII characters so it is recognisable in pg_locks. */
const lockKey = (name: string): string => BigInt(`0x${Buffer.from(name, 'ascii').toString('hex')}`).toString();
/** Held by every store transaction (transaction-scoped): exclusively, or shared by a group's. */
const TRANSACTION_LOCK = lockKey('chatopsT');
/** Held while a process migrates the schema (session-scoped). */
const MIGRATION_LOCK = lockKey('chatopsM');
/**
 * The first key of a group's lock, in the two-integer key space (which never meets the one-bigint
 * keys above); the second is 32 bits of a hash of the group key. Two groups whose hashes collide
 * only take turns.
 */
const GROUP_LOCK_CLASS = Buffer.from('chog', 'ascii').readInt32BE(0);
const groupLockKey = (group: string): number => createHash('sha256').update(group).digest().readInt32BE(0);

/**
 * BEGIN and the locks in one round trip (the simple query protocol runs several statements; the
 * keys are numbers computed here, not input). READ COMMITTED whatever the server's default: under
 * REPEATABLE READ the snapshot would be taken by the lock statement itself, before the lock is
 * granted, and miss the previous holder's writes.
 */
function beginStatements(scope: TransactionScope): string {
  const begin = 'BEGIN ISOLATION LEVEL READ COMMITTED';
  // A read-only look beside group transactions: the store lock shared, no group's lock.
  if (scope.readOnly) return `${begin} READ ONLY; SELECT pg_advisory_xact_lock_shared(${TRANSACTION_LOCK})`;
  if (scope.group === undefined) return `${begin}; SELECT pg_advisory_xact_lock(${TRANSACTION_LOCK})`;
  return `${begin}; SELECT pg_advisory_xact_lock_shared(${TRANSACTION_LOCK}); SELECT pg_advisory_xact_lock(${GROUP_LOCK_CLASS}, ${groupLockKey(scope.group)})`;
}

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
 * sees everything committed before.
 *
 * Except for transactions scoped to one Alertmanager group (recording a notification): those take
 * the store lock shared and their group's lock exclusively, so notifications of different groups
 * are stored at the same time, on as many connections as the pool has, while two of one group
 * (an HA pair's duplicates) still take turns, and any unscoped transaction waits until none is
 * running (and new ones queue behind it, so it is not starved). A notification is about a dozen
 * statements, each a round trip: one at a time, ingest stopped at 200 to 250 a second.
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

  async transaction<T>(work: (tx: StoreTx) => Promise<T>, scope: TransactionScope = {}): Promise<T> {
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
      await client.query(beginStatements(scope));
      const result = await work(tx);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken ??= await rollback(client);
      // A statement this connection prepared before another replica migrated the schema can no
      // longer run (its `SELECT *` now returns other columns): the session goes, and with it its
      // prepared statements, so the next transaction prepares them again. This one fails, as any.
      if (!broken && isStalePreparedStatement(error)) broken = error as Error;
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

/** PostgreSQL's "cached plan must not change result type" (feature_not_supported). */
function isStalePreparedStatement(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === '0A000' && /cached plan/i.test(error.message);
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
