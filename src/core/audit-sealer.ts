import type { Logger } from 'pino';
import { sealedText, sealMac, type AuditHead, type SealKey, type SealLine } from './audit-seal.js';
import type { Leadership } from './ports/leadership.js';
import { WorkerLoop } from './worker-loop.js';
import type { Store } from './ports/store.js';
import type { Clock } from './ports/clock.js';

/** Where seal lines go: an append-only file, written durably before `append` resolves. */
export interface SealLog {
  append(lines: readonly SealLine[]): Promise<void>;
}

export interface AuditSealerOptions {
  store: Store;
  key: SealKey;
  sealLog: SealLog;
  /** The seal file's lines as read at start (trusted ones), to continue its chain. */
  existing: readonly SealLine[];
  leadership: Leadership;
  clock: Clock;
  log: Pick<Logger, 'warn' | 'error' | 'debug'>;
  intervalMs: number;
  /** Called after "Audit sealed" messages were queued (to send them now). */
  onPosted?: () => void;
}

/**
 * On PostgreSQL, audit seqs come from a sequence and are handed out before commit, so a record can
 * become visible after records with higher seqs: each pass looks this many seqs back from where
 * the last one stopped (chains already sealed at their head cost nothing).
 */
const LOOKBACK_SEQS = 1000;
/** Chains read per query; a pass repeats until fewer come back. */
const BATCH = 200;
/** A resolution this long before the process started is still announced (a restart right after it). */
const ANNOUNCE_SLACK_MS = 60_000;

const RESOLVED_KIND = 'incident.resolved';

/**
 * Seals the chains that changed: the leader, every `intervalMs`, and once more at shutdown. When a
 * chain's newest record is its incident's resolution, the seal is also posted in the incident's
 * thread, so a copy of it lives on the chat platform, out of reach of the database and the host.
 *
 * What this leaves open, by design: records written after the last seal of their chain are not
 * sealed yet, so they can be cut or rewritten without a trace until the next pass seals them.
 */
export class AuditSealer {
  private prevMac = '';
  private nextSeq = 1;
  /** Each chain's last sealed head, as this seal file knows it. */
  private readonly sealed = new Map<number | null, { head: string; count: number }>();
  private watermark = 0;
  private readonly loop: WorkerLoop;
  private readonly startedAt: number;

  constructor(private readonly o: AuditSealerOptions) {
    for (const line of o.existing) {
      this.sealed.set(line.incidentId, { head: line.head, count: line.count });
      this.watermark = Math.max(this.watermark, line.headSeq);
    }
    const last = o.existing.at(-1);
    if (last) {
      this.prevMac = last.mac;
      this.nextSeq = last.seq + 1;
    }
    this.startedAt = o.clock().getTime();
    this.loop = new WorkerLoop(() => this.sealChanged().then(() => undefined), o.intervalMs, (error) => o.log.error({ err: error }, 'sealing the audit trail failed; retrying'));
  }

  start(): void {
    this.loop.start();
  }

  /** Stops the timer and seals what changed since the last pass (records written until shutdown). */
  async stop(): Promise<void> {
    await this.loop.stop();
    try {
      await this.sealChanged();
    } catch (error) {
      this.o.log.error({ err: error }, 'the final audit seal at shutdown failed: records since the last seal are not sealed');
    }
  }

  /** One pass: seals every chain whose head moved since its last seal; returns the lines written. */
  async sealChanged(): Promise<SealLine[]> {
    if (!this.o.leadership.isLeader()) return [];
    const written: SealLine[] = [];
    let after = Math.max(0, this.watermark - LOOKBACK_SEQS);
    for (;;) {
      const from = after;
      const heads = await this.o.store.transaction((tx) => tx.auditHeads(from, BATCH), { readOnly: true });
      const changed = heads.filter((h) => this.sealed.get(h.incidentId)?.head !== h.hash);
      if (changed.length > 0) written.push(...(await this.seal(changed)));
      for (const h of heads) after = Math.max(after, h.seq);
      if (heads.length < BATCH) break;
    }
    this.watermark = Math.max(this.watermark, after);
    return written;
  }

  private async seal(heads: readonly AuditHead[]): Promise<SealLine[]> {
    const lines: SealLine[] = [];
    let prev = this.prevMac;
    let seq = this.nextSeq;
    for (const h of heads) {
      const fields = { seq, incidentId: h.incidentId, head: h.hash, count: h.count, prev };
      const line: SealLine = { ...fields, headSeq: h.seq, mac: sealMac(this.o.key, fields) };
      lines.push(line);
      prev = line.mac;
      seq += 1;
    }
    // The file first: a seal that is posted but not in the file would be a seal audit:verify never saw.
    await this.o.sealLog.append(lines);
    this.prevMac = prev;
    this.nextSeq = seq;
    for (const line of lines) this.sealed.set(line.incidentId, { head: line.head, count: line.count });
    await this.announce(lines, heads);
    return lines;
  }

  /** Posts the seal of each chain that ends with its incident's resolution in that incident's thread. */
  private async announce(lines: readonly SealLine[], heads: readonly AuditHead[]): Promise<void> {
    const resolved = lines.filter((line, i) => {
      const head = heads[i];
      return line.incidentId !== null && head?.kind === RESOLVED_KIND && Date.parse(head.at) >= this.startedAt - ANNOUNCE_SLACK_MS;
    });
    if (resolved.length === 0) return;
    const at = this.o.clock().toISOString();
    // No audit record for the post itself: it would move the head just sealed.
    await this.o.store.transaction(async (tx) => {
      for (const line of resolved) {
        const incidentId = line.incidentId as number;
        for (const t of await tx.incidentTargets(incidentId)) {
          await tx.enqueueOutbox({ ...t, incidentId, kind: 'reply', payload: { text: sealedText(line) }, at });
        }
      }
    });
    this.o.onPosted?.();
  }
}
