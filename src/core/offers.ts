import { ALERT_PARAM, type Choice, type Labels, type StoredAlert } from './domain.js';
import { matchingRunbooks, noRunbookHint, resolveParams, stepParamNames, type Runbook, type RunbookStep } from './ports/runbooks.js';
import { t } from './i18n/index.js';

/*
 * What an incident offers. A runbook's params come from the group's common labels; when one comes
 * from a label whose value differs across the group's firing alerts (two instances of one service
 * down), the runbook is still offered: each firing alert whose labels resolve the params is a
 * target the responder chooses (the choice `@alert`, its fingerprint), or, for a step declaring
 * `forEach: alert`, the step runs once for each of them under one approved request.
 */

/** The choice that names the alert a step is for. */
export const ALERT_CHOICE = ALERT_PARAM;

/** One firing alert a step can be run for, with the params its labels give. */
export interface AlertTarget {
  fingerprint: string;
  params: Labels;
  /** The labels that set it apart from the group (`instance=host2:3001`), for buttons and messages. */
  label: string;
}

export interface StepOffer {
  runbook: Runbook;
  step: RunbookStep;
  params: Labels;
  /** The alert chosen for it, when the params come from one alert of the group. */
  target?: AlertTarget | undefined;
  /** When the params differ per alert: the alerts it can run for (one is chosen, or all with `forEach`). */
  targets?: AlertTarget[] | undefined;
}

export interface UnavailableRunbook {
  runbook: string;
  problems: string[];
}

/** Firing alerts as offers see them. */
export type OfferAlert = Pick<StoredAlert, 'fingerprint' | 'labels' | 'status'>;

/** Params the step uses that must be chosen in chat and have not been. */
export function missingChoices(step: RunbookStep, params: Labels): string[] {
  return stepParamNames(step).filter((name) => !Object.hasOwn(params, name));
}

/**
 * The group's firing alerts whose own labels resolve the runbook's params, each once per distinct
 * params. Once none fires (the incident resolved), the alerts it had: a read-only step still runs
 * for one of them, and the card does not call the runbook unavailable.
 */
function alertTargets(runbook: Runbook, labels: Labels, alerts: readonly OfferAlert[], choices: Labels): AlertTarget[] {
  const targets: AlertTarget[] = [];
  const seen = new Set<string>();
  const firing = alerts.filter((a) => a.status === 'firing');
  for (const alert of firing.length > 0 ? firing : alerts) {
    const resolved = resolveParams(runbook, { ...alert.labels, ...labels }, choices);
    if (!resolved.ok) continue;
    const key = JSON.stringify(Object.entries(resolved.params).sort());
    if (seen.has(key)) continue;
    seen.add(key);
    const differing = Object.entries(runbook.params)
      .filter(([, spec]) => spec.fromLabel !== undefined && !Object.hasOwn(labels, spec.fromLabel) && Object.hasOwn(alert.labels, spec.fromLabel))
      .map(([, spec]) => `${spec.fromLabel ?? ''}=${alert.labels[spec.fromLabel ?? ''] ?? ''}`);
    targets.push({ fingerprint: alert.fingerprint, params: resolved.params, label: differing.join(', ') || alert.fingerprint });
  }
  // In the order a responder reads them (host1, host2, …), not the store's.
  return targets.sort((a, b) => a.label.localeCompare(b.label, 'en', { numeric: true }));
}

/**
 * The runbook steps an incident offers as buttons: every step of every runbook whose match rules
 * fit the group's common labels and whose params resolve from them, or from each firing alert's
 * own labels (then the step is offered with its targets). A runbook whose params resolve neither
 * way is reported instead of offered, so nobody presses a button that cannot run. A step that
 * needs a value chosen in chat is offered only when it has a picker; without one it runs only
 * from a "Roll back" button.
 */
export function offersFor(runbooks: readonly Runbook[], labels: Labels, alerts: readonly OfferAlert[] = []): { offers: StepOffer[]; unavailable: UnavailableRunbook[]; noRunbook?: string } {
  const offers: StepOffer[] = [];
  const unavailable: UnavailableRunbook[] = [];
  for (const runbook of matchingRunbooks(runbooks, labels)) {
    const resolved = resolveParams(runbook, labels);
    const targets = resolved.ok ? undefined : alertTargets(runbook, labels, alerts, {});
    if (!resolved.ok && (targets?.length ?? 0) === 0) {
      unavailable.push({ runbook: runbook.name, problems: resolved.problems });
      continue;
    }
    const params = resolved.ok ? resolved.params : (targets?.[0]?.params ?? {});
    for (const step of runbook.steps) {
      if (missingChoices(step, params).length > 0 && !step.pick) continue;
      offers.push({ runbook, step, params, ...(targets ? { targets } : {}) });
    }
  }
  const noRunbook = noRunbookHint(runbooks, labels);
  return { offers, unavailable, ...(noRunbook ? { noRunbook } : {}) };
}

export type OfferLookup =
  | { ok: true; offer: StepOffer }
  /** The step needs a value chosen in chat first; `offer.params` holds everything else. */
  | { ok: 'pick'; offer: StepOffer; pick: NonNullable<RunbookStep['pick']> }
  /** The step's params differ per alert: one of `targets` must be chosen first. */
  | { ok: 'target'; offer: StepOffer; targets: AlertTarget[] }
  | { ok: false; reason: string };

