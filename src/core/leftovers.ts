import type { Logger } from 'pino';
import type {  } from './ports/runbooks.js';
import type { RecordedProcess, StepRun } from './domain.js';
import { recordRunEvent, runTime, timedLine } from './run-thread.js';
import type { Store, StoreTx } from './ports/store.js';
import type { Clock } from './ports/clock.js';
import type { StepRunner } from './ports/step-runner.js';
import { t } from './i18n/index.js';

/**
 * Steps whose bot died under them (kill -9, OOM) leave their process group running. The run is
 * marked interrupted; its recorded group is then stopped by a bot on the same host (pids mean
 * nothing on another), and until then a changing step on the same target is refused, so the
 * leftover and a new run never overlap.
 *
 * "The same target" is the same runbook, step and params, on any incident: a step's params come
 * from the alert's labels (service, instance, ...), so two incidents about one service share them.
 */

const sameParams = (a: Record<string, string>, b: Record<string, string>) => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
};

/** Why a changing step may not be requested now (a run of it may still be executing), or undefined. */
export async function leftoverRefusal(tx: StoreTx, runbook: string, step: { id: string; title: string }, params: Record<string, string>): Promise<string | undefined> {
  const busy = (await tx.stepRunsThatMayRun(runbook, step.id)).find((run) => sameParams(run.params, params));
  if (!busy) return undefined;
  if (busy.state === 'running') {
    return t('refusal.stillRunning', { title: step.title, id: busy.incidentId, run: busy.id });
  }
  const where = busy.process ? t('refusal.mayStillRun.where', { pgid: busy.process.pgid, host: busy.process.host.split(' ')[0] ?? t('refusal.mayStillRun.itsHost') }) : '';
  return t('refusal.mayStillRun', { title: step.title, run: busy.id, where });
}

export interface LeftoverOptions {
  store: Store;
  /** Knows this host and stops the recorded process groups. */
  runner: StepRunner;
  clock: Clock;
  log: Logger;
  onQueued: () => void;
  /** Between SIGTERM and SIGKILL. */
  graceMs?: number;
  /** Why the run was interrupted, for the thread. */
  cause: (run: StepRun) => string;
  /**
   * The only bot on this store (SQLite): groups recorded on another host or pid namespace (an
   * earlier container, whose processes died with it) are released with a warning in the thread,
   * since no bot could ever check them. With replicas they wait for a replica on their host.
   */
  onlyBot: boolean;
}

/**
 * Stops the process groups of interrupted runs recorded on this host, one run at a time; says so
 * in the thread when something was still running. Returns how many groups were killed.
 */
export async function stopLeftovers(o: LeftoverOptions): Promise<number> {
  const here = o.runner.host();
  const runs = await o.store.transaction((tx) => tx.leftoverStepRuns(o.onlyBot ? null : here, 100));
  let killed = 0;
  for (const run of runs) {
    const proc = run.process as RecordedProcess;
    if (proc.host !== here) {
      await release(o, run, proc);
      continue;
    }
    const outcome = await o.runner.stopLeftover(proc, o.graceMs);
    const at = o.clock().toISOString();
    await o.store.transaction(async (tx) => {
      if (!(await tx.endStepProcess(run.id, at))) return;
      if (outcome === 'gone') return;
      await recordRunEvent(tx, {
          at,
          incidentId: run.incidentId,
          actor: 'system',
          kind: 'step.stopped',
          text: t('thread.stopped', { title: run.stepTitle, pgid: proc.pgid, cause: o.cause(run) }),
          data: { runId: run.id, pid: proc.pid, pgid: proc.pgid, host: proc.host },
        },
        run,
        { line: `🛑 ${runTime(at)} *${run.stepTitle}* was stopped: process group ${proc.pgid} killed after ${o.cause(run)}. Check the system before requesting it again.` },
        { refreshCard: true },
      );
    });
    if (outcome === 'killed') {
      killed += 1;
      o.log.warn({ runId: run.id, pgid: proc.pgid }, 'the process group of an interrupted step was still running and was killed');
    }
  }
  if (killed > 0) o.onQueued();
  return killed;
}

/** A group recorded where this bot cannot see it: not signalled (its pids mean other processes here), released with a warning. */
async function release(o: LeftoverOptions, run: StepRun, proc: RecordedProcess): Promise<void> {
  const at = o.clock().toISOString();
  await o.store.transaction(async (tx) => {
    if (!(await tx.endStepProcess(run.id, at))) return;
    const text = t('thread.unchecked', { title: run.stepTitle, pgid: proc.pgid, host: proc.host, here: o.runner.host() });
    await recordRunEvent(tx, { at, incidentId: run.incidentId, actor: 'system', kind: 'step.unchecked', text, data: { runId: run.id, pid: proc.pid, pgid: proc.pgid, host: proc.host } }, run, {
      line: timedLine(text, at),
    });
  });
  o.onQueued();
  o.log.warn({ runId: run.id, host: proc.host }, 'the process group of an interrupted step was recorded on another host and could not be checked');
}
