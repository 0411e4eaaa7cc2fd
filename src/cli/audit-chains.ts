/**
 * Checks the stored audit trail: every hash chain (one per incident, one for the events without an
 * incident, see src/core/audit.ts) and the global `seq` numbering. Pure: rows in, problems out.
 */
import { auditHash } from '../core/audit.js';
import { RETENTION_KIND } from '../core/retention.js';
import type { AuditEvent } from '../core/domain.js';
import { toAuditEvent, type AuditRow } from './audit-store.js';

export interface AuditProblem {
  /**
   * chain: a record of one chain; gap: seqs missing; sequence: the seq numbering disagrees with
   * SQLite's counter; seal: a chain disagrees with its seal, or the seals themselves are wrong.
   */
  kind: 'chain' | 'gap' | 'sequence' | 'seal';
  /** The chain (kind chain): an incident id, or null for the events without an incident. */
  incidentId?: number | null;
  /** The first missing seq of a gap, or the seq of the record where the problem shows. */
  seq: number;
  /** The last missing seq of a gap. */
  lastSeq?: number;
  message: string;
}

export interface AuditVerification {
  events: number;
  chains: number;
  problems: AuditProblem[];
}

const chainName = (incidentId: number | null) => (incidentId === null ? 'no-incident chain' : `incident ${incidentId}`);

/** One line per problem, as the command prints it. */
export function formatProblem(p: AuditProblem): string {
  if (p.kind === 'gap') {
    const range = p.lastSeq !== undefined && p.lastSeq !== p.seq ? `${p.seq}..${p.lastSeq}` : `${p.seq}`;
    return `BROKEN seq ${range} missing: ${p.message}`;
  }
  if (p.kind === 'sequence') return `BROKEN seq ${p.seq}: ${p.message}`;
  if (p.kind === 'seal') return p.incidentId === undefined ? `BROKEN seals: ${p.message}` : `BROKEN ${chainName(p.incidentId)} sealed: ${p.message}`;
  return `BROKEN ${chainName(p.incidentId ?? null)} at seq ${p.seq}: ${p.message}`;
}

/**
 * Verifies one chain (rows of one incident, in seq order). Each record is checked on its own (its
 * hash covers its stored prevHash and content) and as a link (its prevHash is the previous record's
 * stored hash). Continuing from the stored hash after a problem localises every damage: an edit
 * is reported at the edited record only, a deletion or insertion at the record after it.
 */
function verifyChain(incidentId: number | null, rows: readonly AuditRow[], byHash: ReadonlyMap<string, AuditRow>): AuditProblem[] {
  const problems: AuditProblem[] = [];
  let previous: AuditRow | undefined;
  for (const row of rows) {
    const problem = (message: string) => problems.push({ kind: 'chain', incidentId, seq: row.seq, message });
    const event = toAuditEvent(row);
    if (event === undefined) {
      problem('data is not valid JSON (record edited)');
    } else if (event.hash !== auditHash(event.prevHash, event)) {
      // at, incident, actor, kind, text, data or prevHash changed after the record was written.
      problem('hash mismatch (record edited)');
    }
    const expected = previous?.hash ?? '';
    if (row.prevHash !== expected) {
      const target = byHash.get(row.prevHash);
      const linksTo = target?.seq;
      if (previous !== undefined && row.prevHash === '') {
        problem(`prevHash is empty as if the chain started here, but seq ${previous.seq} comes before it (record inserted or moved here)`);
      } else if (target !== undefined && target.incidentId !== incidentId) {
        problem(`prevHash links to seq ${target.seq} of ${chainName(target.incidentId)}, another chain (record moved between chains)`);
      } else if (previous === undefined) {
        problem(
          linksTo === undefined
            ? `first record of the chain has prevHash ${short(row.prevHash)} where a chain starts with none (earlier records deleted)`
            : `first record of the chain links to seq ${linksTo} (records reordered)`,
        );
      } else if (linksTo === undefined || linksTo >= row.seq) {
        problem(
          linksTo === undefined
            ? `prevHash ${short(row.prevHash)} matches no record (a record before it was deleted, or edited and re-hashed)`
            : `prevHash links to the later seq ${linksTo} (records reordered)`,
        );
      } else {
        problem(`does not link to the previous record, seq ${previous.seq}; it links to seq ${linksTo} (record inserted at seq ${previous.seq}, or records reordered)`);
      }
    }
    previous = row;
  }
  return problems;
}

const short = (hash: string) => (hash === '' ? '(empty)' : `${hash.slice(0, 12)}…`);

/**
 * Gaps in the global seq numbering. `seq` is INTEGER PRIMARY KEY AUTOINCREMENT, and the bot deletes
 * audit events only through retention, which records the seqs it deleted in a checkpoint; so the
 * stored seqs must be exactly 1..N minus those:
 * - a rolled-back transaction does not use up numbers: SQLite keeps the AUTOINCREMENT counter in
 *   the ordinary table `sqlite_sequence`, which is rolled back with the transaction; the store
 *   rolls back the whole transaction when any statement fails, so a failed insert leaves no hole;
 * - the counter remembers the highest seq ever handed out, so deleting the LAST records (which no
 *   hash link can reveal: no later record points at them) shows as seqs missing below the counter.
 * - records renumbered with UPDATE (to make room for a forged one) can end above the counter, which
 *   only INSERT advances.
 * This detects deletions, not a determined forger: whoever can write the file can also renumber
 * seqs and lower the counter. Against that, keep the newest hashes somewhere else and compare.
 */
