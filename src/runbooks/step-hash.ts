import { createHash } from 'node:crypto';
import type { RunbookStep } from './schema.js';

/**
 * A digest of a step as loaded (defaults applied), which a runner compares with its own copy of the
 * runbook before it runs a job: a bot whose manifests were changed can ask, but the runner only runs
 * what its own host's manifests define. Keys are sorted, so YAML key order does not matter.
 */
export function stepHash(runbook: string, step: RunbookStep): string {
  return createHash('sha256').update(stableJson({ runbook, step })).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
