import type { Labels } from './domain.js';
import { matchingRunbooks, resolveParams, stepParamNames, type Runbook, type RunbookStep } from './ports/runbooks.js';

export interface StepOffer {
  runbook: Runbook;
  step: RunbookStep;
  params: Labels;
}

export interface UnavailableRunbook {
  runbook: string;
  problems: string[];
}

/** Params the step uses that must be chosen in chat and have not been. */
export function missingChoices(step: RunbookStep, params: Labels): string[] {
  return stepParamNames(step).filter((name) => !Object.hasOwn(params, name));
}

/**
 * The runbook steps an incident offers as buttons: every step of every runbook whose match rules
 * fit the group's common labels and whose params resolve from them. A runbook whose params do not
 * resolve is reported instead of offered, so nobody presses a button that cannot run. A step that
 * needs a value chosen in chat is offered only when it has a picker; without one it runs only
 * from a "Roll back" button.
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
    for (const step of runbook.steps) {
      if (missingChoices(step, resolved.params).length > 0 && !step.pick) continue;
      offers.push({ runbook, step, params: resolved.params });
    }
  }
  return { offers, unavailable };
}

export type OfferLookup =
  | { ok: true; offer: StepOffer }
  /** The step needs a value chosen in chat first; `offer.params` holds everything else. */
  | { ok: 'pick'; offer: StepOffer; pick: NonNullable<RunbookStep['pick']> }
  | { ok: false; reason: string };

export function findOffer(runbooks: readonly Runbook[], labels: Labels, runbookName: string, stepId: string, choices: Labels = {}): OfferLookup {
  const runbook = runbooks.find((r) => r.name === runbookName);
  if (!runbook) return { ok: false, reason: `There is no runbook named "${runbookName}".` };
  const step = runbook.steps.find((s) => s.id === stepId);
  if (!step) return { ok: false, reason: `Runbook "${runbookName}" has no step "${stepId}".` };
  if (matchingRunbooks([runbook], labels).length === 0) return { ok: false, reason: `Runbook "${runbookName}" does not apply to this incident's labels.` };
  const resolved = resolveParams(runbook, labels, choices);
  if (!resolved.ok) return { ok: false, reason: `Runbook "${runbookName}" cannot run for this incident: ${resolved.problems.join('; ')}` };
  const offer = { runbook, step, params: resolved.params };
  const missing = missingChoices(step, resolved.params);
  if (missing.length === 0) return { ok: true, offer };
  if (step.pick) return { ok: 'pick', offer, pick: step.pick };
  return { ok: false, reason: `"${step.title}" needs ${missing.join(', ')} chosen first; it runs from a "Roll back" button.` };
}
