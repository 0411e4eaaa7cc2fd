import type { z } from 'zod';
import { redactData, type Redactor } from '../domain/redact.js';
import { inspectChosenFile, listPickChoices, localStepRunner, type ActionContext, type RunbookStep, type StepResult } from '../runbooks/index.js';
import type { ResultMessage } from '../domain/result-message.js';
import { answerSchema, MAX_SAID_PARTS, RESULT_OUTPUT_MAX, stepResultSchema, type Answer, type Job } from '../runners/protocol.js';
import { inspectScope, pickerOf } from './vetting.js';

/*
 * What a vetted job does on this host, with the local step definition: run it, or answer a query
 * about it (a picker's backups, a chosen file, a backup step's retention).
 */

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The first and last halves of a long output, the cut marked (as the bot's own output store does). */
function keepEnds(text: string, max: number): string {
  if (text.length <= max) return text;
  // Sized with the whole length's digits: the real count has no more, so the result stays within max.
  const half = Math.floor((max - `\n… ${text.length} characters cut …\n`.length) / 2);
  return `${text.slice(0, half)}\n… ${text.length - 2 * half} characters cut …\n${text.slice(-half)}`;
}

export type WireResult = z.output<typeof stepResultSchema>;

/** A code and its values cut to the protocol's sizes. */
function wireSaid(said: ResultMessage): ResultMessage {
  return { code: said.code, params: Object.fromEntries(Object.entries(said.params).slice(0, 20).map(([k, v]) => [k, typeof v === 'string' ? clip(v, 2000) : v])) };
}

/** A step's result as the protocol carries it: redacted once more, and cut to the protocol's sizes. */
export function wireResult(result: StepResult, redact: Redactor): WireResult {
  const r = redactData(result, redact) as StepResult;
  return stepResultSchema.parse({
    // `interrupted` is the bot's word for a run it lost; a step that ran here ended one of the other ways.
    status: r.status === 'interrupted' ? 'failed' : r.status,
    summary: clip(r.summary, 2000),
    ...(r.said ? { said: wireSaid(r.said) } : {}),
    ...(r.saidParts ? { saidParts: r.saidParts.slice(0, MAX_SAID_PARTS).map(wireSaid) } : {}),
    ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
    ...(r.httpStatus !== undefined ? { httpStatus: r.httpStatus } : {}),
    durationMs: r.durationMs,
    outputTail: clip(r.outputTail, 8000),
    ...(r.output !== undefined ? { output: keepEnds(r.output, RESULT_OUTPUT_MAX) } : {}),
    ...(r.facts ? { facts: r.facts.slice(0, 50).map((f) => ({ label: clip(f.label, 200), value: clip(f.value, 2000), ...(f.said ? { said: wireSaid(f.said) } : {}) })) } : {}),
    ...(r.artefacts ? { artefacts: r.artefacts.slice(0, 20) } : {}),
  });
}

/** Runs the local step; never rejects (a failure is a `failed` result, as the step runner promises). */
export function runLocalStep(step: RunbookStep, job: Job, ctx: ActionContext): Promise<StepResult> {
  return localStepRunner.run(step, job.params, { ...ctx, pins: job.pins });
}

export interface QueryDeps {
  /** Whether this runner's steps produced the file (see ArtefactLedger). */
  produced: (file: string) => boolean;
  /** The runner's clock. */
  now: () => Date;
}

/** The answer to a `list`, `inspect` or `expire` job, or why the runner will not give it. */
export async function answerQuery(step: RunbookStep, job: Job, deps: QueryDeps): Promise<{ answer: Answer } | { refused: string }> {
  switch (job.kind) {
    case 'list': {
      if (!pickerOf(step, job.params)) return { refused: `step ${step.id} has no picker to list` };
      const choices = await listPickChoices(step, job.params);
      return { answer: answerSchema.parse({ kind: 'list', choices: choices.map((c) => ({ path: c.path, label: clip(c.label, 200), ...(c.said ? { said: c.said.map(wireSaid) } : {}) })) }) };
    }
    case 'inspect': {
      const file = job.path ?? '';
      const scope = inspectScope(step, job.params, file, deps.produced);
      if (!scope.ok) return { refused: scope.reason };
      const inspection = await inspectChosenFile(file, scope.within);
      return { answer: answerSchema.parse({ kind: 'inspect', inspection: inspection.ok ? inspection : { ok: false, reason: clip(inspection.reason, 2000) } }) };
    }
    case 'expire': {
      // Retention is measured from the runner's own clock, or an earlier time the bot gives: a bot
      // that sends a time in the future cannot make this host delete backups it would still keep.
      const asked = job.now !== undefined ? new Date(job.now) : undefined;
      if (asked !== undefined && Number.isNaN(asked.getTime())) return { refused: `"now" ${JSON.stringify(job.now)} is not a time` };
      const here = deps.now();
      const now = asked !== undefined && asked < here ? asked : here;
      const expiry = await localStepRunner.expireBackups(step, job.params, now);
      return { answer: answerSchema.parse({ kind: 'expire', expiry: expiry ?? null }) };
    }
    case 'run':
      return { refused: 'a run job is not a query' };
  }
}
