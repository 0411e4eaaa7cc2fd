import os from 'node:os';
import { randomBytes } from 'node:crypto';

/** How this process shares the store with other replicas of the bot. */
export interface ReplicaSettings {
  /** Recorded on the step runs this process claims, and in its heartbeat. */
  id: string;
  /**
   * With several replicas (PostgreSQL): a running step whose replica has sent no heartbeat for this
   * long is reported as interrupted. Unset (one process on SQLite): the steps still running when
   * the bot starts are, since no other process can be running them.
   */
  orphanAfterMs?: number | undefined;
}

/** A replica id unique across hosts and restarts: host, process and a random suffix. */
export function newReplicaId(): string {
  return `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The single-process default. */
export const singleProcess = (): ReplicaSettings => ({ id: newReplicaId() });
