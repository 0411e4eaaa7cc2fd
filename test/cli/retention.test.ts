/**
 * Retention of the audit trail (src/core/retention.ts) against the verifier: whole chains of old
 * resolved incidents are deleted with a checkpoint, and `audit:verify` (run as a process, as npm
 * runs it) still passes; deletions the checkpoint does not list are still reported.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/cli/audit-chains.js';
import { openReadOnly, readAudit } from '../../src/cli/audit-store.js';
import { SealFile } from '../../src/audit-files.js';
import { appendAudit } from '../../src/core/audit.js';
import { sealKey } from '../../src/core/audit-seal.js';
import { AuditSealer } from '../../src/core/audit-sealer.js';
import { alwaysLeader } from '../../src/core/ports/leadership.js';
import { pruneAuditBatch, toRanges } from '../../src/core/retention.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { newIncident } from '../unit/store/store-contract.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DAY = 86_400_000;
const NOW = Date.parse('2026-11-22T03:30:00.000Z');
const daysAgo = (d: number) => new Date(NOW - d * DAY).toISOString();

function verifyProcess(db: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/audit-verify.ts', '--db', db], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '' } });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

describe('audit retention', () => {
  let dir: string;
  let file: string;
  let store: SqliteStore;
  const ids: Record<string, number> = {};

  const verifyInProcess = () => {
    const db = openReadOnly(file);
    try {
      const { rows, sequenceCounter } = readAudit(db);
      return verifyAudit(rows, sequenceCounter);
    } finally {
      db.close();
    }
  };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'retention-'));
    file = path.join(dir, 'bot.db');
    store = new SqliteStore(file);
    // old-a and old-b: resolved 200 days ago; recent: resolved 10 days ago; open: still firing since 300 days.
    const specs = [
      ['old-a', 210, 'resolved'],
      ['old-b', 205, 'resolved'],
      ['recent', 12, 'resolved'],
      ['open', 300, 'firing'],
    ] as const;
    for (const [key, age, status] of specs) {
      const incident = await store.transaction((tx) => tx.insertIncident(newIncident(key, 1, { createdAt: daysAgo(age), status, resolvedAt: status === 'resolved' ? daysAgo(age - 10) : null })));
      ids[key] = incident.id;
    }
    // Interleaved records, as a busy bot writes them, plus a record of no incident.
    for (let round = 0; round < 3; round += 1) {
      for (const [key, age] of specs) {
        await store.transaction((tx) => appendAudit(tx, { at: daysAgo(age - 10 - round), incidentId: ids[key]!, actor: 'system', kind: 'test.event', text: `${key} ${round}`, data: { round } }));
      }
    }
    await store.transaction((tx) => appendAudit(tx, { at: daysAgo(250), incidentId: null, actor: 'system', kind: 'step.refused', text: 'refused', data: {} }));
  });
  afterEach(async () => {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('deletes whole chains of incidents resolved before the cut-off, keeps the rest, and audit:verify passes', async () => {
    const before = daysAgo(180);
    const result = await store.transaction((tx) => pruneAuditBatch(tx, before, new Date(NOW).toISOString(), 'system:scheduler'));
    expect(result).toEqual({ chains: 2, events: 6 });
    expect(await store.transaction((tx) => pruneAuditBatch(tx, before, new Date(NOW).toISOString(), 'system:scheduler'))).toEqual({ chains: 0, events: 0 });
    const left = async (key: string) => (await store.transaction((tx) => tx.listAudit(ids[key]!))).length;
    expect([await left('old-a'), await left('old-b'), await left('recent'), await left('open')]).toEqual([0, 0, 3, 3]);

    const v = verifyInProcess();
    expect(v.problems).toEqual([]);
    const proc = await verifyProcess(file);
    expect(proc.code).toBe(0);
    expect(proc.stdout).toContain('audit verified: 8 events in 3 chains, 0 problems');
  });

  it('still reports a deletion the checkpoint does not list, and an edited checkpoint', async () => {
    await store.transaction((tx) => pruneAuditBatch(tx, daysAgo(180), new Date(NOW).toISOString(), 'system:scheduler'));
    const raw = new Database(file);
    try {
      const victim = raw.prepare('SELECT seq FROM audit_events WHERE incident_id = ? ORDER BY seq LIMIT 1').get(ids.recent) as { seq: number };
      raw.prepare('DELETE FROM audit_events WHERE seq = ?').run(victim.seq);
      expect(verifyInProcess().problems.map((p) => [p.kind, p.seq])).toContainEqual(['gap', victim.seq]);
      // Widening the checkpoint's list to excuse the deletion breaks the checkpoint's own hash.
      raw.prepare(`UPDATE audit_events SET data = json_set(data, '$.deleted', json('[[1, 100]]')) WHERE kind = 'audit.retention'`).run();
      const problems = verifyInProcess().problems;
      expect(problems.some((p) => p.kind === 'chain' && p.message.includes('hash mismatch'))).toBe(true);
      expect(problems.some((p) => p.kind === 'gap' && p.seq <= victim.seq && (p.lastSeq ?? p.seq) >= victim.seq)).toBe(true);
    } finally {
      raw.close();
    }
    const proc = await verifyProcess(file);
    expect(proc.code).toBe(1);
  });

  it('with seals: a checkpoint sealed with the audit key lets the sealed chains it lists go; one without the key excuses nothing', async () => {
    // The bot's files beside the database: the key, and the seal file its sealer writes.
    const secret = randomBytes(32).toString('hex');
    await fs.writeFile(`${file}.audit-key`, `${secret}\n`, { mode: 0o600 });
    const key = sealKey(secret);
    const sealer = new AuditSealer({
      store,
      key,
      sealLog: await SealFile.open(`${file}.audit-seals`),
      existing: [],
      leadership: alwaysLeader,
      clock: () => new Date(NOW),
      log: pino({ level: 'silent' }),
      intervalMs: 60_000,
    });
    expect(await sealer.sealChanged()).toHaveLength(5);
    await store.transaction((tx) => pruneAuditBatch(tx, daysAgo(180), new Date(NOW).toISOString(), 'system:scheduler', key));
    await sealer.sealChanged();
    const sealed = await verifyProcess(file);
    expect(sealed.stdout).toContain('seals: 6 seal lines in 1 file, 5 chains sealed, no record after its last seal\naudit verified: 8 events in 3 chains, 0 problems');
    expect(sealed.code).toBe(0);

    // The same deletion by someone without the key: the chain of "recent" goes, with a checkpoint that hashes correctly.
    await store.transaction((tx) => pruneAuditBatch(tx, daysAgo(-1), new Date(NOW).toISOString(), 'system:scheduler'));
    const forged = await verifyProcess(file);
    expect(forged.stdout).toMatch(new RegExp(`^BROKEN incident ${ids.recent} sealed: seal \\d+ of .* covers 3 records, none is left`, 'm'));
    expect(forged.stdout).toMatch(/^BROKEN no-incident chain sealed: retention checkpoint is not sealed with the audit key/m);
    expect(forged.code).toBe(1);
  });

  it('compresses seqs into ranges', () => {
    expect(toRanges([9, 3, 4, 5, 10, 4])).toEqual([
      [3, 5],
      [9, 10],
    ]);
  });
});
