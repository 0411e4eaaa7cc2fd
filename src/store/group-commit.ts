/** The few calls group commit needs of a single, synchronous database connection (better-sqlite3's). */
export interface BatchConnection {
  exec(sql: string): unknown;
  readonly inTransaction: boolean;
}

interface Queued {
  work: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A batch stops taking queued work after this many, so one commit never holds answers back for long. */
const MAX_BATCH = 64;

/** Captured at load, so that tests faking timers later cannot stall commits. */
const realSetImmediate = globalThis.setImmediate;
const nextTurn = (): Promise<void> => new Promise((resolve) => realSetImmediate(resolve));

/**
 * Group commit for one connection whose commits are synced to disk (by COMMIT itself, or by
 * `durable` after it). Transactions queued together
 * share one `BEGIN IMMEDIATE … COMMIT`, each inside a savepoint of its own, and each caller's promise
 * settles only after that commit: the same durability as a commit each (nothing is answered before
 * it is on disk), one sync for many.
 *
 * Each transaction still runs alone and in order, seeing everything before it (so they are as
 * serial as with one commit each), and a transaction that throws is rolled back to its savepoint
 * without touching the others. If SQLite rolls back the whole transaction itself (disk full, I/O
 * error), or the commit fails, every transaction of the batch fails with that error.
 *
 * When batching happens: better-sqlite3 is synchronous and a transaction's callback only awaits
 * store calls, so a transaction runs to its commit before the next request's callback even runs.
 * A transaction that finds no commit made yet in this turn of the event loop runs at once (a quiet
 * bot answers as fast as before); one that comes after a commit in the same turn waits for
 * `setImmediate`, by which time every request already read in this turn has queued its own, and
 * they all share the next commit.
 */
export class GroupCommit {
  private readonly queue: Queued[] = [];
  private draining: Promise<void> | undefined;
  /** A commit was made in this turn of the event loop (cleared by setImmediate). */
  private committedThisTurn = false;

  /** Commits made but not yet durable: their callers are answered when `durable` resolves. */
  private readonly settling = new Set<Promise<void>>();

  /** The batch being run, if any. */
  private current: Promise<void> | undefined;
  /** Set by `hold`: no batch starts until it resolves. */
  private held: Promise<void> | undefined;

  /**
   * `batch: false`: every transaction commits at once, alone (no waiting for the next turn).
   * `durable`: resolves once every commit made before the call is on disk (see WalSync), for a
   * connection whose COMMIT does not sync itself; the next batch runs while it waits.
   */
  constructor(
    private readonly db: BatchConnection,
    private readonly options: { batch: boolean; durable?: () => Promise<void> } = { batch: true },
  ) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.draining ??= this.drain();
    });
  }

  /**
   * Holds back every transaction not yet started, and resolves once the one in progress, if any,
   * has committed; the returned function lets them go on. The event loop goes on meanwhile: new
   * transactions queue, and share the next commit. (The WAL checkpoint thread uses this to copy
   * the WAL's last frames while nothing writes, so that SQLite can start the WAL again.)
   */
  async hold(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    this.held = held;
    await this.current;
    return () => {
      if (this.held === held) this.held = undefined;
      release();
    };
  }

  /** Resolves once nothing is queued or running (before closing the connection). */
  async idle(): Promise<void> {
    while (this.draining || this.settling.size > 0) {
      await this.draining;
      await Promise.all(this.settling);
    }
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        if (this.committedThisTurn) await nextTurn();
        while (this.held) await this.held;
        if (this.queue.length === 0) return;
        this.current = this.batch(this.queue.splice(0, this.options.batch ? MAX_BATCH : 1));
        await this.current;
        this.current = undefined;
        this.markCommitted();
      }
    } finally {
      this.draining = undefined;
    }
  }

  private markCommitted(): void {
    if (this.committedThisTurn || !this.options.batch) return;
    this.committedThisTurn = true;
    realSetImmediate(() => {
      this.committedThisTurn = false;
    });
  }

  private async batch(items: Queued[]): Promise<void> {
    const succeeded: Array<{ item: Queued; value: unknown }> = [];
    let index = 0;
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (; index < items.length; index += 1) {
        const item = items[index] as Queued;
        this.db.exec('SAVEPOINT work');
        try {
          succeeded.push({ item, value: await item.work() });
          this.db.exec('RELEASE work');
        } catch (error) {
          // SQLite ended the whole transaction itself: what the earlier items wrote is gone too.
          if (!this.db.inTransaction) throw error;
          this.db.exec('ROLLBACK TO work');
          this.db.exec('RELEASE work');
          item.reject(error);
        }
      }
      this.db.exec('COMMIT');
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      for (const { item } of succeeded) item.reject(error);
      // The item that failed with the batch, and those after it that never ran, fail with it: their
      // callers learn it now rather than after a retry that might fail the same way.
      for (const item of items.slice(index)) item.reject(error);
      return;
    }
    if (!this.options.durable) {
      for (const { item, value } of succeeded) item.resolve(value);
      return;
    }
    // Committed, but not known to be on disk: a failed sync fails the callers (a webhook then
    // answers 5xx and is retried, which the store recognises as a repeat).
    const settled = this.options.durable().then(
      () => {
        for (const { item, value } of succeeded) item.resolve(value);
      },
      (error: unknown) => {
        const failure = new Error(`the commit could not be synced to disk: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        for (const { item } of succeeded) item.reject(failure);
      },
    );
    this.settling.add(settled);
    void settled.finally(() => this.settling.delete(settled));
  }
}
