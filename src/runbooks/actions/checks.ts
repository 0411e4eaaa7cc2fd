import type { Expectation } from '../check-schema.js';
import type { ResultMessage } from '../../domain/result-message.js';
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
  /** The same as a code, for the bot's language. */
  said?: ResultMessage;
}

/** The bounds as values: "≤ 85", "≥ 10, ≤ 90". */
const boundsValue = (e: { min?: number | undefined; max?: number | undefined }) =>
  [e.min !== undefined ? `≥ ${e.min}` : '', e.max !== undefined ? `≤ ${e.max}` : ''].filter(Boolean).join(', ');

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
    if (seen.length === 0) {
      return { ok: false, fact: { label: name, value: `❌ not found in the output (${bounds})`, said: { code: 'checkValue.missing', params: { bounds: boundsValue(e) } } }, problem: `${name}: not found in the output`, said: { code: 'check.notFound', params: { name } } };
    }
    const bad = seen.filter((s) => (e.max !== undefined && s.n > e.max) || (e.min !== undefined && s.n < e.min));
    if (bad.length > 0) {
      const shown = bad.slice(0, 3).map((b) => `${b.n} in ${quoteLine(b.line)}`);
      const more = bad.length > 3 ? ` and ${bad.length - 3} more` : '';
      const values = bad.map((b) => b.n).slice(0, 3).join(', ');
      const lines = bad.slice(0, 3).map((b) => `${b.n} ${quoteLine(b.line)}`).join('; ');
      const said: ResultMessage =
        bad.length > 3 ? { code: 'checkValue.outsideMore', params: { lines, more: bad.length - 3, bounds: boundsValue(e) } } : { code: 'checkValue.outside', params: { lines, bounds: boundsValue(e) } };
      return {
        ok: false,
        fact: { label: name, value: `❌ ${shown.join('; ')}${more} (${bounds})`, said },
        problem: `${name} ${values} outside ${bounds}`,
        said: { code: 'check.outside', params: { name, values, bounds: boundsValue(e) } },
      };
    }
    const worst = e.max !== undefined ? Math.max(...seen.map((s) => s.n)) : Math.min(...seen.map((s) => s.n));
    const okSaid: ResultMessage =
      seen.length === 1
        ? { code: 'checkValue.within', params: { value: worst, bounds: boundsValue(e) } }
        : { code: e.max !== undefined ? 'checkValue.highest' : 'checkValue.lowest', params: { value: worst, count: seen.length, bounds: boundsValue(e) } };
    return { ok: true, fact: { label: name, value: `✅ ${seen.length === 1 ? worst : `${e.max !== undefined ? 'highest' : 'lowest'} ${worst} of ${seen.length}`} (${bounds})`, said: okSaid } };
  }
  if ('absent' in e) {
    const name = e.label ?? `no /${e.absent}/`;
    const hits = [...output.matchAll(new RegExp(e.absent, 'gmu'))].filter((m) => m[0] !== '');
    if (hits.length === 0) return { ok: true, fact: { label: name, value: '✅ none', said: { code: 'checkValue.none', params: {} } } };
    const last = hits.at(-1);
    const example = last ? `, the last: ${quoteLine(lineAt(output, last.index))}` : '';
    const foundSaid: ResultMessage = last ? { code: 'checkValue.foundLast', params: { count: hits.length, last: quoteLine(lineAt(output, last.index)) } } : { code: 'checkValue.found', params: { count: hits.length } };
    return { ok: false, fact: { label: name, value: `❌ ${hits.length} found${example}`, said: foundSaid }, problem: `${name}: ${hits.length} found`, said: { code: 'check.found', params: { name, count: hits.length } } };
  }
  const name = e.label ?? `/${e.present}/`;
  const hit = new RegExp(e.present, 'mu').exec(output);
  if (hit) return { ok: true, fact: { label: name, value: `✅ ${quoteLine(lineAt(output, hit.index))}` } };
  return { ok: false, fact: { label: name, value: '❌ not found in the output', said: { code: 'checkValue.absent', params: {} } }, problem: `${name}: not found in the output`, said: { code: 'check.notFound', params: { name } } };
}

/** The exec action's plain summary, "exit 0 in 1.2s". */
const EXIT_SUMMARY = /^exit (-?\d+) in \S+(?: ms)?$/u;

/**
 * The result's own line as parts, before the problems are added: its parts or its code, the exec
 * shape "exit N in T" as a code, else the line as written.
 */
function ownParts(result: StepResult): ResultMessage[] {
  if (result.saidParts?.length) return result.saidParts;
  if (result.said) return [result.said];
  if (result.exitCode !== undefined && EXIT_SUMMARY.test(result.summary)) return [{ code: 'check.exit', params: { code: result.exitCode, tookMs: result.durationMs } }];
  return [{ code: 'text', params: { text: result.summary } }];
}

/**
 * Applies a step's `expect:` to its (redacted) output: each expectation adds a finding with the
 * value it saw, and one that fails turns a succeeded result into a failed one, its summary saying
 * why. A result that already failed stays failed, with the findings added.
 */
export function applyExpectations(result: StepResult, output: string, expectations: readonly Expectation[] | undefined): StepResult {
  if (!expectations || expectations.length === 0) return result;
  const findings = expectations.map((e) => checkOne(output, e));
  const failed = findings.filter((f) => f.problem !== undefined);
  const facts = [...(result.facts ?? []), ...findings.map((f) => f.fact)];
  if (failed.length === 0 || result.status !== 'succeeded') return { ...result, facts };
  // Said in parts (shown instead of `said`): the result's own line, then each problem.
  const saidParts = [...ownParts(result), ...failed.map((f) => f.said ?? { code: 'text' as const, params: { text: f.problem ?? '' } })];
  return { ...result, facts, status: 'failed', summary: `${result.summary}, but ${failed.map((f) => f.problem).join('; ')}`, saidParts };
}

/** A step's `keep:` patterns, compiled (the schema checked they compile). */
export const keepPatterns = (keep: readonly string[] | undefined): RegExp[] => (keep ?? []).map((k) => new RegExp(k, 'u'));
