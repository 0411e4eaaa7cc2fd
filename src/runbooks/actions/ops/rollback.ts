import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { quoteValue } from '../../param-value.js';
import { runProgram } from '../program.js';
import type { TypedActionContext } from '../typed-action.js';
import type { StepFact } from '../types.js';
import { argvInput, locationText, programPhase, text, type Budget, type Phase } from './common.js';
import { lastLine, problemOf, quoteArgv, say, type Problem, type ProgramSaid } from './said.js';
import { followUpVerifyInputs } from './verify-inputs.js';
import { verifyPhase } from './verify.js';
import { restartInputs, restartPhases } from './restart.js';
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

/** The release to switch to: `to` when given, else the one before the current one; or why there is none. */
export function chooseRelease(releases: readonly string[], current: string | undefined, to: string | undefined): { release: string } | Problem {
  const sorted = [...releases].sort(compareReleases);
  const listed = sorted.length > 0 ? sorted.join(', ') : 'none';
  // The list as a value: "—" rather than the word "none".
  const releasesValue = sorted.length > 0 ? sorted.join(', ') : '—';
  if (to !== undefined) {
    if (!sorted.includes(to)) return problemOf(`release ${quoteValue(to)} does not exist (releases: ${listed})`, 'rollback.noSuchRelease', { release: quoteValue(to), releases: releasesValue });
    if (to === current) return problemOf(`release ${to} is already current`, 'rollback.alreadyCurrent', { release: to });
    return { release: to };
  }
  if (current === undefined) return problemOf('the symlink does not point to a release in releasesDir, so there is no "previous" one; name the release with `to:`', 'rollback.notARelease');
  const index = sorted.indexOf(current);
  const previous = index > 0 ? sorted[index - 1] : undefined;
  if (previous === undefined) return problemOf(`there is no release before ${current} (releases: ${listed})`, 'rollback.nothingBefore', { release: current, releases: releasesValue });
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
export function planSwitch(i: Pick<SymlinkRollback, 'current' | 'releasesDir' | 'to'>): SwitchPlan | Problem {
  const notAbsolute = (field: string, value: string) => problemOf(`${field} must be an absolute path: ${quoteValue(value, 200)}`, 'rollback.notAbsolute', { field, value: quoteValue(value, 200) });
  if (!path.isAbsolute(i.current)) return notAbsolute('current', i.current);
  if (!path.isAbsolute(i.releasesDir)) return notAbsolute('releasesDir', i.releasesDir);
  if (i.to !== undefined && (!RELEASE_NAME.test(i.to) || i.to.startsWith('.'))) {
    return problemOf(`to must be the name of a directory in releasesDir, not a path: ${quoteValue(i.to, 200)}`, 'rollback.toNotName', { value: quoteValue(i.to, 200) });
  }
  const current = path.resolve(i.current);
  const releasesDir = path.resolve(i.releasesDir);
  try {
    if (!lstatSync(current).isSymbolicLink()) return problemOf(`${current} is not a symlink`, 'rollback.notSymlink', { path: current });
    const fromText = readlinkSync(current);
    const releases = readdirSync(releasesDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
      .map((entry) => entry.name);
    const fromRelease = releaseOf(path.resolve(path.dirname(current), fromText), releasesDir, releases);
    const choice = chooseRelease(releases, fromRelease, i.to);
    if ('said' in choice) return choice;
    const target = path.join(releasesDir, choice.release);
    // Keep the link's style: a relative link stays relative (it survives moving the whole tree).
    const toText = path.isAbsolute(fromText) ? target : path.relative(path.dirname(current), target);
    return { current, fromText, toText, fromRelease, toRelease: choice.release };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return problemOf(`cannot read ${e.path ?? current}: ${e.code ?? e.message}`, 'rollback.unreadable', { path: e.path ?? current, error: e.code ?? e.message });
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

/** The link changed between planning and switching: nothing was switched. */
class ChangedWhilePlanning extends Error {
  constructor(readonly now: string, link: string) {
    super(`${link} changed while planning (now ${now}); nothing was switched`);
  }
}

/**
 * Points the symlink at the new target atomically: a new symlink beside it, renamed over it, so
 * there is no moment without `current`. Refuses if the link changed since it was planned.
 */
async function swapSymlink(plan: SwitchPlan): Promise<void> {
  const now = await readlink(plan.current);
  if (now !== plan.fromText) throw new ChangedWhilePlanning(now, plan.current);
  const temporary = `${plan.current}.tmp-${randomBytes(6).toString('hex')}`;
  await symlink(plan.toText, temporary);
  try {
    await rename(temporary, plan.current);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** "releases/v2 (v2)": the link's text and, when it is one, the release it names. */
function releaseText(linkText: string, release: string | undefined): string {
  return release === undefined ? linkText : `${linkText} (${release})`;
}

async function switchPhase(i: SymlinkRollback): Promise<Phase> {
  const plan = planSwitch(i);
  if ('said' in plan) {
    const unchanged = readlinkQuietly(i.current);
    const facts = unchanged !== undefined ? [{ label: 'symlink unchanged', value: `${i.current} → ${unchanged}` }] : [];
    return { ok: false, summary: `refused: ${plan.text}; nothing was switched`, said: [say('ops.refused'), plan.said, say('rollback.notSwitched')], facts, output: '' };
  }
  try {
    await swapSymlink(plan);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const said = error instanceof ChangedWhilePlanning ? say('rollback.changed', { link: plan.current, now: error.now }) : say('rollback.switchFailed', { link: plan.current, error: message });
    return { ok: false, summary: `could not switch ${plan.current}: ${message}`, said, facts: [{ label: 'symlink', value: `${plan.current} → ${readlinkQuietly(plan.current) ?? '?'}` }], output: '' };
  }
  const after = await readlink(plan.current);
  const facts: StepFact[] = [
    { label: 'symlink', value: plan.current },
    { label: 'from', value: releaseText(plan.fromText, plan.fromRelease) },
    { label: 'to', value: releaseText(after, plan.toRelease) },
  ];
  return { ok: true, summary: `switched ${plan.current} from ${plan.fromText} to ${after}`, said: say('rollback.switched', { link: plan.current, from: plan.fromText, to: after }), facts, output: '' };
}

function readlinkQuietly(link: string): string | undefined {
  try {
    return path.isAbsolute(link) ? readlinkSync(link) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Running

/** The database restore after a switch, as one phase; its safety backup is kept as an artefact. */
async function restorePhase(inputs: RestoreInputs, ctx: TypedActionContext, budget: Budget): Promise<Phase> {
  const result = await restoreAction.run(inputs, { ...ctx, timeoutMs: Math.max(1, budget.remainingMs()) });
  const restoreSaid = result.saidParts ?? (result.said ? [result.said] : [say('text', { text: result.summary })]);
  return {
    ok: result.status === 'succeeded',
    summary: `database restore: ${result.summary}`,
    said: [say('rollback.restore'), ...restoreSaid],
    // The restore's own labels: the catalogue says them (`fact.<label>`), and they name what was restored.
    facts: result.facts ?? [],
    output: result.outputTail,
    timedOut: result.status === 'timed_out',
    artefacts: result.artefacts,
  };
}

export async function rollbackPhases(i: RollbackInputs, ctx: TypedActionContext, budget: Budget): Promise<Phase[]> {
  let switched: Phase;
  if (i.kind === 'symlink') {
    switched = await switchPhase(i);
  } else {
    const argv: [string, ...string[]] = [i.run[0] ?? '', ...i.run.slice(1)];
    const run = await runProgram(argv, { timeoutMs: Math.max(1, budget.remainingMs()), signal: ctx.signal, env: ctx.programEnv, cwd: i.cwd, onSpawn: ctx.onSpawn });
    const where = i.cwd !== undefined ? ` in ${i.cwd}` : '';
    const facts: StepFact[] = [{ label: 'rollback command', value: quoteArgv(argv) }];
    if (i.cwd !== undefined) facts.push({ label: 'rollback directory', value: i.cwd });
    if (run.exitCode !== undefined) facts.push({ label: 'rollback exit code', value: String(run.exitCode) });
    const last = lastLine(run.output);
    if (last !== '') facts.push({ label: 'rollback output', value: last });
    const said: ProgramSaid =
      i.cwd !== undefined
        ? ({ ok: 'rollback.commandIn', failed: 'rollback.commandInFailed', params: { argv: quoteArgv(argv), dir: i.cwd } } as const)
        : ({ ok: 'rollback.command', failed: 'rollback.commandFailed', params: { argv: quoteArgv(argv) } } as const);
    switched = programPhase(run, `rollback command ${quoteArgv(argv)}${where}`, said, facts);
  }
  const phases = [switched];
  if (!switched.ok) return phases;

  const after: Phase[] = [];
  if (i.restore !== undefined) after.push(await restorePhase(i.restore, ctx, budget));
  if (after.every((p) => p.ok) && i.restart !== undefined) after.push(...(await restartPhases(i.restart, ctx, budget, 'restart verify ')));
  if (after.every((p) => p.ok) && i.verify !== undefined) after.push(await verifyPhase(i.verify, ctx, budget, 'verify '));
  if (after.some((p) => !p.ok)) {
    const kept = i.kind === 'symlink' ? 'the symlink stays switched' : 'the rollback command is not undone';
    const left = i.kind === 'symlink' ? i.current : quoteArgv(i.run);
    after.push({
      ok: true,
      summary: `${kept}; nothing was switched back`,
      said: say(i.kind === 'symlink' ? 'rollback.keptSymlink' : 'rollback.keptCommand'),
      facts: [{ label: 'not switched back', value: left }],
      output: '',
    });
  }
  return [...phases, ...after];
}
