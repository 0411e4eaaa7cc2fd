import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StepExecutor } from '../../../src/core/executor.js';
import { recordNotification } from '../../../src/core/notifications.js';
import { defaultPolicy } from '../../../src/settings/policy.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { createMetrics } from '../../../src/metrics.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { newStepRun } from '../store/store-contract.js';
import { alert, at, notification, silentLog } from './factories.js';
import { localStepRunner } from '../../../src/runbooks/index.js';

/**
 * Several replicas share one store: a replica that starts, or sweeps, must report the steps of a
 * replica that died, and leave alone those that a live replica is still running.
 */
describe('steps left running by a replica', () => {
  let store: SqliteStore;
  let now: Date;
  let incidentId: number;

  const executor = (replica: { id: string; orphanAfterMs?: number }) =>
    new StepExecutor({
      store,
      runner: localStepRunner,
      runbooks: [],
      clock: () => now,
      log: silentLog,
      redact: createRedactor([]),
      env: {},
      policy: defaultPolicy([]),
      metrics: createMetrics(() => Promise.resolve(0)),
      onQueued: () => undefined,
      replica,
    });

  /** A run of `runner` that is executing since t=1 s. */
  const runningOn = (runner: string) =>
    store.transaction(async (tx) => {
      const run = await tx.insertStepRun(newStepRun(incidentId, { state: 'approved', createdAt: at(1) }));
      expect(await tx.transitionStepRun(run.id, ['approved'], 'running', at(1), { startedAt: at(1), runner })).toBe(true);
      return run.id;
    });
  const stateOf = async (id: number) => (await store.transaction((tx) => tx.getStepRun(id)))?.state;

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    ({ incidentId } = await store.transaction((tx) => recordNotification(tx, notification([alert('gitcortex-1:3001')]), at(0), [])));
  });
  afterEach(() => store.close());

  it('leaves the steps of a replica with a fresh heartbeat alone, and reports them once it has been silent too long', async () => {
    await store.transaction((tx) => tx.touchReplica('replica-a', at(0)));
    const id = await runningOn('replica-a');
    const b = executor({ id: 'replica-b', orphanAfterMs: 30_000 });

    now = new Date(at(20));
    expect(await b.markInterrupted()).toBe(0);
    expect(await stateOf(id)).toBe('running');

    now = new Date(at(31));
    expect(await b.markInterrupted()).toBe(1);
    expect(await stateOf(id)).toBe('interrupted');
    const trail = await store.transaction((tx) => tx.listAudit(incidentId));
    const interrupted = trail.filter((e) => e.kind === 'step.interrupted');
    expect(interrupted).toHaveLength(1);
    expect(interrupted[0]?.text).toMatch(/interrupted by the loss of the replica running it \(replica-a\)\. It was not re-run/);
    expect(interrupted[0]?.data).toMatchObject({ runId: id, runner: 'replica-a' });
    // Swept once: another look finds nothing more.
    expect(await b.markInterrupted()).toBe(0);
  });

  it('records its own heartbeat before looking, so a replica never reports the steps it runs itself', async () => {
    now = new Date(at(100));
    const b = executor({ id: 'replica-b', orphanAfterMs: 30_000 });
    const own = await runningOn('replica-b');
    expect(await b.markInterrupted()).toBe(0);
    expect(await stateOf(own)).toBe('running');
    const seen = await store.transaction(async (tx) => (await tx.orphanedRuns(at(99), 10)).map((r) => r.id));
    expect(seen).toEqual([]);
  });

  it('with one process, reports every step still running when it starts, whoever ran it', async () => {
    await store.transaction((tx) => tx.touchReplica('replica-a', at(0)));
    const id = await runningOn('replica-a');
    now = new Date(at(2));
    expect(await executor({ id: 'single' }).markInterrupted()).toBe(1);
    expect(await stateOf(id)).toBe('interrupted');
    const trail = await store.transaction((tx) => tx.listAudit(incidentId));
    expect(trail.find((e) => e.kind === 'step.interrupted')?.text).toMatch(/interrupted by a bot restart/);
  });
});
