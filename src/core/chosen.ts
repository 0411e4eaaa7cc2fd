import { chosenParams, type PinnedFile } from './chosen-pins.js';
import { quoteValue, renderTemplate, type ChosenFile, type Runbook, type RunbookStep } from './ports/runbooks.js';
import type { StepRunner } from './ports/step-runner.js';
import { NotAllowedError } from '../domain/errors.js';
import { choiceValues, findOffer, targetOf, type StepOffer } from './offers.js';
import type { Store } from './ports/store.js';
import { t } from './i18n/index.js';

/*
 * A value chosen in chat stays chosen from what the bot offered. A value typed in a command must
 * be one the step's picker would list now; a picker option is re-checked (still a regular file in
 * the picker's directory); a "Roll back" button's snapshot must still be the file that was taken.
 * A step without a picker runs only from its "Roll back" button. A restore also needs the
 * backup's `.sha256` sidecar to match, unless its runbook says `verify: false`.
 *
 * Files are listed and hashed here, before the request's transaction, never inside it.
 */

/** Where a chosen value came from. */
export type ChosenOrigin =
  /** Typed in a command. */
  | { kind: 'command' }
  /** A picker option the bot listed (a stored choice). */
  | { kind: 'picker' }
  /** The snapshot bound to a "Roll back" button, with the hash it had when it was taken. */
  | { kind: 'rollback'; sha256: string };

export interface ChoiceDeps {
  store: Store;
  runbooks: readonly Runbook[];
  /** Lists and inspects files where the step runs (the bot's host, or its runner's). */
  runner: StepRunner;
}

/** Whether the step restores from a backup whose sidecar must match (the default). */
function needsSidecar(step: RunbookStep): boolean {
  return step.action === 'restore' && (step.with as { verify?: unknown }).verify !== false;
}

/** A restore with `verify: if-present` takes a backup made by hand, without a sidecar (a mismatch is still refused). */
const sidecarOptional = (step: RunbookStep) => step.action === 'restore' && (step.with as { verify?: unknown }).verify === 'if-present';

async function checkOne(deps: ChoiceDeps, offer: StepOffer, name: string, origin: ChosenOrigin): Promise<ChosenFile | string> {
  const { step } = offer;
  const value = offer.params[name] ?? '';
  const query = { runbook: offer.runbook.name, purpose: 'query' as const };
  let inspected;
  if (origin.kind === 'rollback') {
    inspected = await deps.runner.inspectFile(step, offer.params, query, value);
    if (inspected.ok && inspected.file.sha256 !== origin.sha256) {
      return t('chosen.snapshotChanged', { path: value, now: inspected.file.sha256.slice(0, 16), taken: origin.sha256.slice(0, 16) });
    }
  } else {
    const pick = step.pick;
    if (!pick || pick.param !== name) {
      return t('chosen.rollbackOnly', { title: step.title, rollback: t('button.rollback'), name, where: t(origin.kind === 'command' ? 'chosen.where.command' : 'chosen.where.here') });
    }
    const dir = renderTemplate(pick.dir, offer.params);
    const prefix = renderTemplate(pick.prefix, offer.params);
    if (origin.kind === 'command') {
      const offered = await deps.runner.listChoices(step, offer.params, query);
      if (!offered.some((f) => f.path === value)) {
        return t('chosen.notOffered', { value: quoteValue(value, 200), title: step.title, limit: pick.limit, prefix, dir });
      }
    }
    inspected = await deps.runner.inspectFile(step, offer.params, query, value, dir);
  }
  if (!inspected.ok) return t('chosen.cannotUse', { title: step.title, name, reason: inspected.reason });
  const file = inspected.file;
  if (needsSidecar(step) && file.sidecar === 'missing' && !sidecarOptional(step)) {
    return t('chosen.noSidecar', { path: file.path });
  }
  if (needsSidecar(step) && file.sidecar === 'mismatch') return t('chosen.sidecarMismatch', { path: file.path });
  return file;
}

/** Checks every chosen value of `offer`; throws a NotAllowedError naming what was wrong. */
export async function vetChoices(deps: ChoiceDeps, incidentId: number, offer: StepOffer, origin: ChosenOrigin): Promise<PinnedFile[]> {
  const pinned: PinnedFile[] = [];
  for (const name of chosenParams(offer)) {
    const checked = await checkOne(deps, offer, name, origin);
    if (typeof checked === 'string') {
      throw new NotAllowedError(checked, { incidentId, kind: 'step.refused', data: { runbook: offer.runbook.name, step: offer.step.id, param: name, value: offer.params[name] } });
    }
    pinned.push({ param: name, path: checked.path, sizeBytes: checked.sizeBytes, mtime: checked.mtime, sha256: checked.sha256 });
  }
  return pinned;
}

/**
 * Why a request may not go ahead with these checked files: every chosen value of the offer must
 * have been checked, and be exactly the value checked. The request's own guard, whatever called it.
 */
export function uncheckedChoice(offer: StepOffer, pinned: readonly PinnedFile[]): string | undefined {
  for (const name of chosenParams(offer)) {
    if (!pinned.some((f) => f.param === name && f.path === offer.params[name])) {
      return t('chosen.unchecked', { title: offer.step.title, name, value: quoteValue(offer.params[name] ?? '', 200) });
    }
  }
  return undefined;
}

/** For a picker press: the stored choice's file, checked again now. */
export async function vetPickedChoice(deps: ChoiceDeps, choiceId: number): Promise<PinnedFile[]> {
  const lookup = await deps.store.transaction(async (tx) => {
    const choice = await tx.getChoice(choiceId);
    const incident = choice && (await tx.getIncident(choice.incidentId));
    return choice && incident && { incidentId: incident.id, found: findOffer(deps.runbooks, incident.commonLabels, choice.runbook, choice.step, choiceValues(choice), await tx.listAlerts(incident.id)) };
  });
  // Anything else is refused by the request itself, with its own reason.
  if (!lookup || lookup.found.ok !== true) return [];
  return vetChoices(deps, lookup.incidentId, lookup.found.offer, { kind: 'picker' });
}

/** For a "Roll back" press: the run's checkpoint snapshot, checked against the hash it was taken with. */
export async function vetRollback(deps: ChoiceDeps, runId: number): Promise<PinnedFile[]> {
  const lookup = await deps.store.transaction(async (tx) => {
    const run = await tx.getStepRun(runId);
    const checkpoint = run && deps.runbooks.find((r) => r.name === run.runbook)?.steps.find((s) => s.id === run.step)?.checkpoint;
    const snapshot = run?.result?.artefacts?.find((a) => a.kind === 'checkpoint');
    const incident = run && (await tx.getIncident(run.incidentId));
    if (!run || !checkpoint || !snapshot || !incident) return undefined;
    const found = findOffer(deps.runbooks, incident.commonLabels, run.runbook, checkpoint.rollback, { [checkpoint.param]: snapshot.path, ...targetOf(run.params) }, await tx.listAlerts(incident.id));
    return { incidentId: incident.id, found, sha256: snapshot.sha256 };
  });
  if (!lookup || lookup.found.ok !== true) return [];
  return vetChoices(deps, lookup.incidentId, lookup.found.offer, { kind: 'rollback', sha256: lookup.sha256 });
}
