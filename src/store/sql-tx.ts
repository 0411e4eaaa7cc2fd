import type { MessageRef } from '../core/ports/chat-platform.js';
import { ALERT_PARAM, type AuditHead, type Severity, type StepState, type ThreadMessage, type Approval, type CardTarget, type Choice, type DeliveryTarget, type Incident, type JobClaim, type NewAuditEvent, type NewIncident, type NewStepRun, type OutboxMessage, type RecordedProcess, type StoredAlert } from '../core/domain.js';
import {
  incidentPatchColumns,
  json,
  parse,
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
  toQueuedNotification,
  toRun,
  type Row,
} from './rows.js';
import type { SqlDriver } from './sql-driver.js';
import { RunnerSqlTx } from './runner-tx.js';
import { StormSqlTx } from './storm-tx.js';
import type { DeliveredReply, IncidentPatch, QueuedReply, StoreTx, StepRunPatch } from '../core/ports/store.js';

// Over 300 lines: one implementation of the StoreTx port for both SQL dialects; it mirrors the
// port method by method, which is easier to check against it than several partial files.

/**
 * The statements of one transaction, written once for SQLite and PostgreSQL: the SQL both accept,
 * `?` placeholders, and the driver's dialect where they differ. SQLite and PostgreSQL keep the same
 * columns with the same encodings, so the rows map to the same domain objects (see rows.ts).
 */
export class SqlTx implements StoreTx {
  readonly runners: RunnerSqlTx;
  readonly storms: StormSqlTx;

  constructor(private readonly db: SqlDriver) {
    this.runners = new RunnerSqlTx(db);
    this.storms = new StormSqlTx(db);
  }

  /** The row of an `INSERT … RETURNING`. */
  private async inserted(sql: string, params: unknown[]): Promise<Row> {
    const row = await this.db.get(sql, params);
    if (!row) throw new Error('INSERT … RETURNING returned no row');
    return row;
  }

  async firstSighting(key: string, now: string, expiresAt: string) {
    await this.db.run('DELETE FROM seen_requests WHERE expires_at <= ?', [now]);
    const row = await this.db.get('INSERT INTO seen_requests (request_key, expires_at) VALUES (?, ?) ON CONFLICT (request_key) DO NOTHING RETURNING request_key', [key, expiresAt]);
    return row !== undefined;
  }

  async hasNotification(key: string) {
    return (await this.db.get('SELECT 1 FROM notifications WHERE dedupe_key = ?', [key])) !== undefined;
  }

  async insertNotification(key: string, incidentId: number, at: string) {
    await this.db.run('INSERT INTO notifications (dedupe_key, incident_id, received_at) VALUES (?, ?, ?)', [key, incidentId, at]);
  }

  async queueNotification(n: { groupKey: string; receivedAt: string; body: string }) {
    const { seq } = await this.inserted('INSERT INTO inbox (group_key, received_at, body) VALUES (?, ?, ?) RETURNING seq', [n.groupKey, n.receivedAt, n.body]);
    return Number(seq);
  }

  async hasQueuedNotification(groupKey: string) {
    return (await this.db.get('SELECT 1 FROM inbox WHERE group_key = ? AND failed_at IS NULL LIMIT 1', [groupKey])) !== undefined;
  }

  async queuedNotifications(limit: number) {
    const rows = await this.db.all('SELECT seq, group_key, received_at, body, attempts FROM inbox WHERE failed_at IS NULL ORDER BY seq LIMIT ?', [limit]);
    return rows.map(toQueuedNotification);
  }

  async takeQueuedNotification(seq: number, groupKey: string) {
    const taken = await this.db.run(
      `DELETE FROM inbox WHERE seq = ? AND failed_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM inbox older WHERE older.group_key = ? AND older.seq < ? AND older.failed_at IS NULL)`,
      [seq, groupKey, seq],
    );
    return taken > 0;
  }

  async failQueuedNotification(seq: number, error: string, at: string, giveUp: boolean) {
    await this.db.run('UPDATE inbox SET attempts = attempts + 1, last_error = ?, failed_at = ? WHERE seq = ?', [error, giveUp ? at : null, seq]);
  }

