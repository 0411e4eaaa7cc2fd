import type { DatabaseConfig } from '../config.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Opens the configured store, migrated. The PostgreSQL driver is loaded only when it is used. */
export async function openStore(database: DatabaseConfig): Promise<Store> {
  // Group commit: under load, one sync for all the notifications that arrive together.
  if (database.kind === 'sqlite') return new SqliteStore(database.path, { groupCommit: true });
  const { PostgresStore } = await import('./postgres.js');
  return PostgresStore.open(database.url);
}
