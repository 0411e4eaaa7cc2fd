import type { Row } from './rows.js';

/**
 * The few SQL fragments in which SQLite and PostgreSQL really differ. Everything else the store
 * runs is written once, in the SQL both engines accept.
 */
export interface Dialect {
  /**
   * The numeric `level` of an incident's `escalation` column (JSON kept as text on both engines),
   * NULL when there is none: SQLite reads it with json_extract, PostgreSQL with a cast to json.
   */
  readonly escalationLevel: string;
}

/**
 * What SqlTx needs of a database connection inside one transaction. SQL comes with `?`
 * placeholders, one per element of `params` (a `?` inside a quoted literal is text, and
 * PostgreSQL's `?` JSON operators are not available); new ids come back through
 * `INSERT … RETURNING`, which both engines support.
 */
export interface SqlDriver {
  readonly dialect: Dialect;
  all(sql: string, params?: unknown[]): Promise<Row[]>;
  /** The first row, if any. */
  get(sql: string, params?: unknown[]): Promise<Row | undefined>;
  /** Runs a write; returns how many rows it changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
}
