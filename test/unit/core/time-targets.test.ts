import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewStepRun, StepRun } from '../../../src/core/domain.js';
import { loadRunbooks } from '../../../src/runbooks/loader.js';
import type { Runbook } from '../../../src/runbooks/schema.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { alert, manualClock, notification, recordNow, T0, testEngine } from './factories.js';

/*
 * The generic runbook's rollback time targets (decide < 15 min, execute < 30, verify < 15, total
 * < 1 h), declared in app-example-rollback.yaml, as clocks on the card and in the timeline, through
 * the engine on a real store: the clocks follow the incident's step runs.
 */

const MIN = 60_000;
const iso = (ms: number) => new Date(T0 + ms).toISOString();

describe('rollback time targets on the card and in the timeline', () => {
  let store: SqliteStore;
  let runbooks: Runbook[];
  const clock = manualClock();

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    runbooks = (await loadRunbooks(path.resolve('manifests/runbooks'))).filter((r) => r.name.startsWith('app-example'));
    clock.set(T0);
  });
  afterEach(() => store.close());

  const errorRate = () => notification([alert('app-1:8000', { labels: { alertname: 'ErrorRate', service: 'app-example', job: 'app-example' }, severity: 'critical' })], {
    groupKey: '{}:{alertname="ErrorRate", service="app-example"}',
    groupLabels: { alertname: 'ErrorRate', service: 'app-example' },
  });

  /** A run of the rollback runbook requested at `requested` (ms after T0), finished at `finished` when given. */
  async function run(incidentId: number, step: string, requested: number, finished?: number): Promise<StepRun> {
    const fresh: NewStepRun = {
      incidentId,
      runbook: 'app-example-rollback',
      step,
      stepTitle: step,
      params: {},
      platform: 'slack',
      requestedBy: 'U0ALICE',
      requestedByName: 'alice',
      changes: step !== 'verify-health',
      requiredApprovals: 1,
      selfApprove: false,
      state: 'requested',
      createdAt: iso(requested),
    };
    return store.transaction(async (tx) => {
      const inserted = await tx.insertStepRun(fresh);
      if (finished === undefined) return inserted;
      await tx.transitionStepRun(inserted.id, ['requested'], 'running', iso(requested + 1000), { startedAt: iso(requested + 1000) });
      await tx.transitionStepRun(inserted.id, ['running'], 'succeeded', iso(finished), { finishedAt: iso(finished), result: { status: 'succeeded', summary: 'ok', durationMs: 1, outputTail: '' } });
      return (await tx.getStepRun(inserted.id))!;
    });
  }

  const clockField = async (engine: ReturnType<typeof testEngine>, id: number) => (await engine.incidentCard(id))?.fields.find((f) => f.label === 'Time targets (app-example-rollback)')?.value;

  it('counts the decision up from the alert, then each phase, and says which phase ran over', async () => {
    const engine = testEngine(store, { runbooks, clock: clock.now });
    const { incidentId } = await recordNow(engine, errorRate());

    clock.set(T0 + 4 * MIN);
    expect(await clockField(engine, incidentId)).toBe('decide 4m ⏳ (< 15 min) · execute — (< 30 min) · verify — (< 15 min) · total 4m ⏳ (< 1 h)');

    // Decided at 12 min (the rollback requested); the rollback takes until 50 min: 38 min, over its 30.
    await run(incidentId, 'rollback-release', 12 * MIN, 50 * MIN);
    clock.set(T0 + 52 * MIN);
    expect(await clockField(engine, incidentId)).toBe('decide 12m ✅ (< 15 min) · execute 38m ⚠️ (< 30 min, over by 8m) · verify 2m ⏳ (< 15 min) · total 52m ⏳ (< 1 h)');

    // Verification: health at 53 min, smoke tests until 58 min. Total 58 min: within the hour.
    await run(incidentId, 'verify-health', 51 * MIN, 53 * MIN);
    await run(incidentId, 'smoke-tests', 53 * MIN, 58 * MIN);
    clock.set(T0 + 70 * MIN);
    expect(await clockField(engine, incidentId)).toBe('decide 12m ✅ (< 15 min) · execute 38m ⚠️ (< 30 min, over by 8m) · verify 8m ✅ (< 15 min) · total 58m ✅ (< 1 h)');

    const timeline = (await engine.timeline(incidentId)) ?? '';
    expect(timeline).toContain('- **Time targets (app-example-rollback):** decide 12m ✅ (< 15 min) · execute 38m ⚠️ (< 30 min, over by 8m) · verify 8m ✅ (< 15 min) · total 58m ✅ (< 1 h)');
  });

  it('ignores a denied or expired rollback request, and a request still pending keeps execution open', async () => {
    const engine = testEngine(store, { runbooks, clock: clock.now });
    const { incidentId } = await recordNow(engine, errorRate());
    const denied = await run(incidentId, 'rollback-release', 3 * MIN);
    await store.transaction((tx) => tx.transitionStepRun(denied.id, ['requested'], 'denied', iso(4 * MIN)));
    clock.set(T0 + 20 * MIN);
    expect(await clockField(engine, incidentId)).toMatch(/^decide 20m ⚠️ \(< 15 min, over by 5m\) · execute — /);

    await run(incidentId, 'rollback-release', 21 * MIN);
    clock.set(T0 + 25 * MIN);
    expect(await clockField(engine, incidentId)).toMatch(/^decide 21m ⚠️ .* · execute 4m ⏳ \(< 30 min\) · verify — \(< 15 min\) · total 25m ⏳ \(< 1 h\)$/);
  });
});
