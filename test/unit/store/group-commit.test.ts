import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommit, type BatchConnection } from '../../../src/store/group-commit.js';

/** A real SQLite connection that counts its commits, and can be told to fail the next one. */
function countingConnection(db: Database.Database) {
  const seen = { commits: 0, failNextCommit: false };
  const connection: BatchConnection = {
    exec(sql: string) {
      if (sql === 'COMMIT') {
        if (seen.failNextCommit) {
          seen.failNextCommit = false;
          throw new Error('disk I/O error (injected)');
        }
        seen.commits += 1;
      }
      return db.exec(sql);
    },
    get inTransaction() {
      return db.inTransaction;
    },
  };
  return { connection, seen };
}

describe('GroupCommit', () => {
  let db: Database.Database;
  const values = () => (db.prepare('SELECT v FROM t ORDER BY rowid').all() as Array<{ v: number }>).map((r) => r.v);
  // Transactions are async callbacks; these run synchronous statements, as the SQLite store's do.
  const insert = (v: number) => () => {
    db.prepare('INSERT INTO t (v) VALUES (?)').run(v);
    return Promise.resolve(v);
  };

  beforeEach(() => {
    db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER UNIQUE)');
  });
  afterEach(() => db.close());

  it('commits the first transaction of a turn at once, and those queued after it in the same turn together, each settled after its commit', async () => {
    const { connection, seen } = countingConnection(db);
    const commits = new GroupCommit(connection);
    const settledAt: number[] = [];
    const all = Array.from({ length: 20 }, (_, i) => commits.run(insert(i)).then((v) => (settledAt.push(seen.commits), v)));
    expect(await Promise.all(all)).toEqual([...Array(20).keys()]);
    expect(seen.commits).toBe(2);
    expect(settledAt).toEqual([1, ...Array<number>(19).fill(2)]);
    expect(values()).toEqual([...Array(20).keys()]);
  });

  it('without batching, commits every transaction at once and alone', async () => {
    const { connection, seen } = countingConnection(db);
    const commits = new GroupCommit(connection, { batch: false });
    await Promise.all(Array.from({ length: 5 }, (_, i) => commits.run(insert(i))));
    expect(seen.commits).toBe(5);
    expect(values()).toEqual([0, 1, 2, 3, 4]);
  });

  it('runs each transaction alone and in order: read-then-write sequences lose nothing', async () => {
    db.exec('INSERT INTO t (v) VALUES (0)');
    const commits = new GroupCommit(countingConnection(db).connection);
    const increment = async () => {
      const { v } = db.prepare('SELECT MAX(v) AS v FROM t').get() as { v: number };
      await Promise.resolve();
      db.prepare('INSERT INTO t (v) VALUES (?)').run(v + 1);
    };
    await Promise.all(Array.from({ length: 50 }, () => commits.run(increment)));
    expect(values()).toEqual([...Array(51).keys()]);
  });

  it('rolls back a throwing transaction to its savepoint and commits the others', async () => {
    const { connection, seen } = countingConnection(db);
    const commits = new GroupCommit(connection);
    const failing = async () => {
      db.prepare('INSERT INTO t (v) VALUES (?)').run(100);
      await Promise.resolve();
      db.prepare('INSERT INTO t (v) VALUES (?)').run(1); // duplicate of the first transaction's value
    };
    const results = await Promise.allSettled([commits.run(insert(0)), commits.run(insert(1)), commits.run(failing), commits.run(insert(2))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/UNIQUE constraint failed/);
    expect(values()).toEqual([0, 1, 2]);
    expect(seen.commits).toBe(2);
    expect(db.inTransaction).toBe(false);
  });

  it('fails every transaction of a batch whose commit fails, writes nothing, and carries on', async () => {
    const { connection, seen } = countingConnection(db);
    const commits = new GroupCommit(connection);
    const first = commits.run(insert(0));
    seen.failNextCommit = true;
    const results = await Promise.allSettled([first, commits.run(insert(1)), commits.run(insert(2))]);
    // The first went alone (and failed alone); the two after it shared the next, good, commit.
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(values()).toEqual([1, 2]);
    expect(db.inTransaction).toBe(false);
    expect(await commits.run(insert(3))).toBe(3);
    expect(values()).toEqual([1, 2, 3]);
  });

  it('fails the whole batch when SQLite ends the transaction itself, without leaving it open', async () => {
    const commits = new GroupCommit(countingConnection(db).connection);
    const endsTransaction = () => {
      db.exec('ROLLBACK'); // what SQLite does on its own after a full disk or an I/O error
      return Promise.reject(new Error('database or disk is full'));
    };
    const results = await Promise.allSettled([commits.run(insert(0)), commits.run(insert(1)), commits.run(endsTransaction), commits.run(insert(2))]);
    // The first committed alone; the batch after it went with the transaction SQLite ended.
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    expect(values()).toEqual([0]);
    expect(await commits.run(insert(4))).toBe(4);
  });

  it('is idle once everything queued has settled', async () => {
    const commits = new GroupCommit(countingConnection(db).connection);
    const pending = commits.run(insert(1));
    await commits.idle();
    await expect(pending).resolves.toBe(1);
  });

  it('hold: lets the transaction in progress commit, starts none until released, then commits what queued together', async () => {
    const { connection, seen } = countingConnection(db);
    const commits = new GroupCommit(connection);
    let reachedAwait!: () => void;
    let finishWork!: () => void;
    const reached = new Promise<void>((resolve) => (reachedAwait = resolve));
    // A transaction that is inside its batch, between two statements, when the hold comes.
    const inProgress = commits.run(async () => {
      db.prepare('INSERT INTO t (v) VALUES (?)').run(0);
      reachedAwait();
      await new Promise<void>((resolve) => (finishWork = resolve));
      return 0;
    });
    await reached;
    let holding = false;
    const held = commits.hold().then((release) => ((holding = true), release));
    await new Promise((resolve) => setImmediate(resolve));
    expect(holding).toBe(false);
    finishWork();
    const release = await held;
    await expect(inProgress).resolves.toBe(0);
    expect(seen.commits).toBe(1);

    const queued = Array.from({ length: 5 }, (_, i) => commits.run(insert(i + 1)));
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(seen.commits).toBe(1);
    expect(values()).toEqual([0]);
    release();
    expect(await Promise.all(queued)).toEqual([1, 2, 3, 4, 5]);
    expect(seen.commits).toBe(2);
    expect(values()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  describe('with a sync after the commit (durable)', () => {
    /** A disk sync the test finishes by hand: how many were asked for, and a way to end the oldest. */
    function manualSync() {
      const waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
      return {
        durable: () => new Promise<void>((resolve, reject) => waiting.push({ resolve, reject })),
        asked: () => waiting.length,
        finish: () => waiting.shift()?.resolve(),
        fail: (message: string) => waiting.shift()?.reject(new Error(message)),
      };
    }
    const settledFlags = <T>(promises: Array<Promise<T>>) => {
      const settled = promises.map(() => false);
      promises.forEach((p, i) => void p.then(() => (settled[i] = true), () => (settled[i] = true)));
      return settled;
    };
    const turn = () => new Promise((resolve) => setImmediate(resolve));

    it('answers nobody before the sync, and commits the next batch while it waits', async () => {
      const { connection, seen } = countingConnection(db);
      const disk = manualSync();
      const commits = new GroupCommit(connection, { batch: true, durable: disk.durable });
      const first = commits.run(insert(1));
      await turn();
      const second = commits.run(insert(2));
      await turn();
      await turn();
      const settled = settledFlags([first, second]);
      // Both are committed (a second connection could read them) and each waits for its sync.
      expect(seen.commits).toBe(2);
      expect(values()).toEqual([1, 2]);
      expect(disk.asked()).toBe(2);
      await turn();
      expect(settled).toEqual([false, false]);
      disk.finish();
      await expect(first).resolves.toBe(1);
      expect(settled).toEqual([true, false]);
      disk.finish();
      await expect(second).resolves.toBe(2);
    });

    it('fails the callers of a commit whose sync fails, saying so, and carries on', async () => {
      const disk = manualSync();
      const commits = new GroupCommit(countingConnection(db).connection, { batch: true, durable: disk.durable });
      const lost = commits.run(insert(1));
      await turn();
      disk.fail('EIO: i/o error, fdatasync');
      await expect(lost).rejects.toThrow('the commit could not be synced to disk: EIO: i/o error, fdatasync');
      const next = commits.run(insert(2));
      await turn();
      disk.finish();
      await expect(next).resolves.toBe(2);
    });

    it('is idle only once the last sync has answered its callers', async () => {
      const disk = manualSync();
      const commits = new GroupCommit(countingConnection(db).connection, { batch: true, durable: disk.durable });
      const pending = commits.run(insert(1));
      let idle = false;
      const waiting = commits.idle().then(() => (idle = true));
      await turn();
      await turn();
      expect(idle).toBe(false);
      disk.finish();
      await waiting;
      await expect(pending).resolves.toBe(1);
    });
  });
});
