/**
 * `npm run audit:export -- [--db <path>] [--out <file>] [--incident <id>|none] [--since <time>]`:
 * writes the stored audit trail as JSON Lines, one event per line in seq order, with secrets
 * redacted (see src/cli/audit-jsonl.ts for what redaction means for the exported hashes).
 * Exit 0 when written, 2 on a usage or I/O error (then --out is left untouched).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createRedactor } from '../domain/redact.js';
import { exportedEvent } from './audit-jsonl.js';
import { CliError, configFrom, databasePath, EXIT, iterateAudit, openReadOnly, parseCommandLine, reportFailure, type AuditFilter } from './audit-store.js';

const COMMAND = 'audit:export';

const USAGE = `Usage: npm run audit:export -- [--db <path>] [--out <file>] [--incident <id>|none] [--since <time>]

Writes the bot's audit events as JSON Lines, one event per line, ordered by seq:
  {"seq":…,"at":…,"incidentId":…,"actor":…,"kind":…,"text":…,"data":…,"prevHash":…,"hash":…,"redacted":…}
Secrets (the configured tokens, and token-shaped values) are redacted from text and data on export;
the stored records are unchanged. prevHash and hash are the stored ones, so a line with
"redacted":true no longer hashes to its hash: verify the chains with audit:verify on the database.

Options:
  --db <path>          the SQLite file (default: DATABASE_URL, as the bot reads it)
  --out <file>         write to this file (complete or not at all: written aside, then renamed);
                       default: standard output
  --incident <id>      only this incident's events; "none" for the events without an incident
  --since <time>       only events at or after this ISO 8601 time, e.g. 2026-11-22T00:00:00Z
  -h, --help           show this help

The secrets to redact come from the bot's environment (ALERTMANAGER_WEBHOOK_TOKEN, SLACK_BOT_TOKEN,
SLACK_SIGNING_SECRET), so run it with the bot's configuration.

Exit status: 0 written, 2 usage or I/O error.
`;

/** Where the lines go: standard output, or a temp file renamed over --out once complete. */
interface Sink {
  write(chunk: string): Promise<void>;
  finish(): Promise<void>;
  abort(): Promise<void>;
}

function stdoutSink(): Sink {
  let failure: Error | undefined;
  const failed = () => new CliError(`cannot write to standard output: ${failure?.message ?? 'closed'}`);
  process.stdout.on('error', (error: Error) => {
    failure = error;
  });
  return {
    async write(chunk) {
      if (failure) throw failed();
      if (!process.stdout.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            process.stdout.off('drain', done);
            process.stdout.off('error', done);
            resolve();
          };
          process.stdout.on('drain', done);
          process.stdout.on('error', done);
        });
      }
      if (failure) throw failed();
    },
    async finish() {
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      if (failure) throw failed();
    },
    async abort() {},
  };
}

const FLUSH_BYTES = 64 * 1024;

async function fileSink(out: string): Promise<Sink> {
  const dir = path.dirname(out);
  // In the same folder, so the rename is atomic: readers see the old file or the whole new one.
  const temp = path.join(dir, `.${path.basename(out)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const ioError = (what: string, error: unknown) => new CliError(`cannot ${what} ${out}: ${(error as Error).message}`, { cause: error });
  let handle: fs.FileHandle;
  try {
    // 0600: an audit export is for the operator who asked for it.
    handle = await fs.open(temp, 'wx', 0o600);
  } catch (error) {
    throw ioError('write', error);
  }
  let pending: string[] = [];
  let pendingBytes = 0;
  let closed = false;
  const flush = async () => {
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    pendingBytes = 0;
    await handle.write(chunk);
  };
  return {
    async write(chunk) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < FLUSH_BYTES) return;
      try {
        await flush();
      } catch (error) {
        throw ioError('write', error);
      }
    },
    async finish() {
      try {
        await flush();
        await handle.sync();
        closed = true;
        await handle.close();
        await fs.rename(temp, out);
      } catch (error) {
        throw ioError('write', error);
      }
      // Make the rename itself durable; not every file system lets a folder be fsynced.
      try {
        const folder = await fs.open(dir, 'r');
        await folder.sync().finally(() => folder.close());
      } catch {
        /* best effort */
      }
    },
    async abort() {
      if (!closed) await handle.close().catch(() => undefined);
      await fs.rm(temp, { force: true }).catch(() => undefined);
    },
  };
}

function incidentFilter(raw: string | undefined): AuditFilter {
  if (raw === undefined) return {};
  if (raw === 'none') return { incidentId: null };
  if (!/^[1-9]\d{0,14}$/.test(raw)) throw new CliError(`--incident must be an incident id (a positive number) or "none", got "${raw.slice(0, 40)}"`);
  return { incidentId: Number(raw) };
}

function sinceTime(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(ms)) throw new CliError(`--since must be an ISO 8601 time such as 2026-11-22T00:00:00Z, got "${raw.slice(0, 60)}"`);
  return ms;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandLine(
    argv,
    { db: { type: 'string' }, out: { type: 'string' }, incident: { type: 'string' }, since: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  for (const name of ['db', 'out'] as const) if (values[name] === '') throw new CliError(`--${name} needs a path\n\n${USAGE}`);
  const filter = incidentFilter(values.incident);
  const since = sinceTime(values.since);
  // An operator command is an entry point like src/main.ts: it alone reads the environment, for
  // DATABASE_URL and for the secrets the export must redact (through loadConfig, as the bot does).
  const config = configFrom(process.env);
  const redact = createRedactor(config.secrets);
  const file = databasePath(values.db, () => config);
  const out = values.out === undefined ? undefined : path.resolve(values.out);
  if (out === file) throw new CliError(`--out must not be the database itself: ${out}`);

  const db = openReadOnly(file);
  let sink: Sink | undefined;
  try {
    sink = out === undefined ? stdoutSink() : await fileSink(out);
    let events = 0;
    let redacted = 0;
    for (const row of iterateAudit(db, filter)) {
      if (since !== undefined && !(Date.parse(row.at) >= since)) continue;
      const event = exportedEvent(row, redact);
      events += 1;
      if (event.redacted) redacted += 1;
      await sink.write(`${JSON.stringify(event)}\n`);
    }
    await sink.finish();
    sink = undefined;
    process.stderr.write(`${COMMAND}: ${events} event${events === 1 ? '' : 's'} written to ${out ?? 'standard output'}${redacted > 0 ? ` (${redacted} redacted)` : ''}\n`);
    return EXIT.ok;
  } finally {
    await sink?.abort();
    db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => reportFailure(COMMAND, error),
);
