import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where the local PostgreSQL is (from `probePostgres`): trust auth, no password. */
export interface PostgresServer {
  user: string;
  host: string;
  port: number;
}

export const postgresUrl = (server: PostgresServer, database: string): string =>
  `postgres://${encodeURIComponent(server.user)}@${server.host}:${server.port}/${database}`;

/** Runs one statement through a short-lived connection to the `postgres` maintenance database. */
export async function maintenance(server: PostgresServer, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl(server, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Runs a query through a connection of its own (opened on first use). */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Closes that connection and drops the database, whoever is still connected. */
  drop(): Promise<void>;
}

/** A fresh, empty database named `<prefix>_<random hex>`; `options` are CREATE DATABASE options (a locale). */
export async function createTestDatabase(server: PostgresServer, prefix: string, options = ''): Promise<TestDatabase> {
  // Random, and made of [0-9a-f] only, so it is safe to put into the statements as it is.
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await maintenance(server, `CREATE DATABASE ${name} ${options}`);
  const url = postgresUrl(server, name);
  let client: Promise<pg.Client> | undefined;
  const connection = () =>
    (client ??= (async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    })());
  return {
    name,
    url,
    async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
      return (await (await connection()).query<R>(sql, params)).rows;
    },
    async drop() {
      if (client) await (await client).end();
      await maintenance(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
