import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../../support/temp-dir.js';
import Database from 'better-sqlite3';
import { GroupCommit } from '../../../src/store/group-commit.js';
import { openStore } from '../../../src/store/open.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import type { Store } from '../../../src/core/ports/store.js';
import { WalCheckpointer } from '../../../src/store/wal-checkpointer.js';

describe('WAL checkpoints in a thread of their own', () => {
  const tempDir = useTempDirs('wal-checkpoint');

  /** Writes `rounds` transactions of ~100 KB each, pausing between them, and returns the WAL's size. */
  async function writeAndMeasure(store: SqliteStore, file: string, rounds: number): Promise<number> {
    const payload = { text: 'x'.repeat(100_000) };
    for (let i = 0; i < rounds; i++) {
      await store.transaction((tx) => tx.enqueueOutbox({ platform: 'slack', channel: 'C1', incidentId: null, kind: 'post', payload, at: '2026-12-02T00:00:00.000Z' }));
      await sleep(30);
    }
    return fs.statSync(`${file}-wal`).size;
  }

  it('keeps the WAL from growing: the thread copies it into the database and SQLite starts it again', async () => {
    const file = path.join(await tempDir(), 'bot.db');
    const failures: Error[] = [];
    const store = new SqliteStore(file, { checkpointThread: { everyMs: 20, walLimitBytes: 1024 * 1024 * 1024, onFailure: (e) => failures.push(e) } });
    const written = 40 * 100_000;
    const walSize = await writeAndMeasure(store, file, 40);
    await store.close();
    expect(failures).toEqual([]);
    // Without any checkpoint the WAL holds every page written (over 4 MB here).
    expect(walSize).toBeLessThan(written / 4);
  });

  /**
   * Eight writers back to back, as webhooks in a storm: there is always a commit in progress or
   * queued. Returns the largest WAL seen after any commit, and how many rows were stored.
   */
  async function writeNonStop(store: Store, file: string, rowsPerWriter: number, payloadBytes: number) {
    const payload = { text: 'y'.repeat(payloadBytes) };
    let largestWal = 0;
    const writer = async () => {
      for (let i = 0; i < rowsPerWriter; i++) {
        await store.transaction((tx) => tx.enqueueOutbox({ platform: 'slack', channel: 'C1', incidentId: null, kind: 'post', payload, at: '2026-12-04T00:00:00.000Z' }));
        largestWal = Math.max(largestWal, fs.statSync(`${file}-wal`).size);
      }
    };
    await Promise.all(Array.from({ length: 8 }, writer));
    const rows = await store.transaction((tx) => tx.countPendingOutbox());
    return { largestWal, rows, written: 8 * rowsPerWriter * payloadBytes };
  }

  it('keeps the WAL bounded under writes that never pause: commits are held while the thread copies the last frames', async () => {
    const file = path.join(await tempDir(), 'bot.db');
    const failures: Error[] = [];
    const walLimitBytes = 1 << 20;
    const store = new SqliteStore(file, { groupCommit: true, checkpointThread: { everyMs: 10, walLimitBytes, onFailure: (e) => failures.push(e) } });
    const { largestWal, rows, written } = await writeNonStop(store, file, 400, 20_000);
    await store.close();
    expect(failures).toEqual([]);
    expect(rows).toBe(8 * 400);
    // 64 MB were written: without the holds the WAL keeps every page of it.
    expect(written).toBeGreaterThan(60 * walLimitBytes);
    expect(largestWal).toBeLessThan(8 * walLimitBytes);
  });

  it("applies the bot's SQLITE_WAL_LIMIT_MB (through openStore)", async () => {
    const file = path.join(await tempDir(), 'bot.db');
    const errors: unknown[] = [];
    const store = await openStore({ kind: 'sqlite', path: file }, { error: (e: unknown) => errors.push(e) }, { sqliteWalLimitMb: 16 });
    const { largestWal, rows, written } = await writeNonStop(store, file, 400, 100_000);
    await store.close();
    expect(errors).toEqual([]);
    expect(rows).toBe(8 * 400);
    // Under the default 1 GB limit the WAL would hold all 320 MB. Checkpoints come every 250 ms
    // here, and a fast disk writes a lot in that time, so the bound is loose.
    expect(written).toBeGreaterThan(300 * 2 ** 20);
    expect(largestWal).toBeLessThan(written / 2);
  });

  it('backs off while a reader keeps a snapshot (the WAL cannot start again), and bounds the WAL again once it ends', async () => {
    const file = path.join(await tempDir(), 'bot.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (v TEXT)');
    const commits = new GroupCommit(db);
    let holds = 0;
    const failures: Error[] = [];
    const walLimitBytes = 1 << 20;
    const checkpointer = new WalCheckpointer(file, {
      everyMs: 10,
      walLimitBytes,
      hold: () => ((holds += 1), commits.hold()),
      onFailure: (e) => failures.push(e),
    });
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const row = 'z'.repeat(4_000);
    const writeFor = async (ms: number) => {
      const until = performance.now() + ms;
      const writer = async () => {
        while (performance.now() < until) await commits.run(() => Promise.resolve(insert.run(row)));
      };
      await Promise.all(Array.from({ length: 4 }, writer));
    };
    // What the WAL holds now, in frames (a passive checkpoint on a third connection reports it).
    const walFrames = () => {
      const probe = new Database(file);
      try {
        return (probe.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>)[0]!.log;
      } finally {
        probe.close();
      }
    };
    const reader = new Database(file, { readonly: true });
    try {
      reader.exec('BEGIN');
      reader.prepare('SELECT COUNT(*) FROM t').get();
      await writeFor(1000);
      // Held every few ms, a reader's snapshot would cost the writers most of their time.
      expect(holds).toBeGreaterThanOrEqual(1);
      expect(holds).toBeLessThanOrEqual(2);
      reader.exec('COMMIT');
      await writeFor(2500);
      expect(walFrames() * 4096).toBeLessThan(16 * walLimitBytes);
      expect(failures).toEqual([]);
    } finally {
      reader.close();
      await checkpointer.stop();
      await commits.idle();
      db.close();
    }
  });

  it('reports a thread that cannot open the database', async () => {
    const missing = path.join(await tempDir(), 'missing.db');
    const failed = new Promise<Error>(
      (resolve) => new WalCheckpointer(missing, { everyMs: 20, walLimitBytes: 1 << 20, hold: () => Promise.resolve(() => undefined), onFailure: resolve }),
    );
    const error = await failed;
    expect(String(error)).toMatch(/unable to open database file|does not exist|SQLITE_CANTOPEN/i);
  });
});