  async countQueuedNotifications() {
    // Two counts, each on its partial index: one count over the table reads every body.
    const row = await this.db.get(
      'SELECT (SELECT COUNT(*) FROM inbox WHERE failed_at IS NULL) AS waiting, (SELECT COUNT(*) FROM inbox WHERE failed_at IS NOT NULL) AS failed',
    );
    return { waiting: Number(row?.waiting ?? 0), failed: Number(row?.failed ?? 0) };
  }

  async insertIncident(i: NewIncident) {
    const { id } = await this.inserted(
      `INSERT INTO incidents (group_key, episode, status, severity, title, receiver, group_labels, common_labels,
         common_annotations, external_url, truncated_alerts, previous_incident_id, targets, created_at, updated_at, last_seen_at, resolved_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [
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
      ],
    );
    return { ...i, id: Number(id), acknowledgement: null, silence: null, resolution: null, escalation: null };
  }

  async updateIncident(id: number, patch: IncidentPatch) {
    const columns = incidentPatchColumns(patch);
    if (columns.length === 0) return;
    const sets = columns.map(({ column }) => `${column} = ?`).join(', ');
    await this.db.run(`UPDATE incidents SET ${sets} WHERE id = ?`, [...columns.map((c) => c.value), id]);
  }

  async getIncident(id: number) {
    const row = await this.db.get('SELECT * FROM incidents WHERE id = ?', [id]);
    return row && toIncident(row);
  }

  async incidentTargets(id: number) {
    const row = await this.db.get('SELECT targets FROM incidents WHERE id = ?', [id]);
    return row ? parse<DeliveryTarget[]>(row.targets) : [];
  }

  async latestIncidentOfGroup(groupKey: string) {
    const row = await this.db.get('SELECT * FROM incidents WHERE group_key = ? ORDER BY episode DESC LIMIT 1', [groupKey]);
    return row && toIncident(row);
  }

  async listIncidents(filter: { status?: Incident['status']; limit: number }) {
    const rows = filter.status
      ? await this.db.all('SELECT * FROM incidents WHERE status = ? ORDER BY id DESC LIMIT ?', [filter.status, filter.limit])
      : await this.db.all('SELECT * FROM incidents ORDER BY id DESC LIMIT ?', [filter.limit]);
    return rows.map(toIncident);
  }

  async countIncidents(status: Incident['status']) {
    return Number((await this.db.get('SELECT COUNT(*) AS n FROM incidents WHERE status = ?', [status]))?.n ?? 0);
  }

  async advanceEscalation(id: number, fromLevel: number, toLevel: number, at: string) {
    const changed = await this.db.run(
      `UPDATE incidents SET escalation = ?, updated_at = ?
       WHERE id = ? AND status = 'firing' AND acknowledgement IS NULL
         AND COALESCE(${this.db.dialect.escalationLevel}, 0) = ?`,
      [json({ level: toLevel, at }), at, id, fromLevel],
    );
    return changed === 1;
  }

  async upsertAlert(a: StoredAlert) {
    const existed = await this.db.get('SELECT 1 FROM alerts WHERE incident_id = ? AND fingerprint = ?', [a.incidentId, a.fingerprint]);
    await this.db.run(
      `INSERT INTO alerts (incident_id, fingerprint, status, labels, annotations, starts_at, ends_at, generator_url)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (incident_id, fingerprint) DO UPDATE SET status = excluded.status, labels = excluded.labels,
         annotations = excluded.annotations, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
         generator_url = excluded.generator_url`,
      [a.incidentId, a.fingerprint, a.status, json(a.labels), json(a.annotations), a.startsAt, a.endsAt, a.generatorUrl],
    );
    return existed ? ('updated' as const) : ('inserted' as const);
  }

  async listAlerts(incidentId: number) {
    return (await this.db.all('SELECT * FROM alerts WHERE incident_id = ? ORDER BY starts_at, fingerprint', [incidentId])).map(toAlert);
  }

  async getCardMessage(incidentId: number, platform: string, channel: string) {
    const row = await this.db.get('SELECT * FROM card_messages WHERE incident_id = ? AND platform = ? AND channel = ?', [incidentId, platform, channel]);
    return row && toCard(row);
  }

  async listCardMessages(incidentId: number) {
    return (await this.db.all('SELECT * FROM card_messages WHERE incident_id = ? ORDER BY platform, channel', [incidentId])).map(toCard);
  }

  async saveCardMessage(incidentId: number, ref: MessageRef) {
    await this.db.run(
      `INSERT INTO card_messages (incident_id, platform, channel, message_id, thread_id) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (incident_id, platform, channel) DO UPDATE SET message_id = excluded.message_id, thread_id = excluded.thread_id`,
      [incidentId, ref.platform, ref.channel, ref.messageId, ref.threadId],
    );
  }

  async insertStepRun(r: NewStepRun) {
    const row = await this.inserted(
      `INSERT INTO step_runs (incident_id, runbook, step, step_title, params, platform, requested_by, requested_by_name,
         changes, required_approvals, self_approve, state, created_at, updated_at, requested_session)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [
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
        r.requestedSession ?? null,
      ],
    );
    return toRun(row);
  }

