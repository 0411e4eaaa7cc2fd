/**
 * Shared by the operator commands `audit:verify` and `audit:export`: argument and path handling,
 * and read-only access to the bot's SQLite file (and, for audit:verify, to a PostgreSQL store).
 *
 * The commands are tools outside the bot's core, so they use the SQLite driver directly instead of
 * adding "list every audit event" to the Store port: the database is opened read-only and must
 * already exist (a mistyped path never leaves an empty database behind), and every read of one
 * run happens in one read transaction, so a bot that keeps writing meanwhile is seen at a single
 * point in time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import Database from 'better-sqlite3';
import { loadConfig, type Config } from '../settings/config.js';
import type { AuditEvent } from '../core/domain.js';
import { BotError } from '../domain/errors.js';

/** Exit codes shared by the audit commands. */
export const EXIT = { ok: 0, broken: 1, usage: 2 } as const;

/** A problem with the invocation or with reading/writing files: exit code 2, message for a person. */
export class CliError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** A stored audit row as the commands see it; `data` stays the raw column text, parsed on demand. */
export type AuditRow = Omit<AuditEvent, 'data'> & {
  /** The `data` column exactly as stored (JSON text; an edit could have made it invalid). */
  rawData: string;
};

export interface AuditSnapshot {
  rows: AuditRow[];
  /** The highest seq SQLite ever handed out for the table (`sqlite_sequence`); 0 when none. */
  sequenceCounter: number;
}

const text = (value: unknown): string => {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value === null || value === undefined) return '';
  // A BLOB where text belongs: show it as text so the hash check reports the record, not a crash.
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return JSON.stringify(value) ?? '';
};

function toRow(r: Record<string, unknown>): AuditRow {
  return {
    seq: Number(r.seq),
    at: text(r.at),
    incidentId: r.incident_id === null || r.incident_id === undefined ? null : Number(r.incident_id),
    actor: text(r.actor),
    kind: text(r.kind),
    text: text(r.text),
    rawData: text(r.data),
    prevHash: text(r.prev_hash),
    hash: text(r.hash),
  };
}

/** The row as an AuditEvent, or undefined when its `data` column is not JSON (then the record was edited). */
export function toAuditEvent(row: AuditRow): AuditEvent | undefined {
  let data: unknown;
  try {
    data = JSON.parse(row.rawData);
  } catch {
    return undefined;
  }
  const { rawData: _rawData, ...rest } = row;
  return { ...rest, data: data as AuditEvent['data'] };
}

/**
 * Every audit row of a PostgreSQL store, in seq order, as one snapshot (a read-only REPEATABLE
 * READ transaction, so a bot writing meanwhile is seen at a single point in time).
 */
export async function readAuditPostgres(url: string): Promise<AuditRow[]> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw new CliError(`cannot connect to the PostgreSQL database: ${(error as Error).message}`, { cause: error });
  }
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const table = await client.query<{ t: string | null }>(`SELECT to_regclass('audit_events')::text AS t`);
    if (!table.rows[0]?.t) throw new CliError(`the PostgreSQL database is not the bot's database: it has no audit_events table`);
    const rows = await client.query<Record<string, unknown>>('SELECT * FROM audit_events ORDER BY seq');
    await client.query('COMMIT');
    return rows.rows.map(toRow);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot read the audit events: ${(error as Error).message}`, { cause: error });
  } finally {
    await client.end();
  }
}

/**
 * The SQLite file to read: `--db` when given, else the bot's own `DATABASE_URL` (through
 * `loadConfig`, so the path is resolved exactly as the bot resolves it).
 */
export function databasePath(dbOption: string | undefined, config: () => Config): string {
  const database = dbOption === undefined ? config().database : undefined;
  if (database?.kind === 'postgres') throw new CliError('DATABASE_URL names a PostgreSQL store; these commands read SQLite files: pass --db <path> of a SQLite copy');
  const file = dbOption ?? (database?.kind === 'sqlite' ? database.path : '');
  if (file === '' || file === ':memory:') throw new CliError(`an in-memory database has no audit trail to read; pass --db <path> or set DATABASE_URL=sqlite:<path>`);
  return path.resolve(file);
}

/** `loadConfig`, with its problems turned into a usage error (exit 2) instead of a stack trace. */
export function configFrom(environment: Record<string, string | undefined>): Config {
  try {
    return loadConfig(environment);
  } catch (error) {
    if (error instanceof BotError) throw new CliError(error.message, { cause: error });
    throw error;
  }
}

/** Opens the bot's database read-only; never creates it. */
export function openReadOnly(file: string): Database.Database {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new CliError(`database file not found: ${file} (set DATABASE_URL=sqlite:<path> or pass --db <path>)`);
  }
  if (!stat.isFile()) throw new CliError(`not a database file: ${file}`);
  let db: Database.Database;
  try {
    // fileMustExist as well: between the check above and this open, the file could have gone.
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new CliError(`cannot open ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    // Waits for a checkpoint or recovery by the running bot instead of failing at once.
    db.pragma('busy_timeout = 5000');
    const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'`).get();
    if (table === undefined) throw new CliError(`${file} is not the bot's database: it has no audit_events table`);
  } catch (error) {
    db.close();
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return db;
}

