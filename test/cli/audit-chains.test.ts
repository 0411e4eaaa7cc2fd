/** The verifier behind `audit:verify`, on rows built in memory: the cases too fiddly to stage in SQL. */
import { describe, expect, it } from 'vitest';
import { auditHash } from '../../src/core/audit.js';
import { formatProblem, formatSummary, verifyAudit } from '../../src/cli/audit-chains.js';
import type { AuditRow } from '../../src/cli/audit-store.js';

/** A whole trail: events of the given incidents, in this order, seq 1..n, each chain hashed correctly. */
function trail(incidents: Array<number | null>): AuditRow[] {
  const last = new Map<number | null, string>();
  return incidents.map((incidentId, index) => {
    const event = { at: `2026-11-22T01:0${index}:00.000Z`, incidentId, actor: 'system', kind: 'note', text: `event ${index + 1}`, data: { n: index } };
    const prevHash = last.get(incidentId) ?? '';
    const hash = auditHash(prevHash, event);
    last.set(incidentId, hash);
    const { data, ...rest } = event;
    return { ...rest, seq: index + 1, rawData: JSON.stringify(data), prevHash, hash };
  });
}

const lines = (rows: AuditRow[], counter = rows.length) => verifyAudit(rows, counter).problems.map(formatProblem);

describe('verifyAudit', () => {
  it('counts events and chains of a whole trail, the no-incident chain included', () => {
    const result = verifyAudit(trail([1, 2, null, 1, 2, null]), 6);
    expect(result).toEqual({ events: 6, chains: 3, problems: [] });
    expect(formatSummary(result)).toBe('audit verified: 6 events in 3 chains, 0 problems');
    expect(formatSummary(verifyAudit([], 0))).toBe('audit verified: 0 events in 0 chains, 0 problems');
  });

  it('names two records of a chain that swapped places', () => {
    const rows = trail([1, 1, 1, 1]);
    const [a, b, c, d] = rows as [AuditRow, AuditRow, AuditRow, AuditRow];
    const swapped = [a, { ...c, seq: 2 }, { ...b, seq: 3 }, d];
    expect(lines(swapped)).toEqual([
      'BROKEN incident 1 at seq 2: prevHash links to the later seq 3 (records reordered)',
      'BROKEN incident 1 at seq 3: does not link to the previous record, seq 2; it links to seq 1 (record inserted at seq 2, or records reordered)',
      'BROKEN incident 1 at seq 4: does not link to the previous record, seq 3; it links to seq 2 (record inserted at seq 3, or records reordered)',
    ]);
  });

  it('names a chain whose first records were deleted, even with the seqs renumbered', () => {
    const rows = trail([1, 1, 1]).slice(1).map((row, index) => ({ ...row, seq: index + 1 }));
    expect(lines(rows)).toEqual([`BROKEN incident 1 at seq 1: first record of the chain has prevHash ${rows[0]!.prevHash.slice(0, 12)}… where a chain starts with none (earlier records deleted)`]);
  });

  it('names an edited prevHash as both a hash mismatch and a broken link', () => {
    const rows = trail([1, 1]);
    rows[1] = { ...rows[1]!, prevHash: 'f'.repeat(64) };
    expect(lines(rows)).toEqual([
      'BROKEN incident 1 at seq 2: hash mismatch (record edited)',
      'BROKEN incident 1 at seq 2: prevHash ffffffffffff… matches no record (a record before it was deleted, or edited and re-hashed)',
    ]);
  });

  it('names a record moved to another incident', () => {
    const rows = trail([1, 2, 1]);
    rows[2] = { ...rows[2]!, incidentId: 2 };
    expect(lines(rows)).toEqual([
      'BROKEN incident 2 at seq 3: hash mismatch (record edited)',
      'BROKEN incident 2 at seq 3: prevHash links to seq 1 of incident 1, another chain (record moved between chains)',
    ]);
    expect(formatSummary(verifyAudit(rows, 3))).toBe('audit BROKEN: 2 problems in 3 events in 2 chains (incident 2)');
  });

  it('names a record that claims to start a chain in its middle', () => {
    const rows = trail([1, 1]);
    const forged = { at: '2026-11-22T02:00:00.000Z', incidentId: 1, actor: 'system', kind: 'note', text: 'forged', data: {} };
    const { data: _data, ...fields } = forged;
    rows.push({ ...fields, rawData: '{}', seq: 3, prevHash: '', hash: auditHash('', forged) });
    expect(lines(rows)).toEqual(['BROKEN incident 1 at seq 3: prevHash is empty as if the chain started here, but seq 2 comes before it (record inserted or moved here)']);
  });

  it('reports missing seqs at the start, in the middle and at the end', () => {
    const rows = trail([1, 2, 3, 4, 5, 6, 7]).filter((r) => ![1, 2, 5].includes(r.seq));
    expect(lines(rows, 9)).toEqual([
      'BROKEN seq 1..2 missing: 2 records deleted',
      'BROKEN seq 5 missing: 1 record deleted',
      "BROKEN seq 8..9 missing: 2 records deleted from the end (SQLite's sequence counter is at 9)",
    ]);
  });
});
