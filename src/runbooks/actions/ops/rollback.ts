import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { quoteValue } from '../../param-value.js';
import { runProgram } from '../program.js';
import type { TypedActionContext } from '../typed-action.js';
import type { StepFact } from '../types.js';
import { argvInput, locationText, lastLine, programPhase, quoteArgv, refused, text, type Budget, type Phase } from './common.js';
import { describeFollowUpVerify, followUpVerifyInputs, verifyPhase } from './verify.js';
import { restartClause, restartInputs, restartPhases, type RestartInputs } from './restart.js';
import { restoreAction } from '../data-actions.js';
import { restoreInputs, type RestoreInputs } from '../data/inputs.js';

/*
 * rollback: switches a release back (a `current` symlink, or a declared command), then optionally
 * restarts and verifies. Facts say exactly what changed; a switch is never undone silently.
 */

const followUp = {
  /** A database restore run right after the switch, before the restart (the previous version's data). */
  restore: restoreInputs.optional(),
  restart: restartInputs.optional(),
  verify: followUpVerifyInputs.optional(),
};

const symlinkRollback = z.strictObject({
  kind: z.literal('symlink'),
  /** Absolute path of the `current` symlink. */
  current: text,
  /** Absolute path of the directory holding one directory per release. */
  releasesDir: text,
  /** A release name (a directory in releasesDir); default: the one before the current one. */
  to: text.optional(),
  ...followUp,
});
const commandRollback = z.strictObject({ kind: z.literal('command'), run: argvInput, cwd: locationText.optional(), ...followUp });

export const rollbackInputs = z.discriminatedUnion('kind', [symlinkRollback, commandRollback]);

export type RollbackInputs = z.output<typeof rollbackInputs>;
export type SymlinkRollback = z.output<typeof symlinkRollback>;

// ---------------------------------------------------------------------------------------------
// Choosing the release

/**
 * Release order: names compared piece by piece, runs of digits as numbers, so v9 < v10 and
 * 2024-01-02 < 2024-01-10. Independent of locale, so the choice is the same on every host.
 */
