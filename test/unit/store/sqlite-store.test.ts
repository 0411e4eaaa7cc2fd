import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { sqliteMigrations } from '../../../src/store/migrations.js';
import { SqlTx } from '../../../src/store/sql-tx.js';
import { SqliteDriver } from '../../../src/store/sqlite-driver.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { newIncident, storeContract, type RawRow, type StoreHarness } from './store-contract.js';

/** A fresh SQLite file in a temp folder; raw SQL goes through a second better-sqlite3 connection to it. */
async function sqliteHarness(): Promise<StoreHarness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'store-contract-'));
  const file = path.join(dir, 'nested', 'bot.db');
  let raw: Database.Database | undefined;
  const connection = () => (raw ??= new Database(file));
  return {
    migrations: sqliteMigrations,
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

  it('migration 7 keeps every outbox row of an older database, with its id, state and doubt, and the id counter', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'migration-7-'));
    const file = path.join(dir, 'bot.db');
    try {
      // A database as a bot before migration 7 left it.
      const old = new Database(file);
      old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      for (const m of sqliteMigrations.filter((m) => m.version < 7)) {
        old.exec(m.sql);
        old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00Z');
      }
      old.exec(`INSERT INTO incidents (group_key, episode, status, severity, title, receiver, group_labels, common_labels, common_annotations, external_url, created_at, updated_at, last_seen_at)
                VALUES ('g', 1, 'firing', 'critical', 't', 'r', '{}', '{}', '{}', '', 'a', 'a', 'a')`);
      old.exec(`INSERT INTO outbox (id, platform, channel, incident_id, kind, payload, state, next_attempt_at, created_at, sent_at)
                VALUES (5, 'slack', 'C1', 1, 'card', 'null', 'done', 'a', 'a', 'b')`);
      old.exec(`INSERT INTO outbox (id, platform, channel, incident_id, kind, payload, attempts, next_attempt_at, created_at, sending_since)
                VALUES (9, 'slack', 'C1', 1, 'reply', '{"text":"hi"}', 2, 'a', 'a', 'c')`);
      old.close();

      const store = new SqliteStore(file);
      try {
        const pending = await store.transaction((tx) => tx.pendingOutbox(10));
        expect(pending).toEqual([
          { id: 9, platform: 'slack', channel: 'C1', incidentId: 1, kind: 'reply', payload: { text: 'hi' }, attempts: 2, nextAttemptAt: 'a', lastError: null, createdAt: 'a', sendingSince: 'c' },
        ]);
        const next = await store.transaction((tx) => tx.enqueueOutbox({ platform: 'slack', channel: 'C1', incidentId: null, kind: 'post', payload: { text: 'x' }, at: 'd' }));
        expect(next).toBe(10);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('finds the heads of channel posts without walking every pending thread message', async () => {
    // A channel's pace can leave 100,000 thread messages pending; the query of due heads runs on
    // every outbox tick, so each of its branches has to reach its rows through an index of its own.
    const db = new Database(':memory:');
    try {
      for (const m of sqliteMigrations) db.exec(m.sql);
      const statements: Array<{ sql: string; params: unknown[] }> = [];
      const driver = new SqliteDriver(db);
      const capturing = Object.assign(Object.create(driver) as SqliteDriver, {
        all: (sql: string, params: unknown[] = []) => (statements.push({ sql, params }), driver.all(sql, params)),
      });
      await new SqlTx(capturing).dueThreadHeads('2026-12-01T00:00:00.000Z', 200);
      const [heads] = statements;
      expect(heads).toBeDefined();
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${heads!.sql}`).all(...heads!.params) as Array<{ detail: string }>).map((r) => r.detail);
      expect(plan).toContain('SEARCH o USING INDEX outbox_pending_posts (state=?)');
      expect(plan.filter((d) => d === 'SEARCH o USING INDEX outbox_pending (state=?)')).toHaveLength(1);
    } finally {
      db.close();
    }
  });
  it('counts the inbox on its indexes, without reading the bodies of the notifications waiting', async () => {
    // Every /metrics scrape and inbox tick counts it; a count over the table read every body.
    const db = new Database(':memory:');
    try {
      for (const m of sqliteMigrations) db.exec(m.sql);
      const statements: string[] = [];
      const driver = new SqliteDriver(db);
      const capturing = Object.assign(Object.create(driver) as SqliteDriver, {
        get: (sql: string, params: unknown[] = []) => (statements.push(sql), driver.get(sql, params)),
      });
      db.prepare("INSERT INTO inbox (group_key, received_at, body) VALUES ('g', 'a', '{}'), ('g', 'b', '{}')").run();
      db.prepare("UPDATE inbox SET failed_at = 'c' WHERE seq = 1").run();
      expect(await new SqlTx(capturing).countQueuedNotifications()).toEqual({ waiting: 1, failed: 1 });
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${statements[0]!}`).all() as Array<{ detail: string }>).map((r) => r.detail);
      expect(plan).toContain('SCAN inbox USING INDEX inbox_waiting_by_group');
      expect(plan).toContain('SCAN inbox USING INDEX inbox_failed');
      expect(plan).not.toContain('SCAN inbox');
    } finally {
      db.close();
    }
  });
});
