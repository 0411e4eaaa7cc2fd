import type pg from 'pg';
import type { StepState } from '../core/card.js';
import type { MessageRef } from '../core/chat-platform.js';
import type { Approval, Choice, Incident, JobClaim, NewAuditEvent, NewIncident, NewStepRun, OutboxMessage, StoredAlert } from '../core/domain.js';
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
import type { IncidentPatch, StoreTx, StepRunPatch } from './store.js';

/**
 * The statements of one PostgreSQL transaction, all on that transaction's own client: the SQL of
 * SqliteTx in PostgreSQL's dialect ($n parameters, RETURNING for new ids), with the same results.
 */
export class PostgresTx implements StoreTx {
  private ended = false;

  constructor(private readonly client: pg.PoolClient) {}

  /** Called when the transaction is over: the client goes back to the pool, maybe into another transaction. */
  end(): void {
    this.ended = true;
  }

  private async query(sql: string, params: unknown[]): Promise<pg.QueryResult<Row>> {
    // A callback that kept `tx` and used it later would otherwise run outside any transaction, or inside someone else's.
    if (this.ended) throw new Error('store transaction already ended: statements must run inside its callback');
    return this.client.query<Row>(sql, params);
  }

  private async all(sql: string, ...params: unknown[]): Promise<Row[]> {
    return (await this.query(sql, params)).rows;
  }

  private async get(sql: string, ...params: unknown[]): Promise<Row | undefined> {
    return (await this.query(sql, params)).rows[0];
  }

  /** Runs a write; returns how many rows it changed. */
  private async run(sql: string, ...params: unknown[]): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  /** An INSERT … RETURNING's row (where SQLite reads lastInsertRowid). */
  private async inserted(sql: string, ...params: unknown[]): Promise<Row> {
    const row = await this.get(sql, ...params);
    if (!row) throw new Error('INSERT … RETURNING returned no row');
    return row;
  }

  async hasNotification(key: string) {
    return (await this.get('SELECT 1 FROM notifications WHERE dedupe_key = $1', key)) !== undefined;
  }

  async insertNotification(key: string, incidentId: number, at: string) {
    await this.run('INSERT INTO notifications (dedupe_key, incident_id, received_at) VALUES ($1, $2, $3)', key, incidentId, at);
  }

