import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { appendAudit, firstBrokenLink } from '../../../src/core/audit.js';
import { recordNotification } from '../../../src/core/notifications.js';
import { postgresMigrations, sqliteMigrations } from '../../../src/store/migrations.js';
import { PostgresStore } from '../../../src/store/postgres.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import type { Store, StoreTx } from '../../../src/core/ports/store.js';
import { createTestDatabase, postgresUrl } from '../../support/postgres.js';
import { probePostgres, requireService } from '../../support/services.js';
import { alert, notification } from '../core/factories.js';
import { at, newIncident, newStepRun, storeContract, type StoreHarness } from './store-contract.js';

const server = await requireService('PostgreSQL at 127.0.0.1:5432', probePostgres);

/**
 * A fresh database per test, dropped by `dispose`; `create` adds CREATE DATABASE options (a
 * locale). Raw SQL goes through a connection of its own.
 */
async function pgHarness(create = ''): Promise<StoreHarness & { url: string }> {
  const database = await createTestDatabase(server.value, 'chatops_contract', create);
  return {
    url: database.url,
    migrations: postgresMigrations,
    open: () => PostgresStore.open(database.url, { poolSize: 4 }),
    sql: (query) => database.query(query),
    dispose: () => database.drop(),
  };
}

server.describe('PostgresStore', () => {
  storeContract('postgres', () => pgHarness());

  const cleanups: Array<() => Promise<void>> = [];
  /** A fresh database and `n` stores on it: `n` replicas, each with its own pool. */
  async function replicas(n: number, create = '') {
    const harness = await pgHarness(create);
    cleanups.push(() => harness.dispose());
    const stores = await Promise.all(Array.from({ length: n }, () => harness.open()));
    cleanups.push(async () => {
      for (const s of stores) await s.close();
    });
    return { harness, stores };
  }
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('has the same migration versions and names as SQLite', () => {
    expect(postgresMigrations.map((m) => [m.version, m.name])).toEqual(sqliteMigrations.map((m) => [m.version, m.name]));
  });

  it('serialises transactions across replicas: two pools interleaving read-then-increment lose no update', async () => {
    const { stores } = await replicas(2);
    const [a, b] = stores as [Store, Store];
    const incident = await a.transaction((t) => t.insertIncident(newIncident('shared')));
    const increment = (store: Store) =>
      store.transaction(async (t) => {
        const before = (await t.getIncident(incident.id))?.truncatedAlerts ?? NaN;
        await t.listAlerts(incident.id);
        await t.countPendingOutbox();
        await t.updateIncident(incident.id, { truncatedAlerts: before + 1 });
        return before;
      });
    const seen = await Promise.all(Array.from({ length: 30 }, (_, k) => increment(k % 2 === 0 ? a : b)));
    expect((await b.transaction((t) => t.getIncident(incident.id)))?.truncatedAlerts).toBe(30);
    expect(new Set(seen).size).toBe(30);
  });

  it('runs transactions of different groups at once; those of one group, and unscoped ones, wait for each other', async () => {
    const { stores } = await replicas(2);
    const [a, b] = stores as [Store, Store];
    const incident = await a.transaction((t) => t.insertIncident(newIncident('group-a')));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const finished: string[] = [];
    const track = <T>(name: string, p: Promise<T>) => p.then((v) => (finished.push(name), v));

    // Holds group A's lock (and the store lock, shared) until released, after a write of its own.
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const first = track('A first', a.transaction(async (t) => {
      await t.updateIncident(incident.id, { truncatedAlerts: 7 });
      holding();
      await gate;
    }, { group: 'group-a' }));
    await held;

    // Another group goes through while A's transaction is open.
    const other = await b.transaction((t) => t.insertIncident(newIncident('group-b')), { group: 'group-b' });
    expect(other.groupKey).toBe('group-b');
    // The same group, and a transaction without a scope, must wait for it.
    const sameGroup = track('A second', b.transaction(async (t) => (await t.getIncident(incident.id))?.truncatedAlerts, { group: 'group-a' }));
    const unscoped = track('unscoped', b.transaction(async (t) => (await t.getIncident(incident.id))?.truncatedAlerts));
    await new Promise((r) => setTimeout(r, 300));
    expect(finished).toEqual([]);

    release();
    await first;
    // Both waited, so both see the committed write.
    expect(await sameGroup).toBe(7);
    expect(await unscoped).toBe(7);
    expect(finished[0]).toBe('A first');
  });

  it('runs a read-only look beside an open group transaction, refuses writes in it, and an unscoped transaction waits for it', async () => {
    const { stores } = await replicas(2);
    const [a, b] = stores as [Store, Store];
    await a.transaction((t) => t.queueNotification({ groupKey: 'group-a', receivedAt: at(0), body: '{}' }));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    // A group transaction that has queued a second notification, not yet committed.
    const group = a.transaction(async (t) => {
      await t.queueNotification({ groupKey: 'group-a', receivedAt: at(1), body: '{}' });
      holding();
      await gate;
    }, { group: 'group-a' });
    await held;

    // The look goes through while the group's transaction is open, and sees what was committed.
    const seen = await b.transaction((t) => t.queuedNotifications(10), { readOnly: true });
    expect(seen.map((q) => q.receivedAt)).toEqual([at(0)]);
    await expect(b.transaction((t) => t.queueNotification({ groupKey: 'group-b', receivedAt: at(2), body: '{}' }), { readOnly: true })).rejects.toThrow(/read-only/);

    // A look holds the store lock shared: an unscoped transaction waits until it ends.
    let releaseLook!: () => void;
    const lookGate = new Promise<void>((resolve) => (releaseLook = resolve));
    release();
    await group;
    let looking!: () => void;
    const lookHeld = new Promise<void>((resolve) => (looking = resolve));
    const look = b.transaction(async (t) => {
      const rows = await t.queuedNotifications(10);
      looking();
      await lookGate;
      return rows.length;
    }, { readOnly: true });
    await lookHeld;
    let unscopedDone = false;
    const unscoped = a.transaction((t) => t.countQueuedNotifications()).then((c) => ((unscopedDone = true), c));
    await new Promise((r) => setTimeout(r, 300));
    expect(unscopedDone).toBe(false);
    releaseLook();
    expect(await look).toBe(2);
    expect((await unscoped).waiting).toBe(2);
  });

  it('stores an HA pair delivering many groups to three replicas at once: one incident, one card and one whole chain per group', async () => {
    const { stores } = await replicas(3);
    const groups = Array.from({ length: 12 }, (_, g) => `{}:{alertname="HighLatency", service="svc-${g}"}`);
    const targets = [{ platform: 'slack' as const, channel: 'C0ALERTS' }];
    // Each group fires, then gains an alert; every notification is delivered by two peers, to different replicas.
    const deliveries = groups.flatMap((groupKey, g) => {
      const first = notification([alert(`svc-${g}-1:80`)], { groupKey });
      const second = notification([alert(`svc-${g}-1:80`), alert(`svc-${g}-2:80`)], { groupKey });
      return [first, first, second, second].map((n, k) => ({ n, replica: (g + k) % 3, later: k >= 2 }));
    });
    const send = (d: (typeof deliveries)[number]) =>
      stores[d.replica]!.transaction((t) => recordNotification(t, d.n, at(d.later ? 10 : 0), targets), { group: d.n.groupKey });
    const early = await Promise.all(deliveries.filter((d) => !d.later).map(send));
    const late = await Promise.all(deliveries.filter((d) => d.later).map(send));
    expect(early.filter((r) => r.duplicate)).toHaveLength(groups.length);
    expect(late.filter((r) => r.duplicate)).toHaveLength(groups.length);

    const incidents = await stores[0]!.transaction((t) => t.listIncidents({ limit: 100 }));
    const outbox = await stores[2]!.transaction((t) => t.pendingOutbox(1000));
    expect(incidents.map((i) => i.groupKey).sort()).toEqual([...groups].sort());
    for (const incident of incidents) {
      const [alerts, trail] = await stores[1]!.transaction(async (t) => [await t.listAlerts(incident.id), await t.listAudit(incident.id)] as const);
      expect(alerts).toHaveLength(2);
      expect(trail.map((e) => e.kind)).toEqual(['alert.received', 'alert.joined']);
      expect(firstBrokenLink(trail)).toBeUndefined();
      expect(outbox.filter((m) => m.incidentId === incident.id && m.kind === 'card')).toHaveLength(1);
    }
  });

  it('recovers when another replica changes the schema under its prepared statements: one transaction fails, the next prepares again', async () => {
    const harness = await pgHarness();
    cleanups.push(() => harness.dispose());
    // One connection, so the second transaction runs on the session that prepared the statement.
    const store = await PostgresStore.open(harness.url, { poolSize: 1 });
    cleanups.push(() => store.close());
    const incident = await store.transaction((t) => t.insertIncident(newIncident('migrated')));
    expect((await store.transaction((t) => t.getIncident(incident.id)))?.id).toBe(incident.id);

    await harness.sql('ALTER TABLE incidents ADD COLUMN added_by_a_newer_release TEXT');
    await expect(store.transaction((t) => t.getIncident(incident.id))).rejects.toThrow(/cached plan/);
    expect((await store.transaction((t) => t.getIncident(incident.id)))?.id).toBe(incident.id);
    expect((await store.transaction((t) => t.getIncident(incident.id)))?.groupKey).toBe('migrated');
  });

  it('keeps one audit chain across replicas appending at once', async () => {
    const { stores } = await replicas(3);
    const incident = await stores[0]!.transaction((t) => t.insertIncident(newIncident('audited')));
    await Promise.all(
      Array.from({ length: 24 }, (_, k) =>
        stores[k % 3]!.transaction((t) => appendAudit(t, { at: at(k), incidentId: incident.id, actor: 'system', kind: 'test', text: `e${k}`, data: { k } })),
      ),
    );
    const trail = await stores[1]!.transaction((t) => t.listAudit(incident.id));
    expect(trail).toHaveLength(24);
    expect(firstBrokenLink(trail)).toBeUndefined();
  });

  it('migrates once when several replicas open an empty database at the same time', async () => {
    const { harness, stores } = await replicas(4);
    const rows = await harness.sql('SELECT version, name FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => [Number(r.version), r.name])).toEqual(postgresMigrations.map((m) => [m.version, m.name]));
    for (const s of stores) await expect(s.transaction((t) => t.countPendingOutbox())).resolves.toBe(0);
  });

  it('migration 7 keeps outbox rows, ids and the id sequence of an older database, and allows posts without an incident only', async () => {
    const harness = await pgHarness();
    cleanups.push(() => harness.dispose());
    await harness.sql('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of postgresMigrations.filter((m) => m.version < 7)) {
      await harness.sql(m.sql);
      await harness.sql(`INSERT INTO schema_migrations VALUES (${m.version}, 'v${m.version}', '2026-01-01T00:00:00Z')`);
    }
    await harness.sql(`INSERT INTO incidents (group_key, episode, status, severity, title, receiver, group_labels, common_labels, common_annotations, external_url, created_at, updated_at, last_seen_at)
                       VALUES ('g', 1, 'firing', 'critical', 't', 'r', '{}', '{}', '{}', '', 'a', 'a', 'a')`);
    await harness.sql(`INSERT INTO outbox (platform, channel, incident_id, kind, payload, state, next_attempt_at, created_at, sent_at)
                       VALUES ('slack', 'C1', 1, 'card', 'null', 'done', 'a', 'a', 'b')`);
    await harness.sql(`INSERT INTO outbox (platform, channel, incident_id, kind, payload, attempts, next_attempt_at, created_at, sending_since)
                       VALUES ('slack', 'C1', 1, 'reply', '{"text":"hi"}', 2, 'a', 'a', 'c')`);

    const store = await harness.open();
    cleanups.push(() => store.close());
    expect(await store.transaction((t) => t.pendingOutbox(10))).toEqual([
      { id: 2, platform: 'slack', channel: 'C1', incidentId: 1, kind: 'reply', payload: { text: 'hi' }, attempts: 2, nextAttemptAt: 'a', lastError: null, createdAt: 'a', sendingSince: 'c' },
    ]);
    const post = (incidentId: number | null, kind: 'post' | 'reply') =>
      store.transaction((t) => t.enqueueOutbox({ platform: 'slack', channel: 'C1', incidentId, kind, payload: { text: 'x' }, at: 'd' }));
    expect(await post(null, 'post')).toBe(3);
    await expect(post(1, 'post')).rejects.toThrow(/outbox_post_without_incident/);
    await expect(post(null, 'reply')).rejects.toThrow(/outbox_post_without_incident/);
  });

  it('sorts and compares text byte by byte as SQLite does, even in a database whose default collation is a language', async () => {
    const { harness, stores } = await replicas(1, `TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
    // The database's own text order is English: 'b' before 'C'.
    expect(await harness.sql(`SELECT 'b' < 'C' AS english`)).toEqual([{ english: true }]);
    const sqlite = new SqliteStore(':memory:');
    cleanups.push(() => sqlite.close());
    const script = async (t: StoreTx) => {
      const i = await t.insertIncident(newIncident('g'));
      for (const channel of ['b', 'C', 'a', 'Ä', '_x', '10', '9']) await t.saveCardMessage(i.id, { platform: 'slack', channel, messageId: channel, threadId: channel });
      for (const fingerprint of ['beta', 'Alpha', 'alpha']) await t.upsertAlert({ incidentId: i.id, fingerprint, status: 'firing', labels: {}, annotations: {}, startsAt: at(0), endsAt: null, generatorUrl: null });
      for (const job of ['backup', 'Archive', 'checklist']) await t.initJobRun(job, at(0));
      return {
        cards: (await t.listCardMessages(i.id)).map((c) => c.channel),
        alerts: (await t.listAlerts(i.id)).map((a) => a.fingerprint),
        jobs: (await t.listJobRuns()).map((j) => j.job),
      };
    };
    const expected = await sqlite.transaction(script);
    expect(expected.cards).toEqual(['10', '9', 'C', '_x', 'a', 'b', 'Ä']);
    expect(await stores[0]!.transaction(script)).toEqual(expected);
  });

  it('reports the same orphaned runs as SQLite, and records replica heartbeats', async () => {
    const { harness, stores } = await replicas(1);
    const sqlite = new SqliteStore(':memory:');
    cleanups.push(() => sqlite.close());
    const script = async (t: StoreTx) => {
      const i = await t.insertIncident(newIncident('g'));
      const run = async (step: string, runner: string | undefined) => {
        const r = await t.insertStepRun(newStepRun(i.id, { step, state: 'approved' }));
        await t.transitionStepRun(r.id, ['approved'], 'running', at(5), { startedAt: at(5), ...(runner ? { runner } : {}) });
        return r.id;
      };
      await t.touchReplica('alive', at(0));
      await t.touchReplica('alive', at(100));
      await t.touchReplica('dead', at(10));
      const ids = { alive: await run('s1', 'alive'), dead: await run('s2', 'dead'), none: await run('s3', undefined), unknown: await run('s4', 'never-seen') };
      // Finishing a run keeps its runner (COALESCE), and finished runs are never orphans.
      const done = await run('s5', 'dead');
      await t.transitionStepRun(done, ['running'], 'succeeded', at(6), { finishedAt: at(6) });
      return {
        ids,
        orphans: (await t.orphanedRuns(at(50), 10)).map((r) => [r.step, r.runner]),
        limited: (await t.orphanedRuns(at(50), 1)).map((r) => r.step),
        done: await t.getStepRun(done),
      };
    };
    const expected = await sqlite.transaction(script);
    expect(expected.orphans).toEqual([
      ['s2', 'dead'],
      ['s3', null],
      ['s4', 'never-seen'],
    ]);
    expect(expected.done?.runner).toBe('dead');
    expect(await stores[0]!.transaction(script)).toEqual(expected);
    expect(await harness.sql('SELECT id, started_at, seen_at FROM replicas ORDER BY id')).toEqual([
      { id: 'alive', started_at: at(0), seen_at: at(100) },
      { id: 'dead', started_at: at(10), seen_at: at(10) },
    ]);
  });

  it('returns its connections after failing transactions, refuses a transaction object used after its end, and closes once', async () => {
    const { stores } = await replicas(1);
    const store = stores[0]!;
    // More failures than the pool (4) has connections: each must give its connection back.
    for (let k = 0; k < 10; k += 1) {
      await expect(store.transaction((t) => t.insertNotification(`k${k}`, 999, at(0)))).rejects.toThrow(/foreign key/);
    }
    let kept: StoreTx | undefined;
    await store.transaction(async (t) => {
      kept = t;
      await t.countPendingOutbox();
    });
    await expect(kept!.countPendingOutbox()).rejects.toThrow(/already ended/);
    await expect(store.ping()).resolves.toBeUndefined();
    await store.close();
    await store.close();
    await expect(store.transaction((t) => t.countPendingOutbox())).rejects.toThrow();
  });

  it('ends a transaction that stalls while holding the store lock, so the other replicas go on', async () => {
    const harness = await pgHarness();
    cleanups.push(() => harness.dispose());
    const [stalled, other] = await Promise.all([PostgresStore.open(harness.url, { stalledTransactionMs: 300 }), harness.open()]);
    cleanups.push(async () => {
      await stalled.close();
      await other.close();
    });
    const incident = await other.transaction((t) => t.insertIncident(newIncident('g')));
    let holding!: () => void;
    const locked = new Promise<void>((resolve) => (holding = resolve));
    const stuck = stalled.transaction(async (t) => {
      await t.updateIncident(incident.id, { title: 'never committed' });
      holding();
      await new Promise((resolve) => setTimeout(resolve, 1500)); // against the port's rules: waits for no store call
      await t.countPendingOutbox();
    });
    await locked;
    // Waits for the lock, which the server frees when it ends the stalled session.
    await other.transaction((t) => t.updateIncident(incident.id, { severity: 'critical' }));
    await expect(stuck).rejects.toThrow();
    expect(await other.transaction((t) => t.getIncident(incident.id))).toMatchObject({ title: incident.title, severity: 'critical' });
    // The stalled store's broken connection was dropped; it works again.
    await expect(stalled.transaction((t) => t.countPendingOutbox())).resolves.toBe(0);
  });

  it('fails to open, and leaves nothing behind, when the database does not exist', async () => {
    await expect(PostgresStore.open(postgresUrl(server.value, `chatops_missing_${randomBytes(4).toString('hex')}`))).rejects.toThrow(/does not exist/);
  });
});
