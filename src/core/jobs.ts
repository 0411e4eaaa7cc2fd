import type { SealKey } from './audit-seal.js';
import { resolveParams, type ActionSettings, type Runbook, type RunbookStep, type StepResult } from './ports/runbooks.js';
import { ICON } from './step-record.js';
import { factText, resultDetails, resultSummary } from './result-text.js';
import { stepStateText } from './card.js';
import { t } from './i18n/index.js';
import type { Redactor } from '../domain/redact.js';
import { pruneAuditBatch } from './retention.js';
import type { ScheduledJob, StepRef } from '../settings/schedules.js';
import type { Store } from './ports/store.js';
import type { Clock } from './ports/clock.js';
import type { StepRunner } from './ports/step-runner.js';

/** Who scheduled runs are audited as: an operator declared them in the schedules file. */
export const SCHEDULER_ACTOR = 'system:scheduler';

/** Actions a checklist may run: they only look (locate names and hashes an existing backup). (Backups write files, so they are scheduled as steps, not checklist items.) */
const READ_ONLY_ACTIONS = new Set<RunbookStep['action']>(['verify', 'http', 'exec', 'locate']);
/** Compose commands that only look (the others stop, start or run something in a container). */
const READ_ONLY_COMPOSE = new Set<unknown>(['ps', 'logs']);

function readOnly(step: RunbookStep): boolean {
  if (step.action === 'compose') return READ_ONLY_COMPOSE.has(step.with.command);
  return READ_ONLY_ACTIONS.has(step.action);
}

export type ResolvedStep = { ok: true; runbook: Runbook; step: RunbookStep; params: Record<string, string> } | { ok: false; problem: string };

/**
 * Finds a scheduled step and resolves its params from the job's labels, as an alert's labels would
 * be. A step that changes a system is refused: it needs a person's approval in chat, which a
 * schedule cannot give. In a checklist, only read-only steps are allowed.
 */
export function resolveStepRef(runbooks: readonly Runbook[], ref: StepRef, purpose: 'step' | 'checklist'): ResolvedStep {
  const runbook = runbooks.find((r) => r.name === ref.runbook);
  if (!runbook) return { ok: false, problem: `runbook "${ref.runbook}" does not exist` };
  const step = runbook.steps.find((s) => s.id === ref.step);
  if (!step) return { ok: false, problem: `runbook "${ref.runbook}" has no step "${ref.step}"` };
  if (step.changes) return { ok: false, problem: `step "${ref.runbook}/${ref.step}" changes a system (changes: true) and needs approval in chat; it cannot be scheduled` };
  if (purpose === 'checklist' && (!readOnly(step) || step.checkpoint)) {
    return { ok: false, problem: `step "${ref.runbook}/${ref.step}" (action ${step.action}) is not read-only; a checklist runs verify, http, exec, locate and compose ps/logs checks only` };
  }
  const resolved = resolveParams(runbook, ref.labels);
  if (!resolved.ok) return { ok: false, problem: `step "${ref.runbook}/${ref.step}": ${resolved.problems.join('; ')}` };
  return { ok: true, runbook, step, params: resolved.params };
}

export interface JobRunnerOptions {
  store: Store;
  /** Runs and describes the steps, and expires backups. */
  runner: StepRunner;
  runbooks: readonly Runbook[];
  redact: Redactor;
  env: NodeJS.ProcessEnv;
  settings?: ActionSettings | undefined;
  clock: Clock;
  /** Seals retention checkpoints (src/core/retention.ts). */
  auditKey?: SealKey | undefined;
}

export interface JobOutcome {
  status: 'succeeded' | 'failed';
  /** The message posted to the job's channels (and the audit text). */
  text: string;
  data: Record<string, unknown>;
}

const jobTitle = (job: ScheduledJob) => job.title ?? job.name;

/** Runs one scheduled job to its outcome; never rejects (a failure is an outcome to post). */
export async function runJob(job: ScheduledJob, o: JobRunnerOptions, signal: AbortSignal): Promise<JobOutcome> {
  try {
    if (job.kind === 'step') return await runScheduledStep(job, o, signal);
    if (job.kind === 'checklist') return await runChecklist(job, o, signal);
    return await runRetention(job, o);
  } catch (error) {
    return { status: 'failed', text: t('job.failed', { title: jobTitle(job), error: o.redact(error instanceof Error ? error.message : String(error)) }), data: {} };
  }
}

async function runRef(ref: StepRef, purpose: 'step' | 'checklist', o: JobRunnerOptions, signal: AbortSignal): Promise<{ title: string; what: string; result: StepResult }> {
  const found = resolveStepRef(o.runbooks, ref, purpose);
  if (!found.ok) return { title: `${ref.runbook}/${ref.step}`, what: '', result: { status: 'failed', summary: found.problem, durationMs: 0, outputTail: '' } };
  const result = await o.runner.run(found.step, found.params, { signal, redact: o.redact, env: o.env, settings: o.settings, origin: { runbook: ref.runbook, purpose: 'job' } });
  return { title: found.step.title, what: o.redact(o.runner.describe(found.step, found.params)), result };
}