  async insertIncident(i: NewIncident) {
    const { id } = await this.inserted(
      `INSERT INTO incidents (group_key, episode, status, severity, title, receiver, group_labels, common_labels,
         common_annotations, external_url, truncated_alerts, previous_incident_id, targets, created_at, updated_at, last_seen_at, resolved_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
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
    return { ...i, id: Number(id), acknowledgement: null, silence: null, resolution: null, escalation: null };
  }

  async updateIncident(id: number, patch: IncidentPatch) {
    const sets = incidentPatchColumns(patch);
    if (sets.length === 0) return;
    const assignments = sets.map((s, n) => `${s.column} = $${n + 1}`).join(', ');
    await this.run(`UPDATE incidents SET ${assignments} WHERE id = $${sets.length + 1}`, ...sets.map((s) => s.value), id);
  }

  async getIncident(id: number) {
    const row = await this.get('SELECT * FROM incidents WHERE id = $1', id);
    return row && toIncident(row);
  }

  async latestIncidentOfGroup(groupKey: string) {
    const row = await this.get('SELECT * FROM incidents WHERE group_key = $1 ORDER BY episode DESC LIMIT 1', groupKey);
    return row && toIncident(row);
  }

  async listIncidents(filter: { status?: Incident['status']; limit: number }) {
    const rows = filter.status
      ? await this.all('SELECT * FROM incidents WHERE status = $1 ORDER BY id DESC LIMIT $2', filter.status, filter.limit)
      : await this.all('SELECT * FROM incidents ORDER BY id DESC LIMIT $1', filter.limit);
    return rows.map(toIncident);
  }

  async advanceEscalation(id: number, fromLevel: number, toLevel: number, at: string) {
    // The column is JSON as text (like SQLite's); the cast reads the level where SQLite uses json_extract.
    const changed = await this.run(
      `UPDATE incidents SET escalation = $1, updated_at = $2
       WHERE id = $3 AND status = 'firing' AND acknowledgement IS NULL
         AND COALESCE((escalation::json ->> 'level')::numeric, 0) = $4`,
      json({ level: toLevel, at }),
      at,
      id,
      fromLevel,
    );
    return changed === 1;
  }

  async upsertAlert(a: StoredAlert) {
    const existed = await this.get('SELECT 1 FROM alerts WHERE incident_id = $1 AND fingerprint = $2', a.incidentId, a.fingerprint);
    await this.run(
      `INSERT INTO alerts (incident_id, fingerprint, status, labels, annotations, starts_at, ends_at, generator_url)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
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
    return (await this.all('SELECT * FROM alerts WHERE incident_id = $1 ORDER BY starts_at, fingerprint', incidentId)).map(toAlert);
  }

  async getCardMessage(incidentId: number, platform: string, channel: string) {
    const row = await this.get('SELECT * FROM card_messages WHERE incident_id = $1 AND platform = $2 AND channel = $3', incidentId, platform, channel);
    return row && toCard(row);
  }

  async listCardMessages(incidentId: number) {
    return (await this.all('SELECT * FROM card_messages WHERE incident_id = $1 ORDER BY platform, channel', incidentId)).map(toCard);
  }

  async saveCardMessage(incidentId: number, ref: MessageRef) {
    await this.run(
      `INSERT INTO card_messages (incident_id, platform, channel, message_id, thread_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (incident_id, platform, channel) DO UPDATE SET message_id = excluded.message_id, thread_id = excluded.thread_id`,
      incidentId,
      ref.platform,
      ref.channel,
      ref.messageId,
      ref.threadId,
    );
  }

  async insertStepRun(r: NewStepRun) {
    const row = await this.inserted(
      `INSERT INTO step_runs (incident_id, runbook, step, step_title, params, platform, requested_by, requested_by_name,
         changes, required_approvals, self_approve, state, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING *`,
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
    return toRun(row);
  }

  async getStepRun(id: number) {
    const row = await this.get('SELECT * FROM step_runs WHERE id = $1', id);
    return row && toRun(row);
  }

  async listStepRuns(incidentId: number) {
    return (await this.all('SELECT * FROM step_runs WHERE incident_id = $1 ORDER BY id', incidentId)).map(toRun);
  }

  async activeStepRun(incidentId: number, runbook: string, step: string) {
    const row = await this.get(
      `SELECT * FROM step_runs WHERE incident_id = $1 AND runbook = $2 AND step = $3
         AND state IN ('requested', 'approved', 'running') ORDER BY id DESC LIMIT 1`,
      incidentId,
      runbook,
      step,
    );
    return row && toRun(row);
  }

  async listStepRunsInState(state: StepState, limit: number) {
    return (await this.all('SELECT * FROM step_runs WHERE state = $1 ORDER BY id LIMIT $2', state, limit)).map(toRun);
  }

  async orphanedRuns(staleBefore: string, limit: number) {
    return (
      await this.all(
        `SELECT * FROM step_runs s WHERE s.state = 'running'
           AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.id = s.runner AND r.seen_at >= $1)
         ORDER BY s.id LIMIT $2`,
        staleBefore,
        limit,
      )
    ).map(toRun);
  }

  async transitionStepRun(id: number, from: readonly StepState[], to: StepState, at: string, patch: StepRunPatch = {}) {
    const changed = await this.run(
      `UPDATE step_runs SET state = $1, updated_at = $2,
         started_at = COALESCE($3, started_at), finished_at = COALESCE($4, finished_at), result = COALESCE($5, result),
         runner = COALESCE($6, runner)
       WHERE id = $7 AND state = ANY($8::text[])`,
      to,
      at,
      patch.startedAt ?? null,
      patch.finishedAt ?? null,
      patch.result ? json(patch.result) : null,
      patch.runner ?? null,
      id,
      [...from],
    );
    return changed === 1;
  }

  async insertChoice(c: Omit<Choice, 'id'>) {
    const { id } = await this.inserted(
      'INSERT INTO choices (incident_id, runbook, step, param, value, label, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
      c.incidentId,
      c.runbook,
      c.step,
      c.param,
      c.value,
      c.label,
      c.createdAt,
    );
    return { ...c, id: Number(id) };
  }

  async getChoice(id: number) {
    const row = await this.get('SELECT * FROM choices WHERE id = $1', id);
    return row && toChoice(row);
  }

  async insertApproval(a: Approval) {
    const inserted = await this.run(
      'INSERT INTO approvals (run_id, approver, approver_name, decision, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
      a.runId,
      a.approver,
      a.approverName,
      a.decision,
      a.at,
    );
    return inserted === 1;
  }

  async listApprovals(runId: number) {
    return (await this.all('SELECT * FROM approvals WHERE run_id = $1 ORDER BY at, approver', runId)).map(toApproval);
  }

  // The audit queries spell out `IS NULL` / `= $1` where SQLite writes `incident_id IS ?`: PostgreSQL
  // cannot use an index for IS NOT DISTINCT FROM, and these run on every audited action, over a table
  // that only grows.
  async lastAuditHash(incidentId: number | null) {
    const row =
      incidentId === null
        ? await this.get('SELECT hash FROM audit_events WHERE incident_id IS NULL ORDER BY seq DESC LIMIT 1')
        : await this.get('SELECT hash FROM audit_events WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1', incidentId);
    return row ? str(row.hash) : '';
  }

  async insertAudit(e: NewAuditEvent & { prevHash: string; hash: string }) {
    const { seq } = await this.inserted(
      'INSERT INTO audit_events (at, incident_id, actor, kind, text, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq',
      e.at,
      e.incidentId,
      e.actor,
      e.kind,
      e.text,
      json(e.data),
      e.prevHash,
      e.hash,
    );
    return { ...e, seq: Number(seq) };
  }

  async listAudit(incidentId: number | null) {
    const rows =
      incidentId === null
        ? await this.all('SELECT * FROM audit_events WHERE incident_id IS NULL ORDER BY seq')
        : await this.all('SELECT * FROM audit_events WHERE incident_id = $1 ORDER BY seq', incidentId);
    return rows.map(toAudit);
  }

  async listExpiredAuditChains(before: string, limit: number) {
    const rows = await this.all(
      `SELECT i.id FROM incidents i JOIN audit_events a ON a.incident_id = i.id
       WHERE i.status = 'resolved' GROUP BY i.id HAVING MAX(a.at) < $1 ORDER BY i.id LIMIT $2`,
      before,
      limit,
    );
    return rows.map((r) => Number(r.id));
  }

  async deleteAudit(incidentId: number) {
    return this.run('DELETE FROM audit_events WHERE incident_id = $1', incidentId);
  }

  async enqueueOutbox(m: { platform: string; channel: string; incidentId: number | null; kind: OutboxMessage['kind']; payload: unknown; at: string }) {
    const { id } = await this.inserted(
      'INSERT INTO outbox (platform, channel, incident_id, kind, payload, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
      m.platform,
      m.channel,
      m.incidentId,
      m.kind,
      json(m.payload ?? null),
      m.at,
      m.at,
    );
    return Number(id);
  }

  async pendingCardSync(platform: string, channel: string, incidentId: number) {
    const row = await this.get(
      `SELECT id FROM outbox WHERE state = 'pending' AND kind = 'card' AND platform = $1 AND channel = $2 AND incident_id = $3
       ORDER BY id DESC LIMIT 1`,
      platform,
      channel,
      incidentId,
    );
    return row ? Number(row.id) : undefined;
  }

  async dueThreadHeads(now: string, limit: number) {
    // IS NOT DISTINCT FROM: a post's thread is its channel (no incident), and NULL = NULL is not true.
    const rows = await this.all(
      `SELECT o.* FROM outbox o
       WHERE o.state = 'pending' AND o.next_attempt_at <= $1
         AND o.id = (SELECT MIN(h.id) FROM outbox h
                     WHERE h.state = 'pending' AND h.platform = o.platform AND h.channel = o.channel
                       AND h.incident_id IS NOT DISTINCT FROM o.incident_id)
       ORDER BY o.id LIMIT $2`,
      now,
      limit,
    );
    return rows.map(toOutbox);
  }

  async pendingOutbox(limit: number) {
    return (await this.all(`SELECT * FROM outbox WHERE state = 'pending' ORDER BY id LIMIT $1`, limit)).map(toOutbox);
  }

  async markSending(id: number, at: string) {
    await this.run('UPDATE outbox SET sending_since = $1 WHERE id = $2', at, id);
  }

  async completeOutbox(id: number, at: string) {
    await this.run(`UPDATE outbox SET state = 'done', sent_at = $1, attempts = attempts + 1, sending_since = NULL WHERE id = $2`, at, id);
  }

  async retryOutbox(id: number, nextAttemptAt: string, error: string, options: { mayHaveBeenDelivered?: boolean } = {}) {
    await this.run(
      `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2,
         sending_since = CASE WHEN $3::boolean THEN sending_since ELSE NULL END
       WHERE id = $4`,
      nextAttemptAt,
      error,
      options.mayHaveBeenDelivered === true,
      id,
    );
  }

  async countPendingOutbox() {
    const row = await this.get(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'`);
    return Number(row?.n ?? 0);
  }

  async listDeliveredReplies(platform: string, incidentId: number) {
    const rows = await this.all(
      `SELECT id, payload, created_at, sent_at FROM outbox
       WHERE platform = $1 AND incident_id = $2 AND kind = 'reply' AND state = 'done' ORDER BY id`,
      platform,
      incidentId,
    );
    return rows.map(toDeliveredReply);
  }

  async touchReplica(id: string, at: string) {
    await this.run(
      'INSERT INTO replicas (id, started_at, seen_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at',
      id,
      at,
      at,
    );
  }

  async listJobRuns() {
    return (await this.all('SELECT * FROM job_runs ORDER BY job')).map(toJobRun);
  }

  async initJobRun(job: string, slot: string) {
    await this.run('INSERT INTO job_runs (job, last_slot) VALUES ($1, $2) ON CONFLICT (job) DO NOTHING', job, slot);
  }

  async claimJobRun(job: string, slot: string, at: string): Promise<JobClaim> {
    await this.initJobRun(job, '');
    const row = await this.get('SELECT * FROM job_runs WHERE job = $1', job);
    const state = row && toJobRun(row);
    if (!state || state.lastSlot >= slot) return 'taken';
    if (state.runningSince !== null) {
      const skipped = await this.run('UPDATE job_runs SET last_slot = $1 WHERE job = $2 AND last_slot = $3', slot, job, state.lastSlot);
      return skipped === 1 ? 'overlap' : 'taken';
    }
    const claimed = await this.run(
      'UPDATE job_runs SET last_slot = $1, running_since = $2 WHERE job = $3 AND last_slot = $4 AND running_since IS NULL',
      slot,
      at,
      job,
      state.lastSlot,
    );
    return claimed === 1 ? 'claimed' : 'taken';
  }

  async finishJobRun(job: string, at: string, status: string) {
    await this.run('UPDATE job_runs SET running_since = NULL, last_finished_at = $1, last_status = $2 WHERE job = $3', at, status, job);
  }

  async advanceJobSlot(job: string, fromSlot: string, toSlot: string) {
    return (await this.run('UPDATE job_runs SET last_slot = $1 WHERE job = $2 AND last_slot = $3', toSlot, job, fromSlot)) === 1;
  }
}
