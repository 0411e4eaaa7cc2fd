import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../../support/temp-dir.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
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
    const store = new SqliteStore(file, { checkpointThread: { everyMs: 20, onFailure: (e) => failures.push(e) } });
    const written = 40 * 100_000;
    const walSize = await writeAndMeasure(store, file, 40);
    await store.close();
    expect(failures).toEqual([]);
    // Without any checkpoint the WAL holds every page written (over 4 MB here).
    expect(walSize).toBeLessThan(written / 4);
  });

  it('reports a thread that cannot open the database', async () => {
    const missing = path.join(await tempDir(), 'missing.db');
    const failed = new Promise<Error>((resolve) => new WalCheckpointer(missing, 20, resolve));
    const error = await failed;
    expect(String(error)).toMatch(/unable to open database file|does not exist|SQLITE_CANTOPEN/i);
  });
});
