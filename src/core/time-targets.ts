import type { StepRun } from './domain.js';
import type { Runbook } from './ports/runbooks.js';
import { formatDuration } from './time.js';

/*
 * A procedure's time targets as clocks (a runbook's `timeTargets`, e.g. the generic runbook's
 * rollback: decide < 15 min, execute < 30, verify < 15, total < 1 h). The phases follow the
 * incident's step runs of that runbook:
 * - decide: from the incident opening until an execute step is first requested;
 * - execute: from then until every requested execute step has finished;
 * - verify: from then until every verify step requested since has finished (at least one);
 * - total: from the incident opening until verification ends.
 * A phase not reached yet has no clock; one under way counts up to now.
 */

export type PhaseName = 'decide' | 'execute' | 'verify' | 'total';

export interface PhaseClock {
  phase: PhaseName;
  targetMs: number;
  /** Elapsed so far, or in all when ended; undefined: not started. */
  elapsedMs: number | undefined;
  ended: boolean;
}

export interface TimeTargetClock {
  runbook: string;
  phases: PhaseClock[];
}

/** Runs that never ran and never will (denied, expired) do not move a phase on. */
const counts = (run: StepRun) => run.state !== 'denied' && run.state !== 'expired';
const done = (run: StepRun) => !['requested', 'approved', 'running'].includes(run.state);
const ms = (iso: string) => Date.parse(iso);

function clockOf(runbook: Runbook, runs: readonly StepRun[], openedAt: string, now: string, resolvedAt: string | undefined): TimeTargetClock | undefined {
  const targets = runbook.timeTargets;
  if (!targets) return undefined;
  const mine = runs.filter((r) => r.runbook === runbook.name && counts(r));
  const execRuns = mine.filter((r) => targets.execute.steps.includes(r.step));
  const opened = ms(openedAt);
  // A resolved incident's clocks stop when it was resolved.
  const end = resolvedAt !== undefined ? Math.min(ms(now), ms(resolvedAt)) : ms(now);
  const target = (minutes: number) => minutes * 60_000;

  const decideEnd = execRuns.length > 0 ? Math.min(...execRuns.map((r) => ms(r.createdAt))) : undefined;
  const executeEnd = decideEnd !== undefined && execRuns.every(done) ? Math.max(...execRuns.map((r) => ms(r.finishedAt ?? r.updatedAt))) : undefined;
  const verifyRuns = executeEnd === undefined ? [] : mine.filter((r) => targets.verify.steps.includes(r.step) && ms(r.createdAt) >= (decideEnd ?? 0));
  const verifyEnd = executeEnd !== undefined && verifyRuns.length > 0 && verifyRuns.every(done) ? Math.max(executeEnd, ...verifyRuns.map((r) => ms(r.finishedAt ?? r.updatedAt))) : undefined;

  const phase = (name: PhaseName, minutes: number, from: number | undefined, to: number | undefined): PhaseClock => ({
    phase: name,
    targetMs: target(minutes),
    elapsedMs: from === undefined ? undefined : Math.max(0, (to ?? end) - from),
    ended: to !== undefined,
  });
  return {
    runbook: runbook.name,
    phases: [
      phase('decide', targets.decide.minutes, opened, decideEnd),
      phase('execute', targets.execute.minutes, decideEnd, executeEnd),
      phase('verify', targets.verify.minutes, executeEnd, verifyEnd),
      phase('total', targets.total.minutes, opened, verifyEnd),
    ],
  };
}

/**
 * The clocks of the runbooks with time targets among `runbooks` (those the incident offers, or
 * whose steps it ran). A resolved incident shows a clock only when its procedure was started.
 */
export function timeTargetClocks(input: { runbooks: readonly Runbook[]; runs: readonly StepRun[]; openedAt: string; now: string; resolvedAt?: string | undefined }): TimeTargetClock[] {
  const clocks: TimeTargetClock[] = [];
  for (const runbook of input.runbooks) {
    const clock = clockOf(runbook, input.runs, input.openedAt, input.now, input.resolvedAt);
    if (!clock) continue;
    if (input.resolvedAt !== undefined && clock.phases[1]?.elapsedMs === undefined) continue;
    clocks.push(clock);
  }
  return clocks;
}

const minutesText = (targetMs: number) => (targetMs % 3_600_000 === 0 ? `${targetMs / 3_600_000} h` : `${Math.round(targetMs / 60_000)} min`);

/** "execute 12m of < 30 min ⏳": ✅ ended within, ⚠️ over (ended or not), ⏳ under way, — not reached. */
export function describePhase(p: PhaseClock): string {
  if (p.elapsedMs === undefined) return `${p.phase} — (< ${minutesText(p.targetMs)})`;
  const over = p.elapsedMs > p.targetMs;
  const icon = over ? '⚠️' : p.ended ? '✅' : '⏳';
  const overBy = over ? `, over by ${formatDuration(p.elapsedMs - p.targetMs)}` : '';
  return `${p.phase} ${formatDuration(p.elapsedMs)} ${icon} (< ${minutesText(p.targetMs)}${overBy})`;
}

export const describeClock = (clock: TimeTargetClock): string => clock.phases.map(describePhase).join(' · ');