  async getStepRun(id: number) {
    const row = await this.db.get('SELECT * FROM step_runs WHERE id = ?', [id]);
    return row && toRun(row);
  }

  async listStepRuns(incidentId: number) {
    return (await this.db.all('SELECT * FROM step_runs WHERE incident_id = ? ORDER BY id', [incidentId])).map(toRun);
  }

  async activeStepRun(incidentId: number, runbook: string, step: string, target?: string) {
    // The alert a run is for lives in its params (JSON, read alike on both databases here rather
    // than with two dialects' JSON operators); a step has few unfinished runs at a time.
    const rows = await this.db.all(
      `SELECT * FROM step_runs WHERE incident_id = ? AND runbook = ? AND step = ?
         AND state IN ('requested', 'approved', 'running') ORDER BY id DESC`,
      [incidentId, runbook, step],
    );
    return rows.map(toRun).find((run) => {
      const runTarget = run.params[ALERT_PARAM];
      return target === undefined || runTarget === undefined || runTarget === target;
    });
  }

  async listStepRunsInState(state: StepState, limit: number) {
    return (await this.db.all('SELECT * FROM step_runs WHERE state = ? ORDER BY id LIMIT ?', [state, limit])).map(toRun);
  }

  async orphanedRuns(staleBefore: string, limit: number) {
    const rows = await this.db.all(
      `SELECT * FROM step_runs s WHERE s.state = 'running'
         AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.id = s.runner AND r.seen_at >= ?)
       ORDER BY s.id LIMIT ?`,
      [staleBefore, limit],
    );
    return rows.map(toRun);
  }

  async recordStepProcess(id: number, p: Omit<RecordedProcess, 'endedAt'>) {
    const changed = await this.db.run(
      `UPDATE step_runs SET proc_pid = ?, proc_pgid = ?, proc_started_at = ?, proc_host = ?, proc_ended_at = NULL
       WHERE id = ? AND state = 'running'`,
      [p.pid, p.pgid, p.startedAt, p.host, id],
    );
    return changed === 1;
  }

  async leftoverStepRuns(host: string | null, limit: number) {
    const rows = await this.db.all(
      `SELECT * FROM step_runs WHERE state = 'interrupted' AND proc_pid IS NOT NULL AND proc_ended_at IS NULL
         AND (CAST(? AS TEXT) IS NULL OR proc_host = ?)
       ORDER BY id LIMIT ?`,
      [host, host, limit],
    );
    return rows.map(toRun);
  }

  async endStepProcess(id: number, at: string) {
    return (await this.db.run('UPDATE step_runs SET proc_ended_at = ? WHERE id = ? AND proc_pid IS NOT NULL AND proc_ended_at IS NULL', [at, id])) === 1;
  }

  async stepRunsThatMayRun(runbook: string, step: string) {
    const rows = await this.db.all(
      `SELECT * FROM step_runs WHERE runbook = ? AND step = ?
         AND (state = 'running' OR (state = 'interrupted' AND proc_pid IS NOT NULL AND proc_ended_at IS NULL))
       ORDER BY id`,
      [runbook, step],
    );
    return rows.map(toRun);
  }

