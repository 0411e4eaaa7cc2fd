import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { newIncident, storeContract, type RawRow, type StoreHarness } from './store-contract.js';

/** A fresh SQLite file in a temp folder; raw SQL goes through a second better-sqlite3 connection to it. */
async function sqliteHarness(): Promise<StoreHarness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'store-contract-'));
  const file = path.join(dir, 'nested', 'bot.db');
  let raw: Database.Database | undefined;
  const connection = () => (raw ??= new Database(file));
  return {
    open: () => Promise.resolve(new SqliteStore(file)),
    sql: (query) => {
      const statement = connection().prepare(query);
      if (statement.reader) return Promise.resolve(statement.all() as RawRow[]);
      statement.run();
      return Promise.resolve([]);
    },
    dispose: async () => {
      raw?.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

storeContract('sqlite', sqliteHarness);

describe('SqliteStore specifics', () => {
  it('creates the folder of its file and puts the database in WAL mode', async () => {
    const harness = await sqliteHarness();
    const store = await harness.open();
    try {
      expect(await harness.sql('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    } finally {
      await store.close();
      await harness.dispose();
    }
  });

  it('works in memory', async () => {
    const store = new SqliteStore(':memory:');
    try {
      const incident = await store.transaction((tx) => tx.insertIncident(newIncident('mem')));
      expect(await store.transaction((tx) => tx.getIncident(incident.id))).toEqual(incident);
    } finally {
      await store.close();
    }
  });

  it('refuses transactions after close', async () => {
    const store = new SqliteStore(':memory:');
    await store.close();
    await store.close(); // twice is fine
    await expect(store.transaction((tx) => tx.countPendingOutbox())).rejects.toThrow();
  });
});
