import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * Makes commits of a SQLite database in WAL mode durable without blocking the event loop.
 *
 * With `synchronous = FULL` SQLite syncs the WAL inside every COMMIT: better-sqlite3 is synchronous,
 * so the whole process waits for the disk (2 to 3 ms a commit on the benchmark machine, a sixth of
 * the ingest time). With `synchronous = NORMAL` a commit only writes the WAL, and this syncs it on
 * libuv's thread pool (`fdatasync` of the same file) while the event loop goes on; a commit is
 * answered only once a sync that started after it has finished, so a 2xx still means on disk.
 *
 * Checkpoints stay safe: in NORMAL mode SQLite syncs the WAL before it copies frames into the
 * database and the database after, and it only starts the WAL again from the top after such a
 * checkpoint, so a commit is on disk either through this sync or through the checkpoint's.
 *
 * Syncs are coalesced (CoalescedSync): one disk sync serves every commit made before it began.
 */
export class WalSync {
  private handle: FileHandle | undefined;
  private readonly syncs = new CoalescedSync(() => this.datasync());

  private constructor(private readonly walPath: string) {}

  /** For the database file `file`, whose WAL SQLite keeps beside it as `<file>-wal`. */
  static forDatabase(file: string): WalSync {
    return new WalSync(`${file}-wal`);
  }

  /** Resolves once every commit made before the call is on disk. */
  sync(): Promise<void> {
    return this.syncs.sync();
  }

  /** Waits for syncs in progress, then closes the file (before the database closes and removes it). */
  async close(): Promise<void> {
    await this.syncs.idle();
    await this.handle?.close();
    this.handle = undefined;
  }

  private async datasync(): Promise<void> {
    // Opened on first use: SQLite creates the WAL with the first write, and keeps it (and its
    // inode) while its connection is open; a checkpoint truncates or rewrites it in place.
    this.handle ??= await fs.promises.open(this.walPath, 'r');
    await this.handle.datasync();
  }
}

/**
 * One sync at a time: a call while one runs waits for the next, which starts when the current one
 * ends and serves every call made meanwhile. So each call is served by a sync that began after it.
 */
export class CoalescedSync {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly syncOnce: () => Promise<void>) {}

  sync(): Promise<void> {
    if (!this.running) return this.start();
    // The sync in progress may have begun before the caller's commit wrote its frames.
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  /** Resolves when no sync is running or queued (failures included). */
  async idle(): Promise<void> {
    while (this.running || this.queued) await (this.queued ?? this.running)?.catch(() => undefined);
  }

  private start(): Promise<void> {
    const run = this.syncOnce().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}
