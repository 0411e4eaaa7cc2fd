/* eslint-disable @typescript-eslint/require-await -- better-sqlite3 is synchronous; these methods are async to implement the Store port that PostgreSQL shares. */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { StepState } from '../core/card.js';
import type { MessageRef } from '../core/chat-platform.js';
import type { Approval, Choice, Incident, JobClaim, NewAuditEvent, NewIncident, NewStepRun, OutboxMessage, StoredAlert } from '../core/domain.js';
import { sqliteMigrations } from './migrations.js';
import { Mutex } from './mutex.js';
import {
  incidentPatchColumns,
  json,
  str,
  toAlert,
  toApproval,
  toAudit,
  toCard,
  toChoice,
  toDeliveredReply,
  toIncident,
  toJobRun,
  toOutbox,
  toRun,
  type Row,
} from './rows.js';
import type { DeliveredReply, IncidentPatch, Store, StoreTx, StepRunPatch } from './store.js';

/** The statements of one transaction, on better-sqlite3's synchronous API. */
class SqliteTx implements StoreTx {
  constructor(private readonly db: Database.Database) {}

  private all(sql: string, ...params: unknown[]): Row[] {
    return this.db.prepare(sql).all(...params) as Row[];
  }

  private get(sql: string, ...params: unknown[]): Row | undefined {
    return this.db.prepare(sql).get(...params) as Row | undefined;
  }

  private run(sql: string, ...params: unknown[]): Database.RunResult {
    return this.db.prepare(sql).run(...params);
  }

  async hasNotification(key: string) {
    return this.get('SELECT 1 FROM notifications WHERE dedupe_key = ?', key) !== undefined;
  }

  async insertNotification(key: string, incidentId: number, at: string) {
    this.run('INSERT INTO notifications (dedupe_key, incident_id, received_at) VALUES (?, ?, ?)', key, incidentId, at);
  }

