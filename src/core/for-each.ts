import type { Labels } from './domain.js';
import type { StepResult } from './ports/runbooks.js';
import { mapConcurrently } from '../domain/concurrently.js';
import { resultSummary } from './result-text.js';
import { stepStateText } from './card.js';
import { t } from './i18n/index.js';

/** How many alerts of a `forEach` step run at once. */
export const FOR_EACH_CONCURRENCY = 3;

/**
 * Runs one approved `forEach: alert` step once per alert, a few at a time, and folds the outcomes
 * into one result: succeeded only when every run did, one line per alert. The lines and findings
 * are the bot's own words about each run, so they are written in its language.
 */
export async function runForEach(targets: ReadonlyArray<{ alert: string; params: Labels }>, run: (params: Labels) => Promise<StepResult>): Promise<StepResult> {
  const started = Date.now();
  const results = await mapConcurrently(targets, FOR_EACH_CONCURRENCY, async (target) => ({ target, result: await run(target.params) }));
  const ok = results.filter((r) => r.result.status === 'succeeded').length;
  const status: StepResult['status'] = ok === results.length ? 'succeeded' : results.some((r) => r.result.status === 'interrupted') ? 'interrupted' : 'failed';
  const lines = results.map(({ target, result }) => `${result.status === 'succeeded' ? '✅' : '❌'} ${target.alert}: ${resultSummary(result)}`);
  return {
    status,
    summary: `${ok} of ${results.length} alerts succeeded`,
    said: { code: 'forEach', params: { ok, total: results.length } },
    durationMs: Date.now() - started,
    outputTail: lines.join('\n').slice(-1500),
    facts: results.map(({ target, result }) => ({ label: target.alert, value: t('forEach.fact', { state: stepStateText(result.status), summary: resultSummary(result) }) })),
    artefacts: results.flatMap((r) => r.result.artefacts ?? []),
  };
}