  async transitionStepRun(id: number, from: readonly StepState[], to: StepState, at: string, patch: StepRunPatch = {}) {
    // No run is in no state; and PostgreSQL, unlike SQLite, rejects an empty `IN ()`.
    if (from.length === 0) return false;
    const changed = await this.db.run(
      `UPDATE step_runs SET state = ?, updated_at = ?,
         started_at = COALESCE(?, started_at), finished_at = COALESCE(?, finished_at), result = COALESCE(?, result),
         runner = COALESCE(?, runner)
       WHERE id = ? AND state IN (${from.map(() => '?').join(', ')})`,
      [to, at, patch.startedAt ?? null, patch.finishedAt ?? null, patch.result ? json(patch.result) : null, patch.runner ?? null, id, ...from],
    );
    return changed === 1;
  }

  async insertChoice(c: Omit<Choice, 'id'>) {
    const { id } = await this.inserted(
      'INSERT INTO choices (incident_id, runbook, step, param, value, label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
      [c.incidentId, c.runbook, c.step, c.param, c.value, c.label, c.createdAt],
    );
    return { ...c, id: Number(id) };
  }

  async getChoice(id: number) {
    const row = await this.db.get('SELECT * FROM choices WHERE id = ?', [id]);
    return row && toChoice(row);
  }

  async insertApproval(a: Approval) {
    const inserted = await this.db.run(
      'INSERT INTO approvals (run_id, approver, approver_name, decision, at, session) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [a.runId, a.approver, a.approverName, a.decision, a.at, a.session ?? null],
    );
    return inserted === 1;
  }

  async listApprovals(runId: number) {
    return (await this.db.all('SELECT * FROM approvals WHERE run_id = ? ORDER BY at, approver', [runId])).map(toApproval);
  }

  async listIncidentApprovals(incidentId: number) {
    const rows = await this.db.all('SELECT a.* FROM approvals a JOIN step_runs r ON r.id = a.run_id WHERE r.incident_id = ? ORDER BY a.run_id, a.at, a.approver', [incidentId]);
    return rows.map(toApproval);
  }

  // The audit queries spell out `IS NULL` / `= ?` rather than one IS NOT DISTINCT FROM: PostgreSQL
  // cannot use an index for that, and these run on every audited action, over a table that only
  // grows. (SQLite uses its index either way.)
  async lastAuditHash(incidentId: number | null) {
    const row =
      incidentId === null
        ? await this.db.get('SELECT hash FROM audit_events WHERE incident_id IS NULL ORDER BY seq DESC LIMIT 1')
        : await this.db.get('SELECT hash FROM audit_events WHERE incident_id = ? ORDER BY seq DESC LIMIT 1', [incidentId]);
    return row ? str(row.hash) : '';
  }

  async insertAudit(e: NewAuditEvent & { prevHash: string; hash: string }) {
    const { seq } = await this.inserted(
      'INSERT INTO audit_events (at, incident_id, actor, kind, text, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq',
      [e.at, e.incidentId, e.actor, e.kind, e.text, json(e.data), e.prevHash, e.hash],
    );
    return { ...e, seq: Number(seq) };
  }

  async listAudit(incidentId: number | null) {
    const rows =
      incidentId === null
        ? await this.db.all('SELECT * FROM audit_events WHERE incident_id IS NULL ORDER BY seq')
        : await this.db.all('SELECT * FROM audit_events WHERE incident_id = ? ORDER BY seq', [incidentId]);
    return rows.map(toAudit);
  }

  async recentSchedulePosts(limit: number) {
    const rows = await this.db.all(
      `SELECT * FROM audit_events WHERE incident_id IS NULL AND kind IN ('schedule.finished', 'schedule.missed', 'schedule.interrupted') ORDER BY seq DESC LIMIT ?`,
      [limit],
    );
    return rows.map(toAudit);
  }

  async saveStepOutput(runId: number, output: string, at: string) {
    await this.db.run('INSERT INTO step_outputs (run_id, output, at) VALUES (?, ?, ?) ON CONFLICT (run_id) DO NOTHING', [runId, output, at]);
  }

