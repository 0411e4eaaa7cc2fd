import { budgetOf, stepResult } from './ops/common.js';
import { composeAction } from './ops/compose.js';
import { describeRestart, describeRestartSaid, restartActionInputs, restartPhases } from './ops/restart.js';
import { describeRollback, describeRollbackSaid } from './ops/rollback-describe.js';
import { rollbackInputs, rollbackPhases } from './ops/rollback.js';
import { describeVerify, describeVerifySaid, verifyInputs } from './ops/verify-inputs.js';
import { verifyPhase } from './ops/verify.js';
import { defineAction, type TypedAction } from './typed-action.js';

/*
 * The operation actions. Each run shares the step's time budget between its phases (restart, wait,
 * switch, verify) and reports the facts of every phase that ran.
 */

const verify = defineAction({
  name: 'verify',
  summary: 'Checks that a system is healthy (HTTP, SQL SELECT 1, or a Prometheus query), polling until a deadline.',
  inputs: verifyInputs,
  describe: describeVerify,
  describeSaid: describeVerifySaid,
  async run(inputs, ctx) {
    const started = performance.now();
    return stepResult([await verifyPhase(inputs, ctx, budgetOf(ctx))], ctx, started);
  },
});

const restart = defineAction({
  name: 'restart',
  summary: 'Restarts a systemd unit, a compose service, a Kubernetes deployment or a declared command, waits until it is up, then optionally verifies it.',
  inputs: restartActionInputs,
  describe: describeRestart,
  describeSaid: describeRestartSaid,
  async run(inputs, ctx) {
    const started = performance.now();
    return stepResult(await restartPhases(inputs, ctx, budgetOf(ctx)), ctx, started);
  },
});

const rollback = defineAction({
  name: 'rollback',
  summary: 'Switches a release back (a `current` symlink, or a declared command), then optionally restarts and verifies.',
  inputs: rollbackInputs,
  describe: describeRollback,
  describeSaid: describeRollbackSaid,
  async run(inputs, ctx) {
    const started = performance.now();
    return stepResult(await rollbackPhases(inputs, ctx, budgetOf(ctx)), ctx, started);
  },
});

/** restart, rollback, verify and compose. */
export const OPERATION_ACTIONS: TypedAction[] = [verify, restart, rollback, composeAction];
