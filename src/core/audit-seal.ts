import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { t } from './i18n/index.js';

/**
 * Seals of the audit trail. A hash chain (src/core/audit.ts) shows an edit only to someone who
 * still has the original hashes: whoever can write the database can rewrite a chain and recompute
 * every hash after the edit, cut its tail, or wipe it, and the chain still verifies. So the heads
 * of the chains are sealed with a key the database does not hold (an HMAC-SHA256), and the seals
 * are kept outside the database: in an append-only seal file, and, at resolution, in the incident's
 * thread. audit:verify then checks each chain against its newest seal.
 *
 * Each line of the seal file is a MAC over (seq, incident, head hash, count, previous line's MAC),
 * so the seal file is a chain too: a line edited, inserted or removed in its middle breaks it.
 */

/** HMAC-SHA256 with the audit key; the key itself never leaves this closure. */
export interface SealKey {
  mac(content: string): string;
}

export function sealKey(secret: string): SealKey {
  return { mac: (content) => createHmac('sha256', secret).update(content).digest('hex') };
}

export const sealLineSchema = z.object({
  /** Line number in the seal file, from 1. */
  seq: z.number().int().positive(),
  /** The sealed chain: an incident, or null for the events without an incident. */
  incidentId: z.number().int().positive().nullable(),
  /** The hash of the chain's newest record when sealed, and how many records the chain had. */
  head: z.string(),
  count: z.number().int().positive(),
  /** The audit seq of that record: where the bot resumes sealing after a restart (not covered by the MAC, never trusted). */
  headSeq: z.number().int().nonnegative(),
  /** The previous line's MAC ('' on the first line). */
  prev: z.string(),
  mac: z.string(),
});

export type SealLine = z.infer<typeof sealLineSchema>;

export function sealMac(key: SealKey, line: Pick<SealLine, 'seq' | 'incidentId' | 'head' | 'count' | 'prev'>): string {
  return key.mac(JSON.stringify(['audit-seal', line.seq, line.incidentId, line.head, line.count, line.prev]));
}

/** The MAC a retention checkpoint carries, over what it excuses (see src/core/retention.ts). */
export function checkpointMac(key: SealKey, checkpoint: { before: string; deleted: unknown; chains: unknown }): string {
  return key.mac(JSON.stringify(['audit-retention', checkpoint.before, checkpoint.deleted, checkpoint.chains]));
}

/** The head of one chain as the store sees it. */
export interface AuditHead {
  incidentId: number | null;
  hash: string;
  count: number;
  /** The seq, kind and time of the newest record. */
  seq: number;
  kind: string;
  at: string;
}

/** The thread message a seal at resolution posts. */
export function sealedText(line: Pick<SealLine, 'count' | 'head' | 'mac'>): string {
  return t('thread.auditSealed', { count: line.count, head: line.head.slice(0, 12), seal: line.mac.slice(0, 12) });
}