function seqGaps(rows: readonly AuditRow[], sequenceCounter: number, retained: ReadonlyArray<[number, number]>): AuditProblem[] {
  const problems: AuditProblem[] = [];
  const missing = (from: number, to: number, why: string) => {
    for (const [a, b] of uncovered(from, to, retained)) {
      const count = b - a + 1;
      problems.push({ kind: 'gap', seq: a, lastSeq: b, message: `${count} record${count === 1 ? '' : 's'} deleted${why}` });
    }
  };
  let expected = 1;
  for (const row of rows) {
    if (row.seq > expected) missing(expected, row.seq - 1, '');
    expected = Math.max(expected, row.seq + 1);
  }
  if (sequenceCounter >= expected) missing(expected, sequenceCounter, ` from the end (SQLite's sequence counter is at ${sequenceCounter})`);
  const last = rows.at(-1);
  if (last && last.seq > sequenceCounter) {
    problems.push({ kind: 'sequence', seq: last.seq, message: `above SQLite's sequence counter ${sequenceCounter} (records renumbered, or the counter edited)` });
  }
  return problems;
}

/**
 * The retention checkpoints (src/core/retention.ts) whose own hash verifies and that `trusted`
 * accepts (with an audit key: whose seal verifies): an edited or forged checkpoint excuses nothing.
 */
export function validCheckpoints(rows: readonly AuditRow[], trusted: (event: AuditEvent) => boolean): AuditEvent[] {
  return rows.flatMap((row) => {
    if (row.kind !== RETENTION_KIND || row.incidentId !== null) return [];
    const event = toAuditEvent(row);
    return event && event.hash === auditHash(event.prevHash, event) && trusted(event) ? [event] : [];
  });
}

/** The seqs that retention deleted, from the valid checkpoints. */
function retainedRanges(checkpoints: readonly AuditEvent[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const event of checkpoints) {
    const deleted = event.data.deleted;
    if (!Array.isArray(deleted)) continue;
    for (const range of deleted) {
      if (Array.isArray(range) && Number.isInteger(range[0]) && Number.isInteger(range[1]) && (range[1] as number) < event.seq) ranges.push([range[0] as number, range[1] as number]);
    }
  }
  return ranges.sort((a, b) => a[0] - b[0]);
}

/** The parts of [from, to] that no range covers. */
function uncovered(from: number, to: number, ranges: ReadonlyArray<[number, number]>): Array<[number, number]> {
  const parts: Array<[number, number]> = [];
  let next = from;
  for (const [a, b] of ranges) {
    if (b < next || a > to) continue;
    if (a > next) parts.push([next, a - 1]);
    next = Math.max(next, b + 1);
    if (next > to) break;
  }
  if (next <= to) parts.push([next, to]);
  return parts;
}

/**
 * Verifies every chain and, given SQLite's sequence counter, the seq numbering of the whole table
 * (rows in seq order). PostgreSQL hands out seqs from a sequence that a rolled-back transaction
 * still uses up, so there gaps prove nothing and only the chains (and their seals) are checked.
 */
export function verifyAudit(rows: readonly AuditRow[], sequenceCounter: number | undefined, trustCheckpoint: (event: AuditEvent) => boolean = () => true): AuditVerification {
  const chains = new Map<number | null, AuditRow[]>();
  for (const row of rows) {
    const chain = chains.get(row.incidentId);
    if (chain) chain.push(row);
    else chains.set(row.incidentId, [row]);
  }
  const byHash = new Map<string, AuditRow>();
  for (const row of rows) if (!byHash.has(row.hash)) byHash.set(row.hash, row);
  const gaps = sequenceCounter === undefined ? [] : seqGaps(rows, sequenceCounter, retainedRanges(validCheckpoints(rows, trustCheckpoint)));
  const problems = [...gaps, ...[...chains].flatMap(([incidentId, chain]) => verifyChain(incidentId, chain, byHash))];
  problems.sort((a, b) => a.seq - b.seq);
  return { events: rows.length, chains: chains.size, problems };
}

/** The closing line: `audit verified: …` or `audit BROKEN: …`. */
export function formatSummary(v: AuditVerification): string {
  const counts = `${v.events} event${v.events === 1 ? '' : 's'} in ${v.chains} chain${v.chains === 1 ? '' : 's'}`;
  if (v.problems.length === 0) return `audit verified: ${counts}, 0 problems`;
  const where = [
    ...new Set(v.problems.map((p) => (p.kind === 'chain' || (p.kind === 'seal' && p.incidentId !== undefined) ? chainName(p.incidentId ?? null) : p.kind === 'seal' ? 'seals' : 'seq numbering'))),
  ];
  return `audit BROKEN: ${v.problems.length} problem${v.problems.length === 1 ? '' : 's'} in ${counts} (${where.join(', ')})`;
}
