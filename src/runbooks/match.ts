import type { Runbook } from './schema.js';

type LabelMatch = Runbook['match'];

/** Whether every entry holds: a string must equal the label exactly, a list means any of its values. */
function labelsFit(match: LabelMatch, labels: Record<string, string>): boolean {
  return Object.entries(match).every(([label, wanted]) => {
    // hasOwn, so labels named like Object.prototype members ("constructor") are not "present".
    if (!Object.hasOwn(labels, label)) return false;
    const value = labels[label];
    return Array.isArray(wanted) ? wanted.some((w) => w === value) : wanted === value;
  });
}

/**
 * Whether an alert's labels select this runbook: its `match`, or one of its `alsoMatch` label
 * sets, holds entirely. A missing label never matches. Comparison is exact (case-sensitive), as
 * Alertmanager's own equality matchers are.
 */
export function runbookMatches(runbook: Runbook, labels: Record<string, string>): boolean {
  return [runbook.match, ...runbook.alsoMatch].some((m) => labelsFit(m, labels));
}

/** The runbooks that match the labels, in their given (load) order. */
export function matchingRunbooks(runbooks: readonly Runbook[], labels: Record<string, string>): Runbook[] {
  return runbooks.filter((runbook) => runbookMatches(runbook, labels));
}

const describeMatch = (m: LabelMatch) => Object.entries(m).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`).join(', ');

/**
 * Why no runbook matches these labels, for the card: the labels the runbooks select on, with this
 * alert's value of each (or "absent"), and the nearest runbook with what it wanted. Undefined when
 * a runbook matches or none is loaded.
 */
export function noRunbookHint(runbooks: readonly Runbook[], labels: Record<string, string>): string | undefined {
  if (runbooks.length === 0 || matchingRunbooks(runbooks, labels).length > 0) return undefined;
  const names = [...new Set(runbooks.flatMap((r) => [r.match, ...r.alsoMatch].flatMap((m) => Object.keys(m))))].sort();
  const looked = names.map((n) => `${n}=${Object.hasOwn(labels, n) ? labels[n] : '(absent)'}`).join(', ');
  let nearest: { runbook: Runbook; match: LabelMatch; fit: number } | undefined;
  for (const runbook of runbooks) {
    for (const match of [runbook.match, ...runbook.alsoMatch]) {
      const entries = Object.keys(match);
      if (entries.length === 0) continue;
      const fit = entries.filter((k) => labelsFit({ [k]: match[k] ?? [] }, labels)).length / entries.length;
      if (!nearest || fit > nearest.fit) nearest = { runbook, match, fit };
    }
  }
  const near = nearest && nearest.fit > 0 ? `; nearest: ${nearest.runbook.name}, which wants ${describeMatch(nearest.match)}` : '';
  return `No runbook matches this alert. Labels looked at: ${looked || 'none'}${near}.`;
}