export interface AuditFilter {
  /** A positive id, or null for the events without an incident; undefined for all. */
  incidentId?: number | null;
}

/** Every audit row (optionally of one incident) in seq order, and the table's sequence counter, as one snapshot. */
export function readAudit(db: Database.Database, filter: AuditFilter = {}): AuditSnapshot {
  try {
    return db.transaction(() => {
      const rows = (
        filter.incidentId === undefined
          ? db.prepare('SELECT * FROM audit_events ORDER BY seq').all()
          : db.prepare('SELECT * FROM audit_events WHERE incident_id IS ? ORDER BY seq').all(filter.incidentId)
      ) as Array<Record<string, unknown>>;
      // sqlite_sequence exists once any AUTOINCREMENT table received a row.
      const hasSequence = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'`).get() !== undefined;
      const counter = hasSequence
        ? (db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'`).get() as { seq: number } | undefined)
        : undefined;
      return { rows: rows.map(toRow), sequenceCounter: Number(counter?.seq ?? 0) };
    })();
  } catch (error) {
    throw new CliError(`cannot read the audit events: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The audit rows (optionally of one incident) in seq order, one at a time, so an export of a large
 * trail needs little memory. One SELECT is one consistent snapshot, even while the bot writes.
 */
export function* iterateAudit(db: Database.Database, filter: AuditFilter = {}): Generator<AuditRow> {
  let rows: IterableIterator<unknown>;
  try {
    rows =
      filter.incidentId === undefined
        ? db.prepare('SELECT * FROM audit_events ORDER BY seq').iterate()
        : db.prepare('SELECT * FROM audit_events WHERE incident_id IS ? ORDER BY seq').iterate(filter.incidentId);
  } catch (error) {
    throw new CliError(`cannot read the audit events: ${(error as Error).message}`, { cause: error });
  }
  try {
    while (true) {
      let next: IteratorResult<unknown>;
      try {
        next = rows.next();
      } catch (error) {
        throw new CliError(`cannot read the audit events: ${(error as Error).message}`, { cause: error });
      }
      if (next.done) return;
      yield toRow(next.value as Record<string, unknown>);
    }
  } finally {
    // A consumer that stops early (a write failed) must release the statement before the database closes.
    rows.return?.();
  }
}

/** `util.parseArgs` with its errors (unknown option, missing value) turned into usage errors. */
export function parseCommandLine<T extends ParseArgsConfig['options']>(args: string[], options: T, usage: string) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw new CliError(`${(error as Error).message}\n\n${usage}`);
    throw error;
  }
}

/** Prints a usage or I/O error the same way in both commands and sets exit code 2. */
export function reportFailure(command: string, error: unknown): void {
  const message = error instanceof CliError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`${command}: ${message.trimEnd()}\n`);
  process.exitCode = EXIT.usage;
}
