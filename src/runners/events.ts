import type { Clock } from '../core/ports/clock.js';
import type { Store } from '../core/ports/store.js';
import type { Redactor } from '../domain/redact.js';
import type { RunnerEvent } from './protocol.js';

/** One report of a runner about a job, applied once: a job only its runner may report on, in the state the report needs. */
export async function handleEvent(o: { store: Store; clock: Clock; redact: Redactor }, runner: string, event: RunnerEvent): Promise<{ accepted: boolean; reason?: string }> {
  const at = o.clock().toISOString();
  return o.store.transaction(async (tx) => {
    const job = await tx.runners.getRunnerJob(event.jobId);
    if (!job || job.runner !== runner) return { accepted: false, reason: `job ${event.jobId} was not sent to runner ${runner}` };
    if (job.state === 'queued') return { accepted: false, reason: `job ${event.jobId} has not been handed out yet` };
    const late = { accepted: false, reason: `job ${event.jobId} is already ${job.state}${job.detail ? ` (${job.detail})` : ''}` };
    switch (event.type) {
      case 'started':
        return (await tx.runners.markRunnerJobStarted(job.id, at)) ? { accepted: true } : job.state === 'running' ? { accepted: true } : late;
      case 'output':
        return (await tx.runners.noteRunnerJobOutput(job.id, o.redact(event.tail))) ? { accepted: true } : late;
      case 'result': {
        if (job.kind !== 'run') return { accepted: false, reason: `job ${job.id} is a ${job.kind} query: it takes an answer, not a result` };
        const r = event.result;
        // Redacted on the runner already; again here, with the bot's own secrets.
        const result = {
          ...r,
          summary: o.redact(r.summary),
          outputTail: o.redact(r.outputTail),
          ...(r.output !== undefined ? { output: o.redact(r.output) } : {}),
          ...(r.facts ? { facts: r.facts.map((f) => ({ label: f.label, value: o.redact(f.value) })) } : {}),
        };
        return (await tx.runners.finishRunnerJob(job.id, ['running'], 'done', at, { result: JSON.stringify(result) })) ? { accepted: true } : late;
      }
      case 'answer':
        if (event.answer.kind !== job.kind) return { accepted: false, reason: `job ${job.id} is a ${job.kind} job, not ${event.answer.kind}` };
        return (await tx.runners.finishRunnerJob(job.id, ['running'], 'done', at, { result: JSON.stringify(event.answer) })) ? { accepted: true } : late;
      case 'refused':
        return (await tx.runners.finishRunnerJob(job.id, ['running'], 'refused', at, { detail: o.redact(event.reason) })) ? { accepted: true } : late;
      case 'interrupted':
        return (await tx.runners.finishRunnerJob(job.id, ['running'], 'interrupted', at, { detail: o.redact(event.reason) })) ? { accepted: true } : late;
    }
  });
}
