/**
 * `npm run audit:verify -- [--db <path>] [--seals <file>]…`: verifies the whole stored audit trail
 * — every incident's hash chain, the chain of events without an incident, the seq numbering
 * (SQLite), and every chain against its seals — and names each broken record. Reads a SQLite file,
 * or the PostgreSQL database DATABASE_URL names. Exit 0 when whole, 1 when broken, 2 on a usage or
 * I/O error.
 */
import { readKeyFile, readSealFile } from '../audit-files.js';
import { sealKey, type SealKey } from '../core/audit-seal.js';
import type { Config } from '../settings/config.js';
import { formatProblem, formatSummary, verifyAudit } from './audit-chains.js';
import { checkpointSealed, formatSeals, verifySeals, type SealFileInput } from './audit-seals.js';
import { CliError, configFrom, databasePath, EXIT, openReadOnly, parseCommandLine, readAudit, readAuditPostgres, reportFailure, type AuditRow } from './audit-store.js';

const COMMAND = 'audit:verify';

const USAGE = `Usage: npm run audit:verify -- [--db <path>] [--seals <file>]...

Verifies every audit hash chain in the bot's database (each incident's chain and the chain of
events without an incident), the audit seq numbering (SQLite), and each chain against its newest
seal. Prints one line per problem, e.g.
  BROKEN incident 3 at seq 17: hash mismatch (record edited)
  BROKEN seq 40..41 missing: 2 records deleted
  BROKEN incident 5 sealed: seal 9 of … covers 6 records, only 4 left (records deleted from the end of the chain)
and a summary line. The database is opened read-only; the bot may keep running.

The seals are checked with the audit key: AUDIT_KEY, else the key file (AUDIT_KEY_FILE, default
beside the database: <db>.audit-key). With no key and no seal file, the chains are checked alone.

Options:
  --db <path>      the SQLite file (default: DATABASE_URL, as the bot reads it; a postgres:// URL
                   there is read from PostgreSQL)
  --seals <file>   a seal file (default: AUDIT_SEAL_FILE, or <db>.audit-seals); repeat it for the
                   seal file of each replica that was leader
  -h, --help       show this help

Exit status: 0 every chain is whole, 1 a chain, the numbering or a seal is broken, 2 usage or I/O error.
`;

interface Trail {
  rows: AuditRow[];
  /** SQLite's sequence counter; undefined on PostgreSQL, whose seqs may have gaps. */
  sequenceCounter: number | undefined;
}

async function readTrail(dbOption: string | undefined, config: Config): Promise<Trail> {
  if (dbOption === undefined && config.database.kind === 'postgres') return { rows: await readAuditPostgres(config.database.url), sequenceCounter: undefined };
  const db = openReadOnly(databasePath(dbOption, () => config));
  try {
    return readAudit(db);
  } finally {
    db.close();
  }
}

/** AUDIT_KEY, else the key file; undefined when neither exists. */
async function auditKey(config: Config): Promise<SealKey | undefined> {
  if (config.audit.key !== undefined) return sealKey(config.audit.key);
  try {
    const key = await readKeyFile(config.audit.keyFile);
    return key === undefined ? undefined : sealKey(key);
  } catch (error) {
    throw new CliError((error as Error).message, { cause: error });
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandLine(argv, { db: { type: 'string' }, seals: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (values.db === '') throw new CliError(`--db needs a path\n\n${USAGE}`);
  // An operator command is an entry point like src/main.ts: it alone reads the environment. With
  // --db, the key and seal files default beside that file, as they do beside the bot's database.
  const config = configFrom(values.db === undefined ? process.env : { ...process.env, DATABASE_URL: `sqlite:${values.db}` });
  const { rows, sequenceCounter } = await readTrail(values.db, config);
  const key = await auditKey(config);
  const sealPaths = values.seals ?? [config.audit.sealFile];
  const files: SealFileInput[] = [];
  for (const file of sealPaths) {
    try {
      files.push({ path: file, text: await readSealFile(file) });
    } catch (error) {
      throw new CliError((error as Error).message, { cause: error });
    }
  }
  if (key === undefined && files.some((f) => f.text !== undefined)) {
    const found = files.find((f) => f.text !== undefined)?.path ?? '';
    throw new CliError(`the seal file ${found} exists but there is no audit key to check it: set AUDIT_KEY, or AUDIT_KEY_FILE to the bot's key file (${config.audit.keyFile} does not exist)`);
  }

  const result = verifyAudit(rows, sequenceCounter, key ? (event) => checkpointSealed(event, key) : undefined);
  const lines: string[] = [];
  if (key !== undefined) {
    const seals = verifySeals(rows, files, key);
    result.problems.push(...seals.problems);
    result.problems.sort((a, b) => a.seq - b.seq);
    lines.push(formatSeals(seals, files.length));
  }
  lines.unshift(...result.problems.map(formatProblem));
  lines.push(formatSummary(result));
  process.stdout.write(`${lines.join('\n')}\n`);
  return result.problems.length === 0 ? EXIT.ok : EXIT.broken;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => reportFailure(COMMAND, error),
);
