import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../../support/temp-dir.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { CoalescedSync, WalSync } from '../../../src/store/wal-sync.js';

describe('CoalescedSync', () => {
  /** Syncs the test ends by hand, in order. */
  function manualSyncs() {
    const started: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
    const syncs = new CoalescedSync(() => new Promise<void>((resolve, reject) => started.push({ resolve, reject })));
    return { syncs, started };
  }
  const flush = () => new Promise((resolve) => setImmediate(resolve));

  it('serves every call made during a sync with one more sync that starts after it', async () => {
    const { syncs, started } = manualSyncs();
    const first = syncs.sync();
    const during = [syncs.sync(), syncs.sync(), syncs.sync()];
    expect(started).toHaveLength(1);
    let duringDone = false;
    void Promise.all(during).then(() => (duringDone = true));
    started[0]!.resolve();
    await first;
    await flush();
    // The first sync may have begun before their commits: they wait for the second.
    expect(duringDone).toBe(false);
    expect(started).toHaveLength(2);
    started[1]!.resolve();
    await Promise.all(during);
    expect(started).toHaveLength(2);
  });

  it('rejects the callers of a failed sync; the next sync still runs', async () => {
    const { syncs, started } = manualSyncs();
    const failing = syncs.sync();
    const next = syncs.sync();
    started[0]!.reject(new Error('EIO'));
    await expect(failing).rejects.toThrow('EIO');
    await flush();
    started[1]!.resolve();
    await expect(next).resolves.toBeUndefined();
  });

  it('is idle when nothing runs or waits', async () => {
    const { syncs, started } = manualSyncs();
    await syncs.idle();
    const a = syncs.sync();
    const b = syncs.sync();
    let idle = false;
    const waiting = syncs.idle().then(() => (idle = true));
    started[0]!.resolve();
    await a;
    await flush();
    expect(idle).toBe(false);
    started[1]!.resolve();
    await b;
    await waiting;
    expect(idle).toBe(true);
  });
});

describe('WalSync and the SQLite store', () => {
  const tempDir = useTempDirs('wal-sync');

  it('syncs the WAL of a real database after its commits', async () => {
    const file = path.join(await tempDir(), 'x.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE t (v INTEGER)');
    const wal = WalSync.forDatabase(file);
    db.prepare('INSERT INTO t (v) VALUES (1)').run();
    await Promise.all([wal.sync(), wal.sync()]);
    db.prepare('INSERT INTO t (v) VALUES (2)').run();
    await wal.sync();
    await wal.close();
    db.close();
    const reopened = new Database(file, { readonly: true });
    expect(reopened.prepare('SELECT v FROM t ORDER BY v').pluck().all()).toEqual([1, 2]);
    reopened.close();
  });

  it('fails clearly when the database has no WAL', async () => {
    const wal = WalSync.forDatabase(path.join(await tempDir(), 'missing.db'));
    await expect(wal.sync()).rejects.toThrow(/ENOENT.*missing\.db-wal/);
    await wal.close();
  });

  it('the file store answers group-committed transactions after their sync, and has them all on disk', async () => {
    const file = path.join(await tempDir(), 'bot.db');
    const store = new SqliteStore(file, { groupCommit: true });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.transaction((tx) => tx.enqueueOutbox({ platform: 'slack', channel: 'C1', incidentId: null, kind: 'post', payload: { text: `m${i}` }, at: '2026-12-02T00:00:00.000Z' }))),
    );
    expect(new Set(results).size).toBe(20);
    await store.close();
    const reopened = new Database(file, { readonly: true });
    expect(reopened.prepare('SELECT COUNT(*) FROM outbox').pluck().get()).toBe(20);
    reopened.close();
  });
});