  async getStepOutput(runId: number) {
    const row = await this.db.get('SELECT output FROM step_outputs WHERE run_id = ?', [runId]);
    return row ? str(row.output) : undefined;
  }

  async listExpiredAuditChains(before: string, limit: number) {
    const rows = await this.db.all(
      `SELECT i.id FROM incidents i JOIN audit_events a ON a.incident_id = i.id
       WHERE i.status = 'resolved' GROUP BY i.id HAVING MAX(a.at) < ? ORDER BY i.id LIMIT ?`,
      [before, limit],
    );
    return rows.map((r) => Number(r.id));
  }

  async deleteAudit(incidentId: number) {
    return this.db.run('DELETE FROM audit_events WHERE incident_id = ?', [incidentId]);
  }

  async auditHeads(afterSeq: number, limit: number) {
    // MAX(seq) over the rows above afterSeq is the chain's newest record; the count then stops at
    // that seq, so a record appended meanwhile cannot make the count and the head disagree.
    const touched = await this.db.all('SELECT incident_id, MAX(seq) AS head_seq FROM audit_events WHERE seq > ? GROUP BY incident_id ORDER BY head_seq LIMIT ?', [afterSeq, limit]);
    const heads: AuditHead[] = [];
    for (const t of touched) {
      const incidentId = t.incident_id === null ? null : Number(t.incident_id);
      const headSeq = Number(t.head_seq);
      const counted =
        incidentId === null
          ? await this.db.get('SELECT COUNT(*) AS n FROM audit_events WHERE incident_id IS NULL AND seq <= ?', [headSeq])
          : await this.db.get('SELECT COUNT(*) AS n FROM audit_events WHERE incident_id = ? AND seq <= ?', [incidentId, headSeq]);
      const head = await this.db.get('SELECT hash, kind, at FROM audit_events WHERE seq = ?', [headSeq]);
      if (!head || !counted) continue;
      heads.push({ incidentId, seq: headSeq, count: Number(counted.n), hash: str(head.hash), kind: str(head.kind), at: str(head.at) });
    }
    return heads;
  }

  async enqueueOutbox(m: { platform: string; channel: string; incidentId: number | null; kind: OutboxMessage['kind']; payload: unknown; at: string; subject?: string | undefined }) {
    const { id } = await this.inserted(
      'INSERT INTO outbox (platform, channel, incident_id, kind, payload, next_attempt_at, created_at, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
      [m.platform, m.channel, m.incidentId, m.kind, json(m.payload ?? null), m.at, m.at, m.subject ?? null],
    );
    return Number(id);
  }

  async repliesAbout(incidentId: number, subject: string): Promise<QueuedReply[]> {
    // A reply and its edits in one pass, oldest first: each thread's newest queued version wins.
    const rows = await this.db.all(`SELECT id, platform, channel, kind, payload FROM outbox WHERE incident_id = ? AND subject = ? AND kind IN ('reply', 'edit') ORDER BY id`, [
      incidentId,
      subject,
    ]);
    const threads = new Map<string, QueuedReply>();
    for (const r of rows) {
      const key = `${str(r.platform)}\u0000${str(r.channel)}`;
      const reply = threads.get(key);
      if (r.kind === 'reply' && !reply) threads.set(key, { id: Number(r.id), platform: str(r.platform), channel: str(r.channel), message: parse<ThreadMessage>(r.payload) });
      else if (r.kind === 'edit' && reply) reply.message = parse<ThreadMessage>(r.payload);
    }
    return [...threads.values()];
  }

  async postedReply(platform: string, channel: string, incidentId: number, subject: string) {
    // The reply, or the newest edit that had to post it anew (the reply was deleted): where it is now.
    const row = await this.db.get(
      `SELECT posted_ref FROM outbox WHERE incident_id = ? AND subject = ? AND kind IN ('reply', 'edit') AND platform = ? AND channel = ? AND posted_ref IS NOT NULL
       ORDER BY id DESC LIMIT 1`,
      [incidentId, subject, platform, channel],
    );
    return row ? parse<MessageRef>(row.posted_ref) : undefined;
  }

