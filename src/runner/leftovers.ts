import type { StepProcess } from '../runbooks/index.js';
import type { JobState } from './state.js';

/*
 * A job file without an outcome, found at start-up: the runner died (kill -9, OOM, a reboot) while
 * it ran the job. Its recorded process groups are stopped if anything of them is left, and the bot
 * is told the job was interrupted. It is never run again: a half-done change is for a person to
 * look at, not to repeat.
 */

export interface LeftoverDeps {
  /** This host and pid namespace, as recorded with each process group. */
  host: string;
  stop: (process: StepProcess) => Promise<'killed' | 'gone'>;
}

/** Stops what the job left running; the reason to send with `interrupted`, naming each group. */
export async function stopLeftoversOf(state: JobState, deps: LeftoverDeps): Promise<string> {
  const what = state.job.kind === 'run' ? 'ran this step' : `answered this ${state.job.kind} query`;
  if (state.processes.length === 0) {
    return state.job.kind === 'run' ? 'the runner restarted before the step started any program; it was not run' : `the runner restarted while it ${what}`;
  }
  const parts: string[] = [];
  for (const p of state.processes) {
    if (p.host !== deps.host) {
      parts.push(`process group ${p.pgid} was recorded on ${p.host}, not where the runner now runs (${deps.host}), so it could not be checked: make sure nothing of it still runs`);
      continue;
    }
    const outcome = await deps.stop(p);
    parts.push(outcome === 'killed' ? `process group ${p.pgid} was still running and was killed` : `process group ${p.pgid} had already ended`);
  }
  // The bot adds that the step was not re-run and what to do; this says what the runner found.
  return `the runner restarted while it ${what}: ${parts.join('; ')}`;
}
