import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { PostgresLeadership } from '../../src/store/postgres-leadership.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { probePostgres, requireService } from '../support/services.js';

const server = await requireService('PostgreSQL at 127.0.0.1:5432', probePostgres);

const CHECK_MS = 100;
const log = pino({ level: 'silent' });

async function eventually(what: string, check: () => boolean, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

server.describe('PostgresLeadership', () => {
  let db: TestDatabase | undefined;
  const running: PostgresLeadership[] = [];
  const elect = async (n: number) => {
    db = await createTestDatabase(server.value, 'chatops_leader');
    const url = db.url;
    const changes: Array<Array<boolean>> = [];
    const members = Array.from({ length: n }, (_, i) => {
      changes.push([]);
      return new PostgresLeadership({ url, log, checkMs: CHECK_MS, onChange: (leader) => changes[i]?.push(leader) });
    });
    running.push(...members);
    await Promise.all(members.map((m) => m.start()));
    return { members, changes, leaders: () => members.filter((m) => m.isLeader()) };
  };

  afterEach(async () => {
    await Promise.all(running.splice(0).map((m) => m.stop()));
    await db?.drop();
    db = undefined;
  });

  it('elects exactly one of three, and keeps it', async () => {
    const { leaders, changes } = await elect(3);
    expect(leaders()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, CHECK_MS * 5));
    expect(leaders()).toHaveLength(1);
    expect(changes.flat()).toEqual([true]);
  });

  it('hands over to another member within a couple of checks when the leader stops', async () => {
    const { members, leaders } = await elect(3);
    const first = leaders()[0] as PostgresLeadership;
    await first.stop();
    const ms = await eventually('a new leader', () => members.some((m) => m !== first && m.isLeader()));
    expect(ms).toBeLessThan(CHECK_MS * 10);
    expect(leaders()).toHaveLength(1);
    expect(first.isLeader()).toBe(false);
  });

  it('stops leading when the server ends its session, and another member takes over', async () => {
    const { members, leaders } = await elect(2);
    const first = leaders()[0] as PostgresLeadership;
    // What a server restart or a failover does to the leader's connection.
    await db?.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'chatops-bot leader election' AND datname = current_database() AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)");
    await eventually('the old leader to step down', () => !first.isLeader());
    await eventually('a new leader', () => leaders().length === 1);
    // The old leader may win the lock back after reconnecting; what matters is that there is one.
    expect(members.filter((m) => m.isLeader())).toHaveLength(1);
  });
});