  async pendingCardSync(platform: string, channel: string, incidentId: number) {
    const row = await this.db.get(
      `SELECT id FROM outbox WHERE state = 'pending' AND kind = 'card' AND platform = ? AND channel = ? AND incident_id = ? AND sending_since IS NULL
       ORDER BY id DESC LIMIT 1`,
      [platform, channel, incidentId],
    );
    return row ? Number(row.id) : undefined;
  }

  async dueThreadHeads(now: string, limit: number) {
    // Messages of an incident's thread, and channel posts (no incident: their thread is the channel),
    // in two branches: = and IS NULL each use the outbox_thread index to the end on both engines,
    // where one IS NOT DISTINCT FROM would leave PostgreSQL filtering every row of the channel.
    // Each branch has its own LIMIT, so neither tests every pending row for being a head.
    // Heads come most urgent first (see OutboxMessage.priority): new cards before anything of an
    // incident already shown, critical before warning; each thread still goes in its own order.
    const rows = await this.db.all(
      `SELECT * FROM (
         SELECT o.*, i.severity AS incident_severity,
           CASE WHEN o.kind = 'card' AND NOT EXISTS (SELECT 1 FROM card_messages c
                 WHERE c.incident_id = o.incident_id AND c.platform = o.platform AND c.channel = o.channel) THEN 0 ELSE 10 END
           + CASE i.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 WHEN 'info' THEN 2 ELSE 3 END AS priority
         FROM outbox o JOIN incidents i ON i.id = o.incident_id
         WHERE o.state = 'pending' AND o.next_attempt_at <= ? AND o.incident_id IS NOT NULL
           AND o.id = (SELECT MIN(h.id) FROM outbox h
                       WHERE h.state = 'pending' AND h.platform = o.platform AND h.channel = o.channel AND h.incident_id = o.incident_id)
         ORDER BY priority, o.id LIMIT ?) AS thread_heads
       UNION ALL
       SELECT * FROM (
         SELECT o.*, NULL AS incident_severity, 10 AS priority FROM outbox o
         WHERE o.state = 'pending' AND o.next_attempt_at <= ? AND o.incident_id IS NULL
           AND o.id = (SELECT MIN(h.id) FROM outbox h
                       WHERE h.state = 'pending' AND h.platform = o.platform AND h.channel = o.channel AND h.incident_id IS NULL)
         ORDER BY o.id LIMIT ?) AS post_heads
       ORDER BY priority, id LIMIT ?`,
      [now, limit, now, limit, limit],
    );
    return rows.map((r) => ({ ...toOutbox(r), priority: Number(r.priority), ...(r.incident_severity ? { severity: str(r.incident_severity) as Severity } : {}) }));
  }

  async deferCardUpdate(outboxId: number, card: CardTarget, at: string) {
    await this.db.run(`DELETE FROM outbox WHERE id = ? AND state = 'pending'`, [outboxId]);
    await this.db.run(
      `UPDATE card_messages SET refresh_wanted_at = COALESCE(refresh_wanted_at, ?) WHERE incident_id = ? AND platform = ? AND channel = ?`,
      [at, card.incidentId, card.platform, card.channel],
    );
  }

  async cardsWantingRefresh(platform: string, limit: number) {
    const rows = await this.db.all(
      `SELECT incident_id, platform, channel FROM card_messages WHERE platform = ? AND refresh_wanted_at IS NOT NULL
       ORDER BY refresh_wanted_at, incident_id, channel LIMIT ?`,
      [platform, limit],
    );
    return rows.map((r) => ({ incidentId: Number(r.incident_id), platform: String(r.platform), channel: String(r.channel) }));
  }

  async clearCardRefresh(card: CardTarget) {
    const changed = await this.db.run(
      'UPDATE card_messages SET refresh_wanted_at = NULL WHERE incident_id = ? AND platform = ? AND channel = ? AND refresh_wanted_at IS NOT NULL',
      [card.incidentId, card.platform, card.channel],
    );
    return changed > 0;
  }

  async pendingOutbox(limit: number) {
    return (await this.db.all(`SELECT * FROM outbox WHERE state = 'pending' ORDER BY id LIMIT ?`, [limit])).map(toOutbox);
  }