export function compareReleases(a: string, b: string): number {
  const pieces = (s: string) => s.match(/\d+|\D+/gu) ?? [];
  const pa = pieces(a);
  const pb = pieces(b);
  for (let k = 0; k < Math.min(pa.length, pb.length); k += 1) {
    const x = pa[k] ?? '';
    const y = pb[k] ?? '';
    if (x === y) continue;
    const bothDigits = /^\d/u.test(x) && /^\d/u.test(y);
    if (bothDigits) {
      const diff = BigInt(x) - BigInt(y);
      if (diff !== 0n) return diff < 0n ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** The release to switch to: `to` when given, else the one before the current one. */
export function chooseRelease(releases: readonly string[], current: string | undefined, to: string | undefined): { release: string } | { problem: string } {
  const sorted = [...releases].sort(compareReleases);
  const listed = sorted.length > 0 ? sorted.join(', ') : 'none';
  if (to !== undefined) {
    if (!sorted.includes(to)) return { problem: `release ${quoteValue(to)} does not exist (releases: ${listed})` };
    if (to === current) return { problem: `release ${to} is already current` };
    return { release: to };
  }
  if (current === undefined) return { problem: 'the symlink does not point to a release in releasesDir, so there is no "previous" one; name the release with `to:`' };
  const index = sorted.indexOf(current);
  const previous = index > 0 ? sorted[index - 1] : undefined;
  if (previous === undefined) return { problem: `there is no release before ${current} (releases: ${listed})` };
  return { release: previous };
}

export interface SwitchPlan {
  current: string;
  /** The symlink's text now and after the switch, e.g. releases/v2 → releases/v1. */
  fromText: string;
  toText: string;
  fromRelease: string | undefined;
  toRelease: string;
}

const RELEASE_NAME = /^[^/\\\0]+$/u;

/**
 * Reads the symlink and the releases and decides the switch, or says why not. Synchronous on
 * purpose: it is a handful of local metadata calls, and `describe()` (which is synchronous) shows
 * the same from → to that the run will apply.
 */
export function planSwitch(i: Pick<SymlinkRollback, 'current' | 'releasesDir' | 'to'>): SwitchPlan | string {
  if (!path.isAbsolute(i.current)) return `current must be an absolute path: ${quoteValue(i.current, 200)}`;
  if (!path.isAbsolute(i.releasesDir)) return `releasesDir must be an absolute path: ${quoteValue(i.releasesDir, 200)}`;
  if (i.to !== undefined && (!RELEASE_NAME.test(i.to) || i.to.startsWith('.'))) {
    return `to must be the name of a directory in releasesDir, not a path: ${quoteValue(i.to, 200)}`;
  }
  const current = path.resolve(i.current);
  const releasesDir = path.resolve(i.releasesDir);
  try {
    if (!lstatSync(current).isSymbolicLink()) return `${current} is not a symlink`;
    const fromText = readlinkSync(current);
    const releases = readdirSync(releasesDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
      .map((entry) => entry.name);
    const fromRelease = releaseOf(path.resolve(path.dirname(current), fromText), releasesDir, releases);
    const choice = chooseRelease(releases, fromRelease, i.to);
    if ('problem' in choice) return choice.problem;
    const target = path.join(releasesDir, choice.release);
    // Keep the link's style: a relative link stays relative (it survives moving the whole tree).
    const toText = path.isAbsolute(fromText) ? target : path.relative(path.dirname(current), target);
    return { current, fromText, toText, fromRelease, toRelease: choice.release };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return `cannot read ${e.path ?? current}: ${e.code ?? e.message}`;
  }
}

/** The release a symlink target is, when it is a directory directly in releasesDir (also through other symlinks). */
function releaseOf(target: string, releasesDir: string, releases: readonly string[]): string | undefined {
  if (path.dirname(target) === releasesDir && releases.includes(path.basename(target))) return path.basename(target);
  try {
    const real = realpathSync(target);
    const realDir = realpathSync(releasesDir);
    return path.dirname(real) === realDir && releases.includes(path.basename(real)) ? path.basename(real) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Points the symlink at the new target atomically: a new symlink beside it, renamed over it, so
 * there is no moment without `current`. Refuses if the link changed since it was planned.
 */
async function swapSymlink(plan: SwitchPlan): Promise<void> {
  const now = await readlink(plan.current);
  if (now !== plan.fromText) throw new Error(`${plan.current} changed while planning (now ${now}); nothing was switched`);
  const temporary = `${plan.current}.tmp-${randomBytes(6).toString('hex')}`;
  await symlink(plan.toText, temporary);
  try {
    await rename(temporary, plan.current);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function releaseText(linkText: string, release: string | undefined): string {
  return release === undefined ? linkText : `${linkText} (release ${release})`;
}

async function switchPhase(i: SymlinkRollback): Promise<Phase> {
  const plan = planSwitch(i);
  if (typeof plan === 'string') {
    const unchanged = readlinkQuietly(i.current);
    const facts = unchanged !== undefined ? [{ label: 'symlink', value: `${i.current} → ${unchanged} (unchanged)` }] : [];
    return { ...refused(`${plan}; nothing was switched`), facts };
  }
  try {
    await swapSymlink(plan);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, summary: `could not switch ${plan.current}: ${message}`, facts: [{ label: 'symlink', value: `${plan.current} → ${readlinkQuietly(plan.current) ?? '?'}` }], output: '' };
  }
  const after = await readlink(plan.current);
  const facts: StepFact[] = [
    { label: 'symlink', value: plan.current },
    { label: 'from', value: releaseText(plan.fromText, plan.fromRelease) },
    { label: 'to', value: releaseText(after, plan.toRelease) },
  ];
  return { ok: true, summary: `switched ${plan.current} from ${plan.fromText} to ${after}`, facts, output: '' };
}

function readlinkQuietly(link: string): string | undefined {
  try {
    return path.isAbsolute(link) ? readlinkSync(link) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Descriptions

function followUpClauses(i: { restore?: RestoreInputs | undefined; restart?: RestartInputs | undefined; verify?: Parameters<typeof describeFollowUpVerify>[0] }): string {
  const restore = i.restore !== undefined ? `, then ${restoreAction.describe(i.restore).replace(/^will /u, '')}` : '';
  const restart = i.restart !== undefined ? `, then ${restartClause(i.restart)}${describeFollowUpVerify(i.restart.verify)}` : '';
  return `${restore}${restart}${describeFollowUpVerify(i.verify)}`;
}

/** The database restore after a switch, as one phase; its safety backup is kept as an artefact. */
async function restorePhase(inputs: RestoreInputs, ctx: TypedActionContext, budget: Budget): Promise<Phase> {
  const result = await restoreAction.run(inputs, { ...ctx, timeoutMs: Math.max(1, budget.remainingMs()) });
  return {
    ok: result.status === 'succeeded',
    summary: `database restore: ${result.summary}`,
    facts: (result.facts ?? []).map((f) => ({ label: `restore ${f.label}`, value: f.value })),
    output: result.outputTail,
    timedOut: result.status === 'timed_out',
    artefacts: result.artefacts,
  };
}

/** "will switch /srv/app/current from releases/v2 to releases/v1, then run `…`, then verify that http://… answers 200 (within 30s)" */
export function describeRollback(i: RollbackInputs): string {
  if (i.kind === 'command') return `will run ${quoteArgv(i.run)}${i.cwd !== undefined ? ` in ${i.cwd}` : ''}${followUpClauses(i)}`;
  const plan = planSwitch(i);
  const what =
    typeof plan === 'string'
      ? `switch ${i.current} to ${i.to ?? 'the release before the current one'} in ${i.releasesDir} (not possible now: ${plan})`
      : `switch ${plan.current} from ${plan.fromText} to ${plan.toText}`;
  return `will ${what}${followUpClauses(i)}`;
}

// ---------------------------------------------------------------------------------------------
// Running

export async function rollbackPhases(i: RollbackInputs, ctx: TypedActionContext, budget: Budget): Promise<Phase[]> {
  let switched: Phase;
  if (i.kind === 'symlink') {
    switched = await switchPhase(i);
  } else {
    const argv: [string, ...string[]] = [i.run[0] ?? '', ...i.run.slice(1)];
    const run = await runProgram(argv, { timeoutMs: Math.max(1, budget.remainingMs()), signal: ctx.signal, env: ctx.programEnv, cwd: i.cwd, onSpawn: ctx.onSpawn });
    const where = i.cwd !== undefined ? ` in ${i.cwd}` : '';
    const facts: StepFact[] = [{ label: 'rollback command', value: `${quoteArgv(argv)}${where}` }];
    if (run.exitCode !== undefined) facts.push({ label: 'rollback exit code', value: String(run.exitCode) });
    const said = lastLine(run.output);
    if (said !== '') facts.push({ label: 'rollback output', value: said });
    switched = programPhase(run, `rollback command ${quoteArgv(argv)}${where}`, facts);
  }
  const phases = [switched];
  if (!switched.ok) return phases;

  const after: Phase[] = [];
  if (i.restore !== undefined) after.push(await restorePhase(i.restore, ctx, budget));
  if (after.every((p) => p.ok) && i.restart !== undefined) after.push(...(await restartPhases(i.restart, ctx, budget, 'restart verify ')));
  if (after.every((p) => p.ok) && i.verify !== undefined) after.push(await verifyPhase(i.verify, ctx, budget, 'verify '));
  if (after.some((p) => !p.ok)) {
    const kept = i.kind === 'symlink' ? 'the symlink stays switched' : 'the rollback command is not undone';
    after.push({ ok: true, summary: `${kept}; nothing was switched back`, facts: [{ label: 'switched back', value: 'no' }], output: '' });
  }
  return [...phases, ...after];
}
