import { quoteValue, valueProblem } from './param-value.js';
import type { Runbook } from './schema.js';

/**
 * Outcome of resolving a runbook's params: the values (chosen params only when a choice was
 * given), or every reason it cannot run.
 */
export type ParamResolution = { ok: true; params: Record<string, string> } | { ok: false; problems: string[] };

/**
 * Finds each param's value (its label when set and present, else its default) and checks it
 * against its pattern and the rules every value obeys. Label values come from whoever can send an
 * alert, so nothing reaches a step until every value has passed.
 */
export function resolveParams(runbook: Runbook, labels: Record<string, string>, choices: Record<string, string> = {}): ParamResolution {
  const params: Record<string, string> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(runbook.params)) {
    if (spec.chosen) {
      // A choice made in chat: absent until someone picks one, and then held to the pattern like a label.
      if (!Object.hasOwn(choices, name)) continue;
      const problem = valueProblem(choices[name] ?? '', spec.pattern);
      if (problem !== undefined) problems.push(`param "${name}" (chosen): ${problem}`);
      else params[name] = choices[name] ?? '';
      continue;
    }
    const label = spec.fromLabel;
    // An empty label is treated as absent, as Prometheus does; hasOwn ignores Object.prototype names.
    const fromLabel = label !== undefined && Object.hasOwn(labels, label) && labels[label] !== '' ? labels[label] : undefined;
    const value = fromLabel ?? spec.default;
    const origin = fromLabel !== undefined ? `param "${name}" from label "${label}"` : `param "${name}"`;
    if (value === undefined) {
      const why = label !== undefined ? `label "${label}" is missing and there is no default` : 'has no label and no default';
      problems.push(`${origin}: ${why}`);
      continue;
    }
    // One argument can still be an option: `--require=/tmp/x.js` would make node load a file. A
    // value from an alert never starts with a dash, whatever the manifest's pattern allows.
    const problem =
      fromLabel !== undefined && value.startsWith('-') ? `value ${quoteValue(value)} starts with "-" and could be read as a program option` : valueProblem(value, spec.pattern);
    if (problem !== undefined) problems.push(`${origin}${fromLabel === undefined ? ' (default)' : ''}: ${problem}`);
    else params[name] = value;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, params };
}

/**
 * Checks params that arrived with a job (on a runner) against this host's own copy of the runbook:
 * only declared params, every label or default param present, each value passing its pattern and
 * the rules every value obeys. Returns the problems; empty when the params may be used.
 */
export function vetParams(runbook: Runbook, params: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(params)) {
    if (!Object.hasOwn(runbook.params, name)) problems.push(`param ${quoteValue(name)} is not declared by runbook ${runbook.name}`);
  }
  for (const [name, spec] of Object.entries(runbook.params)) {
    const value = Object.hasOwn(params, name) ? params[name] : undefined;
    if (value === undefined) {
      if (!spec.chosen) problems.push(`param "${name}" is missing`);
      continue;
    }
    const problem = spec.fromLabel !== undefined && value !== spec.default && value.startsWith('-') ? `value ${quoteValue(value)} starts with "-"` : valueProblem(value, spec.pattern);
    if (problem !== undefined) problems.push(`param "${name}": ${problem}`);
  }
  return problems;
}