  async markSending(id: number, at: string) {
    await this.db.run('UPDATE outbox SET sending_since = ? WHERE id = ?', [at, id]);
  }

  async completeOutbox(id: number, at: string, posted?: MessageRef) {
    await this.db.run(`UPDATE outbox SET state = 'done', sent_at = ?, attempts = attempts + 1, sending_since = NULL, posted_ref = ? WHERE id = ?`, [
      at,
      posted ? json(posted) : null,
      id,
    ]);
  }

  async retryOutbox(id: number, nextAttemptAt: string, error: string, options: { mayHaveBeenDelivered?: boolean } = {}) {
    // `? = 1` rather than a bare `?`: PostgreSQL wants a boolean there, and better-sqlite3 binds none.
    await this.db.run(
      `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
         sending_since = CASE WHEN ? = 1 THEN sending_since ELSE NULL END
       WHERE id = ?`,
      [nextAttemptAt, error, options.mayHaveBeenDelivered ? 1 : 0, id],
    );
  }

  async countPendingOutbox() {
    const row = await this.db.get(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'`);
    return Number(row?.n ?? 0);
  }

  async listDeliveredReplies(platform: string, incidentId: number): Promise<DeliveredReply[]> {
    // One thread per (platform, channel); an edit replaces the reply of its subject in its own thread.
    const rows = await this.db.all(
      `SELECT id, channel, kind, subject, payload, created_at, sent_at FROM outbox
       WHERE platform = ? AND incident_id = ? AND kind IN ('reply', 'edit') AND state = 'done' ORDER BY id`,
      [platform, incidentId],
    );
    const replies: DeliveredReply[] = [];
    const bySubject = new Map<string, DeliveredReply>();
    for (const r of rows) {
      const key = `${str(r.channel)}\u0000${String(r.subject)}`;
      if (r.kind === 'edit') {
        const edited = bySubject.get(key);
        if (edited) edited.message = parse<ThreadMessage>(r.payload);
        continue;
      }
      const reply = toDeliveredReply(r);
      if (r.subject !== null && r.subject !== undefined && !bySubject.has(key)) bySubject.set(key, reply);
      replies.push(reply);
    }
    return replies;
  }

  async touchReplica(id: string, at: string) {
    await this.db.run('INSERT INTO replicas (id, started_at, seen_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at', [id, at, at]);
  }

  async listJobRuns() {
    return (await this.db.all('SELECT * FROM job_runs ORDER BY job')).map(toJobRun);
  }

  async initJobRun(job: string, slot: string) {
    await this.db.run('INSERT INTO job_runs (job, last_slot) VALUES (?, ?) ON CONFLICT (job) DO NOTHING', [job, slot]);
  }

  async claimJobRun(job: string, slot: string, at: string): Promise<JobClaim> {
    await this.initJobRun(job, '');
    const row = await this.db.get('SELECT * FROM job_runs WHERE job = ?', [job]);
    const state = row && toJobRun(row);
    if (!state || state.lastSlot >= slot) return 'taken';
    if (state.runningSince !== null) {
      const skipped = await this.db.run('UPDATE job_runs SET last_slot = ? WHERE job = ? AND last_slot = ?', [slot, job, state.lastSlot]);
      return skipped === 1 ? 'overlap' : 'taken';
    }
    const claimed = await this.db.run(
      'UPDATE job_runs SET last_slot = ?, running_since = ? WHERE job = ? AND last_slot = ? AND running_since IS NULL',
      [slot, at, job, state.lastSlot],
    );
    return claimed === 1 ? 'claimed' : 'taken';
  }

  async finishJobRun(job: string, at: string, status: string) {
    await this.db.run('UPDATE job_runs SET running_since = NULL, last_finished_at = ?, last_status = ? WHERE job = ?', [at, status, job]);
  }

  async advanceJobSlot(job: string, fromSlot: string, toSlot: string) {
    return (await this.db.run('UPDATE job_runs SET last_slot = ? WHERE job = ? AND last_slot = ?', [toSlot, job, fromSlot])) === 1;
  }
}
