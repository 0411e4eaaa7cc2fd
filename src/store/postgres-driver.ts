import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Row } from './rows.js';
import type { Dialect, SqlDriver } from './sql-driver.js';

interface Prepared {
  name: string;
  text: string;
  placeholders: number;
}

/**
 * SqlTx's statements as PostgreSQL takes them, by SQL text: numbered placeholders, and a name, so
 * that each connection parses and plans a statement once and then only binds and runs it (unnamed,
 * every call was parsed and planned again: most of the server's time while ingesting). The texts
 * are SqlTx's fixed statements and a few shapes of them, so the map stays small.
 */
const prepared = new Map<string, Prepared>();

function prepare(sql: string, count: number): Prepared {
  let statement = prepared.get(sql);
  if (!statement) {
    const text = numberPlaceholders(sql, count);
    statement = { name: `chatops_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text, placeholders: count };
    prepared.set(sql, statement);
  }
  if (statement.placeholders !== count) throw new Error(`SQL has ${statement.placeholders} placeholders for ${count} parameters: ${sql}`);
  return statement;
}

/**
 * SqlTx's statements on one PostgreSQL transaction's own client. PostgreSQL numbers its
 * placeholders, so each `?` becomes `$1`, `$2`, … on the way.
 */
export class PostgresDriver implements SqlDriver {
  // The column is JSON as text (as in SQLite); the cast reads the level where SQLite uses json_extract.
  readonly dialect: Dialect = { escalationLevel: "(escalation::json ->> 'level')::numeric" };
  private ended = false;

  constructor(private readonly client: pg.PoolClient) {}

  /** Called when the transaction is over: the client goes back to the pool, maybe into another transaction. */
  end(): void {
    this.ended = true;
  }

  async all(sql: string, params: unknown[] = []) {
    return (await this.query(sql, params)).rows;
  }

  async get(sql: string, params: unknown[] = []) {
    return (await this.query(sql, params)).rows[0];
  }

  async run(sql: string, params: unknown[] = []) {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  private async query(sql: string, params: unknown[]): Promise<pg.QueryResult<Row>> {
    // A callback that kept `tx` and used it later would otherwise run outside any transaction, or inside someone else's.
    if (this.ended) throw new Error('store transaction already ended: statements must run inside its callback');
    const { name, text } = prepare(sql, params.length);
    return this.client.query<Row>({ name, text, values: params });
  }
}

/**
 * Rewrites `?` placeholders to `$1`…`$n`, leaving quoted literals alone (a '' inside one reads as two
 * adjacent literals, which is just as good here), and fails when their number is not `count`, before
 * any value could be bound to the wrong placeholder.
 */
export function numberPlaceholders(sql: string, count: number): string {
  let n = 0;
  const numbered = sql.replace(/'[^']*'|\?/g, (match) => (match === '?' ? `$${++n}` : match));
  if (n !== count) throw new Error(`SQL has ${n} placeholders for ${count} parameters: ${sql}`);
  return numbered;
}
