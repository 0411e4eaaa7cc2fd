import { appendAudit } from './audit.js';
import { checkpointMac, type SealKey } from './audit-seal.js';
import type { StoreTx } from './ports/store.js';
import { t } from './i18n/index.js';

/** The audit kind of a retention checkpoint; audit:verify accepts exactly the seqs such a record lists as deleted. */
export const RETENTION_KIND = 'audit.retention';

/** Chains deleted per transaction; a retention run loops until none is left. */
const BATCH = 200;

export interface RetentionCheckpoint {
  /** Records older than this were eligible. */
  before: string;
  /** The seqs deleted, as inclusive [from, to] ranges. */
  deleted: Array<[number, number]>;
  /** Each deleted chain: its incident, how many records it had, and its last hash (to compare with a copy kept elsewhere). */
  chains: Array<{ incidentId: number; events: number; lastHash: string }>;
  /**
   * A MAC with the audit key over before, deleted and chains (src/core/audit-seal.ts): whoever can
   * write the database can append a checkpoint of their own that hashes correctly, but not this.
   * audit:verify lets a checkpoint excuse missing chains and seqs only when it verifies.
   */
  seal?: string;
}

/**
 * Deletes the audit trail of incidents that are resolved and whose newest record is older than
 * `before`: whole chains only, so every remaining chain still verifies from its first record. The
 * deletion is recorded, in the same transaction, as a checkpoint in the chain of events without an
 * incident: it lists the deleted seqs (which audit:verify would otherwise report as gaps) and each
 * deleted chain's last hash, sealed with the audit key when one is given. Returns what one batch
 * deleted; zero chains when nothing is left.
 */
export async function pruneAuditBatch(tx: StoreTx, before: string, now: string, actor: string, key?: SealKey): Promise<{ chains: number; events: number }> {
  const ids = await tx.listExpiredAuditChains(before, BATCH);
  if (ids.length === 0) return { chains: 0, events: 0 };
  const seqs: number[] = [];
  const chains: RetentionCheckpoint['chains'] = [];
  for (const incidentId of ids) {
    const events = await tx.listAudit(incidentId);
    const last = events.at(-1);
    if (!last) continue;
    seqs.push(...events.map((e) => e.seq));
    chains.push({ incidentId, events: events.length, lastHash: last.hash });
    await tx.deleteAudit(incidentId);
  }
  const checkpoint: RetentionCheckpoint = { before, deleted: toRanges(seqs), chains };
  if (key) checkpoint.seal = checkpointMac(key, checkpoint);
  await appendAudit(tx, {
    at: now,
    incidentId: null,
    actor,
    kind: RETENTION_KIND,
    text: t('audit.retention', { count: chains.length, before, records: seqs.length }),
    data: { ...checkpoint },
  });
  return { chains: chains.length, events: seqs.length };
}

/** [3, 4, 5, 9, 10] → [[3, 5], [9, 10]] */
export function toRanges(values: readonly number[]): Array<[number, number]> {
  const sorted = [...values].sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  for (const v of sorted) {
    const last = ranges.at(-1);
    if (last && v === last[1] + 1) last[1] = v;
    else if (!last || v > last[1]) ranges.push([v, v]);
  }
  return ranges;
}
