import type { Labels } from './domain.js';
import { matchingRunbooks } from '../runbooks/match.js';
import { resolveParams } from '../runbooks/params.js';
import type { Runbook, RunbookStep } from '../runbooks/schema.js';

export interface StepOffer {
  runbook: Runbook;
  step: RunbookStep;
  params: Labels;
}

export interface UnavailableRunbook {
  runbook: string;
  problems: string[];
}

/**
 * The runbook steps an incident offers as buttons: every step of every runbook whose match rules
 * fit the group's common labels and whose params resolve from them. A runbook whose params do not
 * resolve is reported instead of offered, so nobody presses a button that cannot run.
 */
export function offersFor(runbooks: readonly Runbook[], labels: Labels): { offers: StepOffer[]; unavailable: UnavailableRunbook[] } {
  const offers: StepOffer[] = [];
  const unavailable: UnavailableRunbook[] = [];
  for (const runbook of matchingRunbooks(runbooks, labels)) {
    const resolved = resolveParams(runbook, labels);
    if (!resolved.ok) {
      unavailable.push({ runbook: runbook.name, problems: resolved.problems });
      continue;
    }
    for (const step of runbook.steps) offers.push({ runbook, step, params: resolved.params });
  }
  return { offers, unavailable };
}

export function findOffer(runbooks: readonly Runbook[], labels: Labels, runbookName: string, stepId: string):
  | { ok: true; offer: StepOffer }
  | { ok: false; reason: string } {
  const runbook = runbooks.find((r) => r.name === runbookName);
  if (!runbook) return { ok: false, reason: `There is no runbook named "${runbookName}".` };
  const step = runbook.steps.find((s) => s.id === stepId);
  if (!step) return { ok: false, reason: `Runbook "${runbookName}" has no step "${stepId}".` };
  const { offers, unavailable } = offersFor([runbook], labels);
  const problem = unavailable[0];
  if (problem) return { ok: false, reason: `Runbook "${runbookName}" cannot run for this incident: ${problem.problems.join('; ')}` };
  const offer = offers.find((o) => o.step.id === stepId);
  if (!offer) return { ok: false, reason: `Runbook "${runbookName}" does not apply to this incident's labels.` };
  return { ok: true, offer };
}
