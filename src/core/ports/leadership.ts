/**
 * Which replica runs the once-only timers (scheduled jobs, escalations). With one process (SQLite)
 * it is always this one; on PostgreSQL an advisory lock elects one replica among several.
 */
export interface Leadership {
  isLeader(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The single-process case: always the leader. */
export const alwaysLeader: Leadership = {
  isLeader: () => true,
  start: () => Promise.resolve(),
  stop: () => Promise.resolve(),
};
