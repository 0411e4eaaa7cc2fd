import type { Logger } from 'pino';
import type { DatabaseConfig } from '../settings/config.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from '../core/ports/store.js';

/** Opens the configured store, migrated. The PostgreSQL driver is loaded only when it is used. */
export async function openStore(database: DatabaseConfig, log: Pick<Logger, 'error'> | undefined, options: { sqliteWalLimitMb: number }): Promise<Store> {
  // Group commit: under load, one sync for all the notifications that arrive together; WAL
  // checkpoints in a thread of their own, off the event loop.
  if (database.kind === 'sqlite') {
    return new SqliteStore(database.path, {
      groupCommit: true,
      checkpointThread: {
        walLimitBytes: options.sqliteWalLimitMb * 1024 * 1024,
        onFailure: (error) => log?.error({ err: error }, 'WAL checkpoint thread failed; the store checkpoints on its own thread again'),
      },
    });
  }
  const { PostgresStore } = await import('./postgres.js');
  return PostgresStore.open(database.url);
}
