import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { CronTimer } from './scheduler.js';
import type { ScheduledJob } from '../settings/schedules.js';

/**
 * A job's timing on the cron library. Overlap is not left to the library (`noOverlap: false`): the
 * scheduler decides it from the store, so that it holds across replicas and a skipped slot is
 * recorded as skipped rather than missing.
 */
export function cronTimer(job: ScheduledJob, log: Logger): CronTimer {
  const logger = {
    info: (message: string) => log.debug({ job: job.name }, message),
    warn: (message: string) => log.warn({ job: job.name }, message),
    error: (message: string | Error) => log.error({ job: job.name, err: message }, 'cron error'),
    debug: (message: string | Error) => log.debug({ job: job.name }, String(message)),
  };
  let task: ScheduledTask | undefined;
  const matcher = cron.createTask(job.cron, () => undefined, { timezone: job.timezone, name: `${job.name}:matcher`, logger });
  return {
    start(fire) {
      task = cron.schedule(job.cron, (context) => fire(context.date), { timezone: job.timezone, name: job.name, noOverlap: false, unref: true, logger });
    },
    async stop() {
      await task?.destroy();
      await matcher.destroy();
    },
    matches: (date) => matcher.match(date),
  };
}

/** Whether the cron library accepts the expression (the schema has checked it has five fields). */
export function validCron(expression: string): boolean {
  return cron.validate(expression);
}
