import type { Logger } from 'pino';
import type { RunbookStep, StepArtefact, StepResult } from './ports/runbooks.js';
import type { StepRun } from './domain.js';
import type { Store } from './ports/store.js';
import type { Clock } from './ports/clock.js';
import type { StepRunner } from './ports/step-runner.js';
import type { Metrics } from '../metrics.js';
import { recordRunEvent, shownCommands, timedLine, withoutCommands } from './run-thread.js';
import { STEP_STATE_ICON, stepStateText } from './card.js';
import { resultDetails, resultSummary } from './result-text.js';
import { makeButton } from './button-codec.js';
import { t } from './i18n/index.js';

/*
 * What the executor does once a step has a result: the run's state, its message in the thread
 * (the full output a link away), the card, and the metrics.
 */

/** A result's icon in thread messages: the card's icon for the state the result leaves the step in. */
export const ICON: Readonly<Record<StepResult['status'], string>> = STEP_STATE_ICON;

/** Where a run's full output is served (behind the same gate as the incident's audit trail). */
export const runOutputPath = (incidentId: number, runId: number) => `/incidents/${incidentId}/runs/${runId}/output`;

/** Records a run's result: its state, the thread's message, the card. */
export async function recordStepResult(
  o: { store: Store; runner: StepRunner; clock: Clock; log: Logger; metrics: Metrics; onQueued: () => void; publicUrl?: string | undefined },
  run: StepRun,
  step: RunbookStep | undefined,
  result: StepResult,
  snapshot: StepArtefact | undefined,
): Promise<void> {
  o.metrics.stepRuns.inc({ result: result.status });
  o.metrics.stepDuration.observe(result.durationMs / 1000);
  const now = o.clock().toISOString();
  const outputUrl = `${(o.publicUrl ?? '').replace(/\/+$/u, '')}${runOutputPath(run.incidentId, run.id)}`;
  const details = resultDetails(result, outputUrl);
  // The run's message showed the command line when it started: its result line does not repeat it.
  const shown = withoutCommands(result, step ? shownCommands(o.runner.describe(step, run.params)) : []);
  await o.store.transaction(async (tx) => {
    if (result.output !== undefined) await tx.saveStepOutput(run.id, result.output, now);
    await tx.transitionStepRun(run.id, ['running'], result.status, now, {
      finishedAt: now,
      result: {
        status: result.status,
        summary: result.summary,
        said: result.said,
        saidParts: result.saidParts,
        exitCode: result.exitCode,
        httpStatus: result.httpStatus,
        durationMs: result.durationMs,
        outputTail: result.outputTail,
        facts: result.facts,
        artefacts: result.artefacts,
      },
    });
    await recordRunEvent(tx, {
        at: now,
        incidentId: run.incidentId,
        actor: 'system',
        kind: 'step.finished',
        text: `${t('thread.finished', { icon: ICON[result.status], title: run.stepTitle, state: stepStateText(result.status), summary: resultSummary(result) })}${details}`,
        data: {
          runId: run.id,
          status: result.status,
          exitCode: result.exitCode ?? null,
          httpStatus: result.httpStatus ?? null,
          durationMs: result.durationMs,
          artefacts: result.artefacts ?? [],
        },
      },
      run,
      {
        line: timedLine(t('thread.finished', { icon: ICON[result.status], title: run.stepTitle, state: stepStateText(result.status), summary: resultSummary(shown) }), now),
        details: resultDetails(shown, outputUrl),
        // The snapshot taken before the step is one press away, whatever the step's outcome.
        ...(snapshot ? { buttons: [makeButton({ action: 'rollback', runId: run.id }, t('button.rollback'), { style: 'danger' })] } : {}),
      },
      { refreshCard: true },
    );
  });
  o.log.info({ runId: run.id, runbook: run.runbook, step: run.step, status: result.status }, 'step finished');
  o.onQueued();
}
