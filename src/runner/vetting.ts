import path from 'node:path';
import { describeTarget, renderTemplate, resolveRunOn, stepHash, vetParams, type Runbook, type RunbookStep } from '../runbooks/index.js';
import type { Job } from '../runners/protocol.js';

/*
 * The runner decides what it will run. A job names a runbook step and carries the digest of that
 * step as the bot loaded it; the runner does it only when its own manifests hold the same step
 * (same digest), the params pass this host's patterns, and the step's runOn names this runner. It
 * then runs its own copy of the step: nothing of the job but the params and pins is ever used.
 */

/** Who this runner is, as its step's `runOn` must name it. */
export interface RunnerIdentity {
  name: string;
  labels: Record<string, string>;
}

export type Vetted = { ok: true; runbook: Runbook; step: RunbookStep } | { ok: false; reason: string };

const short = (hash: string) => `${hash.slice(0, 12)}…`;

/** Why the local step's `runOn` does not place it on this runner, or undefined when it does. */
function placementProblem(where: string, step: RunbookStep, params: Record<string, string>, self: RunnerIdentity): string | undefined {
  if (!step.runOn) return `step ${where} has no runOn in this host's manifests: it runs in the bot, not on a runner`;
  const target = resolveRunOn(step.runOn, params);
  if (typeof target === 'string') return `step ${where}: ${target}`;
  // A label this runner does not advertise may be pinned for it by the bot's RUNNERS_FILE, which
  // this runner cannot see: only the labels it advertises itself are held against the step.
  const labelsDiffer = Object.entries(target.labels ?? {}).some(([name, value]) => self.labels[name] !== undefined && self.labels[name] !== value);
  if ((target.runner !== undefined && target.runner !== self.name) || labelsDiffer) {
    return `step ${where} runs on ${describeTarget(target)} by this host's manifests, not on runner ${self.name}`;
  }
  return undefined;
}

/** Whether `file` (absolute) lies inside `dir`, as written (symlinks are followed where the file is read). */
function inside(dir: string, file: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(file));
  return path.isAbsolute(file) && rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Why a value chosen in chat (a backup, a snapshot) may not be used here, or undefined. Like the bot
 * does before a request, the runner takes only a file in the step's picker directory or one its own
 * steps produced; and a pinned file must be such a value, since checking a pin reads and hashes it.
 */
function chosenProblem(runbook: Runbook, step: RunbookStep, job: Job, produced: (file: string) => boolean): string | undefined {
  const chosen: string[] = [];
  for (const [name, spec] of Object.entries(runbook.params)) {
    const value = Object.hasOwn(job.params, name) ? job.params[name] : undefined;
    if (!spec.chosen || value === undefined) continue;
    chosen.push(value);
    if (produced(value)) continue;
    const picker = step.pick?.param === name ? pickerOf(step, job.params) : undefined;
    if (picker && inside(picker.dir, value)) continue;
    const where = picker ? `in the picker's directory ${picker.dir}` : `in a picker of step ${step.id}`;
    return `param "${name}" ${JSON.stringify(value)} is neither ${where} nor a file this runner produced`;
  }
  const stray = job.pins.find((pin) => !chosen.includes(pin.path));
  return stray ? `the pinned file ${JSON.stringify(stray.path)} is not a value chosen for this job` : undefined;
}

/**
 * Checks a job against this host's runbooks; the step to run (the local one) or why not.
 * `produced`: whether this runner's own steps produced a file (see ArtefactLedger).
 */
export function vetJob(runbooks: readonly Runbook[], job: Job, self: RunnerIdentity, produced: (file: string) => boolean = () => false): Vetted {
  const where = `${job.runbook}/${job.step}`;
  const runbook = runbooks.find((r) => r.name === job.runbook);
  if (!runbook) return { ok: false, reason: `runbook ${job.runbook} is not in this host's manifests` };
  const step = runbook.steps.find((s) => s.id === job.step);
  if (!step) return { ok: false, reason: `step ${where} is not in this host's manifests` };
  const local = stepHash(runbook.name, step);
  if (local !== job.stepHash) {
    return { ok: false, reason: `step ${where} differs from this host's manifests (hash ${short(local)} here, ${short(job.stepHash)} asked)` };
  }
  const problems = vetParams(runbook, job.params);
  if (problems.length > 0) return { ok: false, reason: `step ${where}: ${problems.join('; ')}` };
  const placement = placementProblem(where, step, job.params, self);
  if (placement !== undefined) return { ok: false, reason: placement };
  const choice = chosenProblem(runbook, step, job, produced);
  if (choice !== undefined) return { ok: false, reason: `step ${where}: ${choice}` };
  if (job.kind === 'list' && !step.pick) return { ok: false, reason: `step ${where} has no picker to list` };
  if (job.kind === 'expire' && step.action !== 'backup') return { ok: false, reason: `step ${where} is not a backup step` };
  if (job.kind === 'inspect' && job.path === undefined) return { ok: false, reason: 'an inspect job needs a path' };
  return { ok: true, runbook, step };
}

/** The picker's directory and name prefix, rendered with the job's params. */
export function pickerOf(step: RunbookStep, params: Record<string, string>): { dir: string; prefix: string; limit: number } | undefined {
  if (!step.pick) return undefined;
  return { dir: renderTemplate(step.pick.dir, params), prefix: renderTemplate(step.pick.prefix, params), limit: step.pick.limit };
}

/**
 * Which file the runner will describe for an `inspect` job: one its own steps produced (a snapshot
 * behind "Roll back"), or one inside the step's picker directory (checked again there with every
 * symlink followed). Anything else is refused, so a bot cannot learn the hash of any file here.
 */
export function inspectScope(
  step: RunbookStep,
  params: Record<string, string>,
  file: string,
  produced: (file: string) => boolean,
): { ok: true; within: string | undefined } | { ok: false; reason: string } {
  if (produced(file)) return { ok: true, within: undefined };
  const picker = pickerOf(step, params);
  if (!picker) return { ok: false, reason: `${JSON.stringify(file)} is not a file this runner produced, and step ${step.id} has no picker directory` };
  if (!inside(picker.dir, file)) {
    return { ok: false, reason: `${JSON.stringify(file)} is outside the picker's directory ${picker.dir} and is not a file this runner produced` };
  }
  return { ok: true, within: picker.dir };
}
