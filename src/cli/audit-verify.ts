/**
 * `npm run audit:verify -- [--db <path>]`: verifies the whole stored audit trail — every incident's
 * hash chain, the chain of events without an incident, and the seq numbering — and names each
 * broken record. Exit 0 when whole, 1 when broken, 2 on a usage or I/O error.
 */
import { formatProblem, formatSummary, verifyAudit } from './audit-chains.js';
import { CliError, configFrom, databasePath, EXIT, openReadOnly, parseCommandLine, readAudit, reportFailure } from './audit-store.js';

const COMMAND = 'audit:verify';

const USAGE = `Usage: npm run audit:verify -- [--db <path>]

Verifies every audit hash chain in the bot's SQLite database (each incident's chain and the chain
of events without an incident) and the audit seq numbering. Prints one line per problem, e.g.
  BROKEN incident 3 at seq 17: hash mismatch (record edited)
  BROKEN seq 40..41 missing: 2 records deleted
and a summary line. The database is opened read-only; the bot may keep running.

Options:
  --db <path>   the SQLite file (default: DATABASE_URL, as the bot reads it)
  -h, --help    show this help

Exit status: 0 every chain is whole, 1 a chain or the numbering is broken, 2 usage or I/O error.
`;

function main(argv: string[]): number {
  const { values } = parseCommandLine(argv, { db: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (values.db === '') throw new CliError(`--db needs a path\n\n${USAGE}`);
  // An operator command is an entry point like src/main.ts: it alone reads the environment, and
  // only when no --db is given (DATABASE_URL through loadConfig, exactly as the bot resolves it).
  const file = databasePath(values.db, () => configFrom(process.env));
  const db = openReadOnly(file);
  try {
    const { rows, sequenceCounter } = readAudit(db);
    const result = verifyAudit(rows, sequenceCounter);
    const lines = [...result.problems.map(formatProblem), formatSummary(result)];
    process.stdout.write(`${lines.join('\n')}\n`);
    return result.problems.length === 0 ? EXIT.ok : EXIT.broken;
  } finally {
    db.close();
  }
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  reportFailure(COMMAND, error);
}