  async insertIncident(i: NewIncident) {
    const result = this.run(
      `INSERT INTO incidents (group_key, episode, status, severity, title, receiver, group_labels, common_labels,
         common_annotations, external_url, truncated_alerts, previous_incident_id, targets, created_at, updated_at, last_seen_at, resolved_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      i.groupKey,
      i.episode,
      i.status,
      i.severity,
      i.title,
      i.receiver,
      json(i.groupLabels),
      json(i.commonLabels),
      json(i.commonAnnotations),
      i.externalUrl,
      i.truncatedAlerts,
      i.previousIncidentId,
      json(i.targets),
      i.createdAt,
      i.updatedAt,
      i.lastSeenAt,
      i.resolvedAt,
    );
    return { ...i, id: Number(result.lastInsertRowid), acknowledgement: null, silence: null, resolution: null, escalation: null };
  }

  async updateIncident(id: number, patch: IncidentPatch) {
    const columns = incidentPatchColumns(patch);
    if (columns.length === 0) return;
    const sets = columns.map(({ column }) => `${column} = ?`).join(', ');
    this.run(`UPDATE incidents SET ${sets} WHERE id = ?`, ...columns.map((c) => c.value), id);
  }

  async getIncident(id: number) {
    const row = this.get('SELECT * FROM incidents WHERE id = ?', id);
    return row && toIncident(row);
  }

  async latestIncidentOfGroup(groupKey: string) {
    const row = this.get('SELECT * FROM incidents WHERE group_key = ? ORDER BY episode DESC LIMIT 1', groupKey);
    return row && toIncident(row);
  }

  async listIncidents(filter: { status?: Incident['status']; limit: number }) {
    const rows = filter.status
      ? this.all('SELECT * FROM incidents WHERE status = ? ORDER BY id DESC LIMIT ?', filter.status, filter.limit)
      : this.all('SELECT * FROM incidents ORDER BY id DESC LIMIT ?', filter.limit);
    return rows.map(toIncident);
  }

  async advanceEscalation(id: number, fromLevel: number, toLevel: number, at: string) {
    const result = this.run(
      `UPDATE incidents SET escalation = ?, updated_at = ?
       WHERE id = ? AND status = 'firing' AND acknowledgement IS NULL
         AND COALESCE(json_extract(escalation, '$.level'), 0) = ?`,
      json({ level: toLevel, at }),
      at,
      id,
      fromLevel,
    );
    return result.changes === 1;
  }

  async upsertAlert(a: StoredAlert) {
    const existed = this.get('SELECT 1 FROM alerts WHERE incident_id = ? AND fingerprint = ?', a.incidentId, a.fingerprint);
    this.run(
      `INSERT INTO alerts (incident_id, fingerprint, status, labels, annotations, starts_at, ends_at, generator_url)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (incident_id, fingerprint) DO UPDATE SET status = excluded.status, labels = excluded.labels,
         annotations = excluded.annotations, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
         generator_url = excluded.generator_url`,
      a.incidentId,
      a.fingerprint,
      a.status,
      json(a.labels),
      json(a.annotations),
      a.startsAt,
      a.endsAt,
      a.generatorUrl,
    );
    return existed ? ('updated' as const) : ('inserted' as const);
  }

  async listAlerts(incidentId: number) {
    return this.all('SELECT * FROM alerts WHERE incident_id = ? ORDER BY starts_at, fingerprint', incidentId).map(toAlert);
  }

  async getCardMessage(incidentId: number, platform: string, channel: string) {
    const row = this.get(
      'SELECT * FROM card_messages WHERE incident_id = ? AND platform = ? AND channel = ?',
      incidentId,
      platform,
      channel,
    );
    return row && toCard(row);
  }

  async listCardMessages(incidentId: number) {
    return this.all('SELECT * FROM card_messages WHERE incident_id = ? ORDER BY platform, channel', incidentId).map(toCard);
  }

  async saveCardMessage(incidentId: number, ref: MessageRef) {
    this.run(
      `INSERT INTO card_messages (incident_id, platform, channel, message_id, thread_id) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (incident_id, platform, channel) DO UPDATE SET message_id = excluded.message_id, thread_id = excluded.thread_id`,
      incidentId,
      ref.platform,
      ref.channel,
      ref.messageId,
      ref.threadId,
    );
  }

  async insertStepRun(r: NewStepRun) {
    const result = this.run(
      `INSERT INTO step_runs (incident_id, runbook, step, step_title, params, platform, requested_by, requested_by_name,
         changes, required_approvals, self_approve, state, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      r.incidentId,
      r.runbook,
      r.step,
      r.stepTitle,
      json(r.params),
      r.platform,
      r.requestedBy,
      r.requestedByName,
      r.changes ? 1 : 0,
      r.requiredApprovals,
      r.selfApprove ? 1 : 0,
      r.state,
      r.createdAt,
      r.createdAt,
    );
    const run = await this.getStepRun(Number(result.lastInsertRowid));
    if (!run) throw new Error('step run vanished after insert');
    return run;
  }

  async getStepRun(id: number) {
    const row = this.get('SELECT * FROM step_runs WHERE id = ?', id);
    return row && toRun(row);
  }

  async listStepRuns(incidentId: number) {
    return this.all('SELECT * FROM step_runs WHERE incident_id = ? ORDER BY id', incidentId).map(toRun);
  }

  async activeStepRun(incidentId: number, runbook: string, step: string) {
    const row = this.get(
      `SELECT * FROM step_runs WHERE incident_id = ? AND runbook = ? AND step = ?
         AND state IN ('requested', 'approved', 'running') ORDER BY id DESC LIMIT 1`,
      incidentId,
      runbook,
      step,
    );
    return row && toRun(row);
  }

  async listStepRunsInState(state: StepState, limit: number) {
    return this.all('SELECT * FROM step_runs WHERE state = ? ORDER BY id LIMIT ?', state, limit).map(toRun);
  }

  async transitionStepRun(id: number, from: readonly StepState[], to: StepState, at: string, patch: StepRunPatch = {}) {
    const placeholders = from.map(() => '?').join(', ');
    const result = this.run(
      `UPDATE step_runs SET state = ?, updated_at = ?,
         started_at = COALESCE(?, started_at), finished_at = COALESCE(?, finished_at), result = COALESCE(?, result),
         runner = COALESCE(?, runner)
       WHERE id = ? AND state IN (${placeholders})`,
      to,
      at,
      patch.startedAt ?? null,
      patch.finishedAt ?? null,
      patch.result ? json(patch.result) : null,
      patch.runner ?? null,
      id,
      ...from,
    );
    return result.changes === 1;
  }

  async orphanedRuns(staleBefore: string, limit: number) {
    return this.all(
      `SELECT * FROM step_runs s WHERE s.state = 'running'
         AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.id = s.runner AND r.seen_at >= ?)
       ORDER BY s.id LIMIT ?`,
      staleBefore,
      limit,
    ).map(toRun);
  }

  async insertChoice(c: Omit<Choice, 'id'>) {
    const result = this.run(
      'INSERT INTO choices (incident_id, runbook, step, param, value, label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      c.incidentId,
      c.runbook,
      c.step,
      c.param,
      c.value,
      c.label,
      c.createdAt,
    );
    return { ...c, id: Number(result.lastInsertRowid) };
  }

  async getChoice(id: number) {
    const r = this.get('SELECT * FROM choices WHERE id = ?', id);
    return r && toChoice(r);
  }

  async insertApproval(a: Approval) {
    const result = this.run(
      'INSERT INTO approvals (run_id, approver, approver_name, decision, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      a.runId,
      a.approver,
      a.approverName,
      a.decision,
      a.at,
    );
    return result.changes === 1;
  }

  async listApprovals(runId: number) {
    return this.all('SELECT * FROM approvals WHERE run_id = ? ORDER BY at, approver', runId).map(toApproval);
  }

  async lastAuditHash(incidentId: number | null) {
    const row = this.get('SELECT hash FROM audit_events WHERE incident_id IS ? ORDER BY seq DESC LIMIT 1', incidentId);
    return row ? str(row.hash) : '';
  }

  async insertAudit(e: NewAuditEvent & { prevHash: string; hash: string }) {
    const result = this.run(
      'INSERT INTO audit_events (at, incident_id, actor, kind, text, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      e.at,
      e.incidentId,
      e.actor,
      e.kind,
      e.text,
      json(e.data),
      e.prevHash,
      e.hash,
    );
    return { ...e, seq: Number(result.lastInsertRowid) };
  }

  async listAudit(incidentId: number | null) {
    return this.all('SELECT * FROM audit_events WHERE incident_id IS ? ORDER BY seq', incidentId).map(toAudit);
  }

  async listExpiredAuditChains(before: string, limit: number) {
    return this.all(
      `SELECT i.id FROM incidents i JOIN audit_events a ON a.incident_id = i.id
       WHERE i.status = 'resolved' GROUP BY i.id HAVING MAX(a.at) < ? ORDER BY i.id LIMIT ?`,
      before,
      limit,
    ).map((r) => Number(r.id));
  }

  async deleteAudit(incidentId: number) {
    return this.run('DELETE FROM audit_events WHERE incident_id = ?', incidentId).changes;
  }

  async enqueueOutbox(m: { platform: string; channel: string; incidentId: number | null; kind: OutboxMessage['kind']; payload: unknown; at: string }) {
    const result = this.run(
      'INSERT INTO outbox (platform, channel, incident_id, kind, payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      m.platform,
      m.channel,
      m.incidentId,
      m.kind,
      json(m.payload ?? null),
      m.at,
      m.at,
    );
    return Number(result.lastInsertRowid);
  }

  async pendingCardSync(platform: string, channel: string, incidentId: number) {
    const row = this.get(
      `SELECT id FROM outbox WHERE state = 'pending' AND kind = 'card' AND platform = ? AND channel = ? AND incident_id = ?
       ORDER BY id DESC LIMIT 1`,
      platform,
      channel,
      incidentId,
    );
    return row ? Number(row.id) : undefined;
  }

  async dueThreadHeads(now: string, limit: number) {
    return this.all(
      `SELECT o.* FROM outbox o
       WHERE o.state = 'pending' AND o.next_attempt_at <= ?
         AND o.id = (SELECT MIN(h.id) FROM outbox h
                     WHERE h.state = 'pending' AND h.platform = o.platform AND h.channel = o.channel AND h.incident_id IS o.incident_id)
       ORDER BY o.id LIMIT ?`,
      now,
      limit,
    ).map(toOutbox);
  }

  async pendingOutbox(limit: number) {
    return this.all(`SELECT * FROM outbox WHERE state = 'pending' ORDER BY id LIMIT ?`, limit).map(toOutbox);
  }

  async markSending(id: number, at: string) {
    this.run('UPDATE outbox SET sending_since = ? WHERE id = ?', at, id);
  }

  async completeOutbox(id: number, at: string) {
    this.run(`UPDATE outbox SET state = 'done', sent_at = ?, attempts = attempts + 1, sending_since = NULL WHERE id = ?`, at, id);
  }

  async retryOutbox(id: number, nextAttemptAt: string, error: string, options: { mayHaveBeenDelivered?: boolean } = {}) {
    this.run(
      `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
         sending_since = CASE WHEN ? THEN sending_since ELSE NULL END
       WHERE id = ?`,
      nextAttemptAt,
      error,
      options.mayHaveBeenDelivered ? 1 : 0,
      id,
    );
  }

  async touchReplica(id: string, at: string) {
    this.run('INSERT INTO replicas (id, started_at, seen_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at', id, at, at);
  }

  async listJobRuns() {
    return this.all('SELECT * FROM job_runs ORDER BY job').map(toJobRun);
  }

  async initJobRun(job: string, slot: string) {
    this.run('INSERT INTO job_runs (job, last_slot) VALUES (?, ?) ON CONFLICT (job) DO NOTHING', job, slot);
  }

  async claimJobRun(job: string, slot: string, at: string): Promise<JobClaim> {
    await this.initJobRun(job, '');
    const row = this.get('SELECT * FROM job_runs WHERE job = ?', job);
    const state = row && toJobRun(row);
    if (!state || state.lastSlot >= slot) return 'taken';
    if (state.runningSince !== null) {
      const skipped = this.run('UPDATE job_runs SET last_slot = ? WHERE job = ? AND last_slot = ?', slot, job, state.lastSlot);
      return skipped.changes === 1 ? 'overlap' : 'taken';
    }
    const claimed = this.run(
      'UPDATE job_runs SET last_slot = ?, running_since = ? WHERE job = ? AND last_slot = ? AND running_since IS NULL',
      slot,
      at,
      job,
      state.lastSlot,
    );
    return claimed.changes === 1 ? 'claimed' : 'taken';
  }

  async finishJobRun(job: string, at: string, status: string) {
    this.run('UPDATE job_runs SET running_since = NULL, last_finished_at = ?, last_status = ? WHERE job = ?', at, status, job);
  }

  async advanceJobSlot(job: string, fromSlot: string, toSlot: string) {
    return this.run('UPDATE job_runs SET last_slot = ? WHERE job = ? AND last_slot = ?', toSlot, job, fromSlot).changes === 1;
  }

  async countPendingOutbox() {
    const row = this.get(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'`);
    return Number(row?.n ?? 0);
  }

  async listDeliveredReplies(platform: string, incidentId: number): Promise<DeliveredReply[]> {
    return this.all(
      `SELECT id, payload, created_at, sent_at FROM outbox
       WHERE platform = ? AND incident_id = ? AND kind = 'reply' AND state = 'done' ORDER BY id`,
      platform,
      incidentId,
    ).map(toDeliveredReply);
  }
}

/** The embedded store: one SQLite file in WAL mode, fsync on every commit so a 2xx means durable. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly tx: SqliteTx;
  private readonly lock = new Mutex();

  constructor(file: string) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a notification answered 2xx must survive power loss, not only a process crash.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.tx = new SqliteTx(this.db);
  }

  private migrate() {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = new Set(
      (this.db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version),
    );
    for (const migration of sqliteMigrations) {
      if (applied.has(migration.version)) continue;
      this.db.transaction(() => {
        this.db.exec(migration.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(migration.version, migration.name, new Date().toISOString());
      })();
    }
  }

  transaction<T>(work: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(this.tx);
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  async ping() {
    await this.lock.run(async () => {
      this.db.prepare('SELECT 1').get();
    });
  }

  async close() {
    await this.lock.run(async () => {
      if (this.db.open) this.db.close();
    });
  }
}
