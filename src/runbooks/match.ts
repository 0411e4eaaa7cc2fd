import type { Runbook } from './schema.js';

/**
 * Whether an alert's labels select this runbook: every `match` entry must hold, where a string
 * must equal the label exactly and a list means any of its values. A missing label never matches.
 * Comparison is exact (case-sensitive), as Alertmanager's own equality matchers are.
 */
export function runbookMatches(runbook: Runbook, labels: Record<string, string>): boolean {
  return Object.entries(runbook.match).every(([label, wanted]) => {
    // hasOwn, so labels named like Object.prototype members ("constructor") are not "present".
    if (!Object.hasOwn(labels, label)) return false;
    const value = labels[label];
    return Array.isArray(wanted) ? wanted.some((w) => w === value) : wanted === value;
  });
}

/** The runbooks that match the labels, in their given (load) order. */
export function matchingRunbooks(runbooks: readonly Runbook[], labels: Record<string, string>): Runbook[] {
  return runbooks.filter((runbook) => runbookMatches(runbook, labels));
}
