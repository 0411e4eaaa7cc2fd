import type { RunnerJob, RunnerJobKind, RunnerJobState, RunnerJobsTx, RunnerRecord } from '../core/ports/runner-jobs.js';
import { parse, str, strOrNull, type Row } from './rows.js';
import type { SqlDriver } from './sql-driver.js';

const toRunner = (r: Row): RunnerRecord => ({
  name: str(r.name),
  labels: parse(r.labels),
  version: str(r.version),
  replica: str(r.replica),
  connectedAt: str(r.connected_at),
  seenAt: str(r.seen_at),
});

const toJob = (r: Row): RunnerJob => ({
  id: Number(r.id),
  runner: str(r.runner),
  runId: r.run_id === null || r.run_id === undefined ? null : Number(r.run_id),
  kind: str(r.kind) as RunnerJobKind,
  payload: str(r.payload),
  state: str(r.state) as RunnerJobState,
  cancelRequested: Number(r.cancel_requested) === 1,
  createdAt: str(r.created_at),
  claimedAt: strOrNull(r.claimed_at),
  startedAt: strOrNull(r.started_at),
  finishedAt: strOrNull(r.finished_at),
  output: strOrNull(r.output),
  result: strOrNull(r.result),
  detail: strOrNull(r.detail),
});

/** The runners' part of a transaction, written once for SQLite and PostgreSQL (see sql-tx.ts). */
export class RunnerSqlTx implements RunnerJobsTx {
  constructor(private readonly db: SqlDriver) {}

  async touchRunner(r: { name: string; labels: Record<string, string>; version: string; replica: string; at: string; staleBefore: string }) {
    await this.db.run(
      `INSERT INTO runners (name, labels, version, replica, connected_at, seen_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET labels = excluded.labels, version = excluded.version, replica = excluded.replica,
         connected_at = CASE WHEN runners.seen_at < ? THEN excluded.connected_at ELSE runners.connected_at END, seen_at = excluded.seen_at`,
      [r.name, JSON.stringify(r.labels), r.version, r.replica, r.at, r.at, r.staleBefore],
    );
  }

  async listRunners() {
    return (await this.db.all('SELECT * FROM runners ORDER BY name')).map(toRunner);
  }

  async getRunner(name: string) {
    const row = await this.db.get('SELECT * FROM runners WHERE name = ?', [name]);
    return row ? toRunner(row) : undefined;
  }

  async addRunnerJob(job: { runner: string; runId: number | null; kind: RunnerJobKind; payload: string; at: string }) {
    const row = await this.db.get('INSERT INTO runner_jobs (runner, run_id, kind, payload, state, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id', [
      job.runner,
      job.runId,
      job.kind,
      job.payload,
      'queued',
      job.at,
    ]);
    if (!row) throw new Error('INSERT … RETURNING returned no row');
    return Number(row.id);
  }

  async claimRunnerJobs(runner: string, at: string, limit: number) {
    const queued = (await this.db.all(`SELECT * FROM runner_jobs WHERE runner = ? AND state = 'queued' ORDER BY id LIMIT ?`, [runner, limit])).map(toJob);
    const claimed: RunnerJob[] = [];
    for (const job of queued) {
      const changed = await this.db.run(`UPDATE runner_jobs SET state = 'running', claimed_at = ? WHERE id = ? AND state = 'queued'`, [at, job.id]);
      if (changed === 1) claimed.push({ ...job, state: 'running', claimedAt: at });
    }
    return claimed;
  }

  async getRunnerJob(id: number) {
    const row = await this.db.get('SELECT * FROM runner_jobs WHERE id = ?', [id]);
    return row ? toJob(row) : undefined;
  }

  async openRunnerJobs(runner: string | null, limit: number) {
    const rows = await this.db.all(
      `SELECT * FROM runner_jobs WHERE state IN ('queued', 'running') AND (CAST(? AS TEXT) IS NULL OR runner = ?) ORDER BY id LIMIT ?`,
      [runner, runner, limit],
    );
    return rows.map(toJob);
  }

  async latestJobOfRun(runId: number) {
    const row = await this.db.get(`SELECT * FROM runner_jobs WHERE run_id = ? ORDER BY id DESC LIMIT 1`, [runId]);
    return row ? toJob(row) : undefined;
  }

  async adoptStepRun(runId: number, from: string | null, to: string) {
    const changed = await this.db.run(
      `UPDATE step_runs SET runner = ? WHERE id = ? AND state = 'running' AND (runner = ? OR (runner IS NULL AND CAST(? AS TEXT) IS NULL))`,
      [to, runId, from, from],
    );
    return changed === 1;
  }

  async releaseStepRun(runId: number, from: string) {
    return (await this.db.run(`UPDATE step_runs SET runner = NULL WHERE id = ? AND state = 'running' AND runner = ?`, [runId, from])) === 1;
  }

  async markRunnerJobStarted(id: number, at: string) {
    return (await this.db.run(`UPDATE runner_jobs SET started_at = ? WHERE id = ? AND state = 'running' AND started_at IS NULL`, [at, id])) === 1;
  }

  async noteRunnerJobOutput(id: number, output: string) {
    return (await this.db.run(`UPDATE runner_jobs SET output = ? WHERE id = ? AND state = 'running'`, [output, id])) === 1;
  }

  async requestRunnerJobCancel(id: number) {
    return (await this.db.run(`UPDATE runner_jobs SET cancel_requested = 1 WHERE id = ? AND state IN ('queued', 'running')`, [id])) === 1;
  }

  async finishRunnerJob(id: number, from: readonly RunnerJobState[], to: Exclude<RunnerJobState, 'queued' | 'running'>, at: string, outcome: { result?: string; detail?: string }) {
    if (from.length === 0) return false;
    const changed = await this.db.run(
      `UPDATE runner_jobs SET state = ?, finished_at = ?, result = ?, detail = ? WHERE id = ? AND state IN (${from.map(() => '?').join(', ')})`,
      [to, at, outcome.result ?? null, outcome.detail ?? null, id, ...from],
    );
    return changed === 1;
  }
}
