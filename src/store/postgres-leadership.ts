import pg from 'pg';
import type { Logger } from 'pino';
import type { Leadership } from '../core/ports/leadership.js';

/**
 * The leader's advisory lock, in PostgreSQL's two-key space ('chat', 1), which never meets the
 * one-key locks the store takes for its transactions and migrations.
 */
const LEADER_LOCK = [0x63686174, 1] as const;

export interface PostgresLeadershipOptions {
  url: string;
  log: Logger;
  /** How often a follower tries to take the lock, and the leader checks it still holds it. */
  checkMs?: number;
  /** Called when this replica starts or stops leading. */
  onChange?: (leader: boolean) => void;
}

/**
 * Elects one leader among the replicas sharing a PostgreSQL store: the replica holding a
 * session-level advisory lock on a connection of its own. The lock lives and dies with that
 * connection, so when the leader exits or crashes the server frees it, and another replica takes it
 * at its next check.
 *
 * A leader cut off from the server must stop leading before the server frees the lock for another:
 * its check has a timeout shorter than the keepalive the session asks the server to apply
 * (a dead client is noticed after about 5 + 3 × 2 s), and a failed check ends its leadership.
 */
export class PostgresLeadership implements Leadership {
  private client: pg.Client | undefined;
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private stopped = true;
  private readonly checkMs: number;

  constructor(private readonly o: PostgresLeadershipOptions) {
    this.checkMs = o.checkMs ?? 1000;
  }

  isLeader(): boolean {
    return this.leader;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.runCheck();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.checking;
    const client = this.client;
    this.client = undefined;
    if (client) {
      // Ending the session frees the lock; unlocking first lets a follower take it at once.
      if (this.leader) await client.query('SELECT pg_advisory_unlock($1, $2)', [...LEADER_LOCK]).catch(() => undefined);
      await client.end().catch(() => undefined);
    }
    this.setLeader(false);
  }

  private runCheck(): Promise<void> {
    this.checking = this.check().finally(() => {
      this.checking = undefined;
      if (!this.stopped) {
        this.timer = setTimeout(() => void this.runCheck(), this.checkMs);
        this.timer.unref();
      }
    });
    return this.checking;
  }

  private async check(): Promise<void> {
    try {
      const client = this.client ?? (await this.connect());
      if (this.leader) {
        await client.query('SELECT 1');
        return;
      }
      const result = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [...LEADER_LOCK]);
      if (result.rows[0]?.locked === true) this.setLeader(true);
    } catch (error) {
      this.o.log.warn({ err: error, wasLeader: this.leader }, 'leader election: the database did not answer; not leading until it does');
      this.drop();
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.o.url,
      // Shorter than the server's keepalive below, so this replica gives up first.
      query_timeout: Math.max(2000, this.checkMs * 2),
      connectionTimeoutMillis: 5000,
      keepAlive: true,
      application_name: 'chatops-bot leader election',
    });
    client.on('error', (error) => {
      this.o.log.warn({ err: error }, 'leader election connection failed');
      this.drop();
    });
    await client.connect();
    this.client = client;
    await client.query('SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3');
    return client;
  }

  /** Forgets a broken connection (and with it the lock, which the server frees). */
  private drop(): void {
    const client = this.client;
    this.client = undefined;
    this.setLeader(false);
    client?.end().catch(() => undefined);
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.o.log.info({ leader }, leader ? 'this replica now leads (outbox, escalations, scheduled jobs)' : 'this replica no longer leads');
    this.o.onChange?.(leader);
  }
}
