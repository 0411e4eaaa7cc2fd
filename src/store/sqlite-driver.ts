/* eslint-disable @typescript-eslint/require-await -- better-sqlite3 is synchronous; these methods are async to implement the SqlDriver that PostgreSQL shares. */
import type Database from 'better-sqlite3';
import type { Row } from './rows.js';
import type { Dialect, SqlDriver } from './sql-driver.js';

/**
 * SqlTx's statements on better-sqlite3's synchronous API (SQLite takes `?` placeholders as they are).
 * Statements are prepared once per SQL text and kept: preparing on every call was 6 to 10 % of the
 * CPU while ingesting. The texts are SqlTx's fixed statements, plus one per shape of incident patch
 * and per number of states a transition starts from, so the cache stays small without eviction.
 */
export class SqliteDriver implements SqlDriver {
  readonly dialect: Dialect = { escalationLevel: "json_extract(escalation, '$.level')" };
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  async all(sql: string, params: unknown[] = []) {
    return this.statement(sql).all(...params) as Row[];
  }

  async get(sql: string, params: unknown[] = []) {
    return this.statement(sql).get(...params) as Row | undefined;
  }

  async run(sql: string, params: unknown[] = []) {
    return this.statement(sql).run(...params).changes;
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
