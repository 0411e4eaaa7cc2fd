import { StepDetached, type StepRunner } from '../core/ports/step-runner.js';
import { describeTarget, localStepRunner, resolveRunOn } from '../runbooks/index.js';
import type { RemoteStepRunner } from './remote-step-runner.js';
import type { ResultMessage } from '../domain/result-message.js';

/** A step names a runner, and this bot accepts none: it is never run here instead. */
class NoRunnersError extends Error {}

/**
 * The step runner the core gets: a step with `runOn` goes to its runner, any other runs here as
 * before. Process groups and leftovers are this host's (a runner stops its own).
 */
export function routingStepRunner(remote: RemoteStepRunner | undefined): StepRunner {
  const remoteOr = (runOn: unknown) => {
    if (runOn === undefined) return undefined;
    // A step that names a runner never falls back to running here, even when runners are not enabled.
    if (!remote) throw new NoRunnersError('this step runs on a runner, and this bot accepts no runners (RUNNERS_FILE is not set)');
    return remote;
  };
  return {
    run: async (step, params, context) => {
      try {
        const r = remoteOr(step.runOn);
        return await (r ? r.run(step, params, context) : localStepRunner.run(step, params, context));
      } catch (error) {
        if (error instanceof StepDetached) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        const said: ResultMessage = error instanceof NoRunnersError ? { code: 'notRun.noRunners', params: {} } : { code: 'notRun', params: { reason } };
        return { status: 'failed', summary: `not run: ${reason}`, said, durationMs: 0, outputTail: '' };
      }
    },
    reattach: async (runId, signal) => (remote ? remote.reattach(runId, signal) : undefined),
    describe: (step, params) => {
      const what = localStepRunner.describe(step, params);
      if (!step.runOn) return what;
      const target = resolveRunOn(step.runOn, params);
      return `${what} (on ${typeof target === 'string' ? `a runner: ${target}` : describeTarget(target)})`;
    },
    describeSaid: (step, params) => localStepRunner.describeSaid(step, params),
    listChoices: (step, params, origin) => {
      const r = remoteOr(step.runOn);
      return r ? r.listChoices(step, params, origin) : localStepRunner.listChoices(step, params);
    },
    inspectFile: async (step, params, origin, file, within) => {
      try {
        const r = remoteOr(step.runOn);
        return await (r ? r.inspectFile(step, params, origin, file, within) : localStepRunner.inspectFile(step, params, origin, file, within));
      } catch (error) {
        return { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    },
    expireBackups: (step, params, now, origin) => {
      const r = remoteOr(step.runOn);
      return r ? r.expireBackups(step, params, now, origin) : localStepRunner.expireBackups(step, params, now);
    },
    host: localStepRunner.host,
    stopLeftover: localStepRunner.stopLeftover,
  };
}
