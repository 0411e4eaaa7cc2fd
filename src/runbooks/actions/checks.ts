import type { Expectation } from '../check-schema.js';
import type { StepFact, StepResult } from './types.js';

/** A line quoted in a finding, cut so that a fact stays one readable line. */
const quoteLine = (line: string) => {
  const trimmed = line.trim();
  return `\`${trimmed.length > 160 ? `${trimmed.slice(0, 159)}…` : trimmed}\``;
};

const lineAt = (text: string, index: number) => {
  const start = text.lastIndexOf('\n', index - 1) + 1;
  const end = text.indexOf('\n', index);
  return text.slice(start, end === -1 ? text.length : end);
};

interface Finding {
  ok: boolean;
  fact: StepFact;
  /** Why it failed, for the summary. */
  problem?: string;
}

function checkOne(output: string, e: Expectation): Finding {
  if ('value' in e) {
    const name = e.label ?? `value of /${e.value}/`;
    const bounds = [e.min !== undefined ? `min ${e.min}` : '', e.max !== undefined ? `max ${e.max}` : ''].filter(Boolean).join(', ');
    const seen: Array<{ n: number; line: string }> = [];
    for (const m of output.matchAll(new RegExp(e.value, 'gmu'))) {
      const n = Number.parseFloat((m[1] ?? m[0]).replace(',', '.'));
      if (Number.isFinite(n)) seen.push({ n, line: lineAt(output, m.index) });
      if (m[0] === '') break;
    }
    if (seen.length === 0) return { ok: false, fact: { label: name, value: `❌ not found in the output (${bounds})` }, problem: `${name}: not found in the output` };
    const bad = seen.filter((s) => (e.max !== undefined && s.n > e.max) || (e.min !== undefined && s.n < e.min));
    if (bad.length > 0) {
      const shown = bad.slice(0, 3).map((b) => `${b.n} in ${quoteLine(b.line)}`);
      const more = bad.length > 3 ? ` and ${bad.length - 3} more` : '';
      return { ok: false, fact: { label: name, value: `❌ ${shown.join('; ')}${more} (${bounds})` }, problem: `${name} ${bad.map((b) => b.n).slice(0, 3).join(', ')} outside ${bounds}` };
    }
    const worst = e.max !== undefined ? Math.max(...seen.map((s) => s.n)) : Math.min(...seen.map((s) => s.n));
    return { ok: true, fact: { label: name, value: `✅ ${seen.length === 1 ? worst : `${e.max !== undefined ? 'highest' : 'lowest'} ${worst} of ${seen.length}`} (${bounds})` } };
  }
  if ('absent' in e) {
    const name = e.label ?? `no /${e.absent}/`;
    const hits = [...output.matchAll(new RegExp(e.absent, 'gmu'))].filter((m) => m[0] !== '');
    if (hits.length === 0) return { ok: true, fact: { label: name, value: '✅ none' } };
    const last = hits.at(-1);
    const example = last ? `, the last: ${quoteLine(lineAt(output, last.index))}` : '';
    return { ok: false, fact: { label: name, value: `❌ ${hits.length} found${example}` }, problem: `${name}: ${hits.length} found` };
  }
  const name = e.label ?? `/${e.present}/`;
  const hit = new RegExp(e.present, 'mu').exec(output);
  if (hit) return { ok: true, fact: { label: name, value: `✅ ${quoteLine(lineAt(output, hit.index))}` } };
  return { ok: false, fact: { label: name, value: '❌ not found in the output' }, problem: `${name}: not found in the output` };
}

/**
 * Applies a step's `expect:` to its (redacted) output: each expectation adds a finding with the
 * value it saw, and one that fails turns a succeeded result into a failed one, its summary saying
 * why. A result that already failed stays failed, with the findings added.
 */
export function applyExpectations(result: StepResult, output: string, expectations: readonly Expectation[] | undefined): StepResult {
  if (!expectations || expectations.length === 0) return result;
  const findings = expectations.map((e) => checkOne(output, e));
  const problems = findings.flatMap((f) => (f.problem === undefined ? [] : [f.problem]));
  const facts = [...(result.facts ?? []), ...findings.map((f) => f.fact)];
  if (problems.length === 0 || result.status !== 'succeeded') return { ...result, facts };
  return { ...result, facts, status: 'failed', summary: `${result.summary}, but ${problems.join('; ')}` };
}

/** A step's `keep:` patterns, compiled (the schema checked they compile). */
export const keepPatterns = (keep: readonly string[] | undefined): RegExp[] => (keep ?? []).map((k) => new RegExp(k, 'u'));
