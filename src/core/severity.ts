import type { Severity } from './card.js';
import type { Labels } from './domain.js';

const RANK: Record<Severity, number> = { critical: 3, warning: 2, info: 1, none: 0 };

/** Maps a `severity` label to one of ours; common spellings (page, error, high) count as critical. */
export function severityOf(labels: Labels): Severity {
  const raw = (labels.severity ?? '').toLowerCase();
  if (['critical', 'page', 'error', 'high', 'p1', 'sev1'].includes(raw)) return 'critical';
  if (['warning', 'warn', 'medium', 'p2', 'sev2'].includes(raw)) return 'warning';
  if (['info', 'low', 'notice', 'p3', 'sev3'].includes(raw)) return 'info';
  return 'none';
}

export function highestSeverity(all: readonly Labels[]): Severity {
  return all.map(severityOf).reduce<Severity>((a, b) => (RANK[b] > RANK[a] ? b : a), 'none');
}