export function findOffer(runbooks: readonly Runbook[], labels: Labels, runbookName: string, stepId: string, choices: Labels = {}, alerts: readonly OfferAlert[] = []): OfferLookup {
  const runbook = runbooks.find((r) => r.name === runbookName);
  if (!runbook) return { ok: false, reason: t('refusal.noRunbook', { name: runbookName }) };
  const step = runbook.steps.find((s) => s.id === stepId);
  if (!step) return { ok: false, reason: t('refusal.noStep', { runbook: runbookName, step: stepId }) };
  if (matchingRunbooks([runbook], labels).length === 0) return { ok: false, reason: t('refusal.notApplicable', { runbook: runbookName }) };
  const { [ALERT_CHOICE]: chosenAlert, ...rest } = choices;
  const resolved = resolveParams(runbook, labels, rest);
  let offer: StepOffer;
  if (resolved.ok) {
    offer = { runbook, step, params: resolved.params };
  } else {
    const targets = alertTargets(runbook, labels, alerts, rest);
    if (targets.length === 0) return { ok: false, reason: t('refusal.runbookCannotRun', { name: runbookName, problems: resolved.problems.join('; ') }) };
    if (chosenAlert !== undefined) {
      const target = targets.find((x) => namesTarget(x, chosenAlert));
      if (!target) return { ok: false, reason: t('refusal.targetGone', { title: step.title }) };
      offer = { runbook, step, params: target.params, target };
    } else if (step.forEach === 'alert' || targets.length === 1) {
      offer = { runbook, step, params: targets[0]?.params ?? {}, ...(targets.length === 1 ? { target: targets[0] } : {}), targets };
    } else {
      return { ok: 'target', offer: { runbook, step, params: targets[0]?.params ?? {}, targets }, targets };
    }
  }
  const missing = missingChoices(step, offer.params);
  if (missing.length === 0) return { ok: true, offer };
  if (step.pick) return { ok: 'pick', offer, pick: step.pick };
  return { ok: false, reason: t('refusal.needsChosen', { title: step.title, missing: missing.join(', '), rollback: t('button.rollback') }) };
}

/**
 * Whether `chosen` names this alert: its fingerprint (a menu's choice), or, typed in a command
 * (`alert=host2:3001`), its label (`instance=host2:3001`) or that label's values.
 */
function namesTarget(target: AlertTarget, chosen: string): boolean {
  return target.fingerprint === chosen || target.label === chosen || targetValues(target) === chosen;
}

/** "host2:3001": the values of the labels that set an alert apart, as a command names it. */
export function targetValues(target: AlertTarget): string {
  return target.label
    .split(', ')
    .map((pair) => pair.slice(pair.indexOf('=') + 1))
    .join(',');
}

/**
 * The param a picker option stands for several values at once: a backup chosen for one alert of
 * a group carries that alert too (`{"@alert": …, "backup": …}` as JSON), so the restore runs
 * where the backup was listed. The choices table keeps one param and value per option.
 */
export const CHOICES_PARAM = '@choices';

/** The values a stored choice stands for. */
export function choiceValues(choice: Pick<Choice, 'param' | 'value'>): Labels {
  if (choice.param !== CHOICES_PARAM) return { [choice.param]: choice.value };
  const parsed: unknown = JSON.parse(choice.value);
  if (typeof parsed !== 'object' || parsed === null) return {};
  return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The stored form of a choice standing for `values` (one param, or several as JSON). */
export function storedChoice(values: Labels): { param: string; value: string } {
  const entries = Object.entries(values);
  if (entries.length === 1) return { param: entries[0]?.[0] ?? '', value: entries[0]?.[1] ?? '' };
  return { param: CHOICES_PARAM, value: JSON.stringify(values) };
}

/** Reserved params recording the alert a run is for (`@alert`, `@alert-label`), or every target of a `forEach` step (`@forEach`). */
export function targetParams(offer: StepOffer): Labels {
  if (offer.target) return { [ALERT_CHOICE]: offer.target.fingerprint, '@alert-label': offer.target.label };
  if (offer.step.forEach === 'alert' && offer.targets && offer.targets.length > 1) {
    return { '@forEach': JSON.stringify(offer.targets.map((t) => ({ alert: t.label, params: t.params }))) };
  }
  return {};
}

/** The alert a run was for, as a choice to carry to a step that follows it (a rollback). */
export function targetOf(params: Labels): Labels {
  return params[ALERT_CHOICE] !== undefined ? { [ALERT_CHOICE]: params[ALERT_CHOICE] } : {};
}

/** "\n🎯 for instance=host2:3001": the alert a request is for, in its message. */
export function targetText(offer: StepOffer): string {
  if (offer.target) return `\n${t('thread.targetOne', { target: offer.target.label })}`;
  if (offer.step.forEach === 'alert' && offer.targets && offer.targets.length > 1) return `\n${t('thread.targetEach', { n: offer.targets.length, targets: offer.targets.map((x) => x.label).join('; ') })}`;
  return '';
}

/** The param sets of a `forEach` run, each with the alert it is for; undefined for a single run. */
export function forEachTargets(params: Labels): Array<{ alert: string; params: Labels }> | undefined {
  const raw = params['@forEach'];
  if (raw === undefined) return undefined;
  return JSON.parse(raw) as Array<{ alert: string; params: Labels }>;
}
