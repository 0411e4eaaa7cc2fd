/**
 * Checks the stored audit trail against its seals (src/core/audit-seal.ts): the seal files must
 * verify with the audit key, and every chain must still hold, at the place its newest seal names,
 * the record whose hash was sealed. The hash chain itself (audit-chains.ts) then fixes every record
 * before it. Pure: rows, seal file texts and the key in, problems out.
 */
import { parseSealFile } from '../audit-files.js';
import { checkpointMac, type SealKey, type SealLine } from '../core/audit-seal.js';
import type { AuditEvent } from '../core/domain.js';
import type { RetentionCheckpoint } from '../core/retention.js';
import { validCheckpoints, type AuditProblem } from './audit-chains.js';
import type { AuditRow } from './audit-store.js';

export interface SealFileInput {
  path: string;
  /** The file's text; undefined when it does not exist. */
  text: string | undefined;
}

export interface SealVerification {
  problems: AuditProblem[];
  /** Seal lines that verified, over all files. */
  lines: number;
  /** Chains with a seal, and records written after their chain's last seal (not sealed yet). */
  sealedChains: number;
  unsealedRecords: number;
}

/** Whether a retention checkpoint carries a seal made with this key over what it excuses. */
export function checkpointSealed(event: AuditEvent, key: SealKey): boolean {
  const data = event.data as Partial<RetentionCheckpoint>;
  return typeof data.seal === 'string' && data.seal === checkpointMac(key, { before: data.before ?? '', deleted: data.deleted, chains: data.chains });
}

const short = (hash: string) => `${hash.slice(0, 12)}…`;
const records = (n: number) => `${n} record${n === 1 ? '' : 's'}`;

export function verifySeals(rows: readonly AuditRow[], files: readonly SealFileInput[], key: SealKey): SealVerification {
  const problems: AuditProblem[] = [];
  const sealProblem = (message: string, incidentId?: number | null, seq = 0) => problems.push({ kind: 'seal', seq, message, ...(incidentId === undefined ? {} : { incidentId }) });

  // The newest seal of each chain (the most records), over every seal file.
  const newest = new Map<number | null, SealLine & { file: string }>();
  let lines = 0;
  for (const file of files) {
    if (file.text === undefined) {
      sealProblem(`seal file ${file.path} is missing (deleted? the audit key exists, so the bot sealed into it)`);
      continue;
    }
    const parsed = parseSealFile(file.text, key);
    for (const message of parsed.problems) sealProblem(`${file.path}: ${message}`);
    lines += parsed.lines.length;
    for (const line of parsed.lines) {
      const known = newest.get(line.incidentId);
      if (!known || line.count > known.count) newest.set(line.incidentId, { ...line, file: file.path });
    }
  }

  // Retention checkpoints excuse missing chains only when sealed with the key.
  const checkpoints = validCheckpoints(rows, () => true);
  const excused = new Map<number, { events: number; lastHash: string }>();
  for (const event of checkpoints) {
    if (!checkpointSealed(event, key)) {
      sealProblem('retention checkpoint is not sealed with the audit key (forged, or written without the key): it excuses no deletion', null, event.seq);
      continue;
    }
    const chains = (event.data as Partial<RetentionCheckpoint>).chains ?? [];
    for (const c of chains) excused.set(c.incidentId, { events: c.events, lastHash: c.lastHash });
  }

  const chains = new Map<number | null, AuditRow[]>();
  for (const row of rows) {
    const chain = chains.get(row.incidentId);
    if (chain) chain.push(row);
    else chains.set(row.incidentId, [row]);
  }

  for (const [incidentId, seal] of newest) {
    const chain = chains.get(incidentId) ?? [];
    const where = `seal ${seal.seq} of ${seal.file}`;
    if (chain.length >= seal.count) {
      const row = chain[seal.count - 1]!;
      if (row.hash !== seal.head) {
        sealProblem(`${where} covers ${records(seal.count)} ending in hash ${short(seal.head)}; record ${seal.count} of the chain (seq ${row.seq}) has hash ${short(row.hash)} (chain rewritten)`, incidentId, row.seq);
      }
      continue;
    }
    const gone = excused.get(incidentId ?? -1);
    if (incidentId !== null && chain.length === 0 && gone && gone.events >= seal.count && (gone.events > seal.count || gone.lastHash === seal.head)) continue;
    sealProblem(
      chain.length === 0
        ? `${where} covers ${records(seal.count)}, none is left (chain deleted, or the table wiped)`
        : `${where} covers ${records(seal.count)}, only ${chain.length} left (records deleted from the end of the chain)`,
      incidentId,
      chain.at(-1)?.seq ?? 0,
    );
  }

  let unsealedRecords = 0;
  for (const [incidentId, chain] of chains) unsealedRecords += Math.max(0, chain.length - (newest.get(incidentId)?.count ?? 0));
  return { problems, lines, sealedChains: newest.size, unsealedRecords };
}

/** The line audit:verify prints about the seals. */
export function formatSeals(v: SealVerification, files: number): string {
  const tail = v.unsealedRecords === 0 ? 'no record after its last seal' : `${records(v.unsealedRecords)} written after their chain's last seal (not sealed yet)`;
  return `seals: ${v.lines} seal line${v.lines === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}, ${v.sealedChains} chain${v.sealedChains === 1 ? '' : 's'} sealed, ${tail}`;
}