async function runScheduledStep(job: Extract<ScheduledJob, { kind: 'step' }>, o: JobRunnerOptions, signal: AbortSignal): Promise<JobOutcome> {
  const { title, result } = await runRef(job.step, 'step', o, signal);
  return {
    status: result.status === 'succeeded' ? 'succeeded' : 'failed',
    text: `${t('job.step', { job: jobTitle(job), icon: ICON[result.status], title, state: stepStateText(result.status), summary: resultSummary(result) })}${resultDetails(result)}`,
    data: { runbook: job.step.runbook, step: job.step.step, status: result.status, durationMs: result.durationMs, artefacts: result.artefacts ?? [] },
  };
}

/** Every item in order (a failure does not stop the others: a checklist reports them all), then one summary. */
async function runChecklist(job: Extract<ScheduledJob, { kind: 'checklist' }>, o: JobRunnerOptions, signal: AbortSignal): Promise<JobOutcome> {
  const items = [];
  for (const ref of job.steps) items.push({ ref, ...(await runRef(ref, 'checklist', o, signal)) });
  const passed = items.filter((i) => i.result.status === 'succeeded').length;
  const lines = items.map((i) => `${t('job.checklistItem', { icon: ICON[i.result.status], title: i.title, runbook: i.ref.runbook, summary: resultSummary(i.result) })}${keyOutput(i.result)}`);
  return {
    status: passed === items.length ? 'succeeded' : 'failed',
    text: `${t('job.checklist', { job: jobTitle(job), passed, total: items.length })}\n${lines.join('\n')}`,
    data: {
      items: items.map((i) => ({ runbook: i.ref.runbook, step: i.ref.step, status: i.result.status, summary: i.result.summary, facts: i.result.facts ?? [] })),
    },
  };
}

/** Lines of output a checklist item shows when its step declares no `expect:` (its last ones). */
const ITEM_OUTPUT_LINES = 4;
const ITEM_LINE_CHARS = 160;

/**
 * What a checklist item shows under its result: the findings of its `expect:` (each with the value
 * it read, e.g. "disk use %: ❌ 91 in `/dev/sda1 … 91% /` (max 85)"), or else the last lines of
 * its output, so that a check says what it saw and not only that the command exited 0.
 */
function keyOutput(result: StepResult): string {
  if (result.facts && result.facts.length > 0) return result.facts.map((f) => `\n    • ${factText(f)}`).join('');
  const lines = result.outputTail
    .trimEnd()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-ITEM_OUTPUT_LINES)
    .map((l) => (l.length > ITEM_LINE_CHARS ? `${l.slice(0, ITEM_LINE_CHARS - 1)}…` : l));
  return lines.length === 0 ? '' : `\n    \`${lines.join('`\n    `')}\``;
}

/** Applies each listed backup step's `keep:` to its backups (the same rule the step applies after a backup). */
async function expireBackups(refs: readonly StepRef[], o: JobRunnerOptions): Promise<{ lines: string[]; deleted: number; failed: boolean }> {
  const lines: string[] = [];
  let deleted = 0;
  let failed = false;
  for (const ref of refs) {
    const name = `${ref.runbook}/${ref.step}`;
    try {
      const found = resolveStepRef(o.runbooks, ref, 'step');
      if (!found.ok) throw new Error(found.problem);
      if (found.step.action !== 'backup') throw new Error(t('job.expire.notBackup', { name }));
      const outcome = await o.runner.expireBackups(found.step, found.params, o.clock(), { runbook: ref.runbook, purpose: 'job' });
      if (!outcome) {
        lines.push(t('job.expire.noKeep', { name }));
        continue;
      }
      deleted += outcome.deleted.length;
      failed ||= outcome.problems.length > 0;
      const problems = outcome.problems.length > 0 ? t('job.expire.problems', { problems: outcome.problems.join('; ') }) : '';
      lines.push(t('job.expire.deleted', { name, n: outcome.deleted.length, dir: outcome.dir, kept: outcome.kept, problems }));
    } catch (error) {
      failed = true;
      lines.push(t('job.expire.failed', { name, error: o.redact(error instanceof Error ? error.message : String(error)) }));
    }
  }
  return { lines, deleted, failed };
}

async function runRetention(job: Extract<ScheduledJob, { kind: 'retention' }>, o: JobRunnerOptions): Promise<JobOutcome> {
  const before = new Date(o.clock().getTime() - job.auditDays * 86_400_000).toISOString();
  let chains = 0;
  let events = 0;
  for (;;) {
    const batch = await o.store.transaction((tx) => pruneAuditBatch(tx, before, o.clock().toISOString(), SCHEDULER_ACTOR, o.auditKey));
    if (batch.chains === 0) break;
    chains += batch.chains;
    events += batch.events;
  }
  const backups = await expireBackups(job.backups, o);
  return {
    status: backups.failed ? 'failed' : 'succeeded',
    text: [
      t('job.retention', { job: jobTitle(job), chains, days: job.auditDays, events }),
      ...backups.lines,
    ].join('\n'),
    data: { auditDays: job.auditDays, before, chains, events, backupsDeleted: backups.deleted },
  };
}
