import { z } from 'zod';
import { ConfigError } from '../domain/errors.js';
import { resolveStepRef } from '../core/jobs.js';
import { validCron } from '../core/cron.js';
import type { Runbook } from '../runbooks/index.js';
import { loadYamlFile } from './yaml-file.js';

/**
 * Scheduled jobs (SCHEDULES_FILE): cron expressions with a time zone each, run on the leader only.
 *
 * A scheduled step has no chat approval: an operator declared it in this file, which is the
 * authorisation. So only steps that need no approval may be scheduled (`changes: false`, which
 * includes backups and checks); a step that changes a system always needs a person in chat, and
 * the loader refuses it here (see loadSchedules below). Checklists are stricter: read-only steps only.
 */
const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
/** Five fields (minute hour day-of-month month day-of-week): jobs run at most once a minute. */
const CRON_FIELDS = /^\S+(\s+\S+){4}$/;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const destination = z.strictObject({ platform: z.enum(['slack', 'discord', 'dingtalk', 'feishu', 'console']), channel: z.string().min(1) });

/** A runbook step, with the labels its params are resolved from (as an alert's labels would be). */
export const stepRefSchema = z.strictObject({
  runbook: z.string().min(1),
  step: z.string().min(1),
  labels: z.record(z.string().min(1), z.string()).default({}),
});
export type StepRef = z.output<typeof stepRefSchema>;

const common = {
  name: z.string().regex(NAME, `job names must match ${NAME.source}`),
  cron: z.string().trim().regex(CRON_FIELDS, 'must have five fields: minute hour day-of-month month day-of-week'),
  timezone: z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Paris or UTC').default('UTC'),
  title: z.string().min(1).optional(),
  /** Where the result is posted: one or more channels. */
  post: z.union([destination, z.array(destination).min(1)]).transform((d) => (Array.isArray(d) ? d : [d])),
};

export const jobSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...common, kind: z.literal('step'), step: stepRefSchema }),
  z.strictObject({ ...common, kind: z.literal('checklist'), steps: z.array(stepRefSchema).min(1).max(25) }),
  z.strictObject({
    ...common,
    kind: z.literal('retention'),
    /** Audit records of incidents resolved, and silent, for longer than this are deleted (whole chains). */
    auditDays: z.int().min(1).max(36_500).default(180),
    /** Backup steps whose expired backups are deleted by their own `keep:` rule (as each backup run does). */
    backups: z.array(stepRefSchema).max(100).default([]),
  }),
]);

export const schedulesSchema = z
  .strictObject({ jobs: z.array(jobSchema).default([]) })
  .superRefine((value, ctx) => {
    const seen = new Set<string>();
    value.jobs.forEach((job, index) => {
      if (seen.has(job.name)) ctx.addIssue({ code: 'custom', path: ['jobs', index, 'name'], message: `job name "${job.name}" is used twice` });
      seen.add(job.name);
    });
  });

export type Schedules = z.output<typeof schedulesSchema>;
export type ScheduledJob = Schedules['jobs'][number];
export type Destination = z.output<typeof destination>;

/**
 * Scheduled jobs from SCHEDULES_FILE (none: no jobs), checked against the runbooks and the enabled
 * platforms: every problem is named with the file and the path inside it, and the bot does not start.
 */
export async function loadSchedules(file: string | undefined, runbooks: readonly Runbook[], platforms: readonly string[]): Promise<Schedules> {
  if (file === undefined) return { jobs: [] };
  const schedules = await loadYamlFile(file, schedulesSchema, 'schedules');
  const problems: string[] = [];
  schedules.jobs.forEach((job, index) => {
    const at = (where: string, message: string) => problems.push(`${file}: jobs.${index}${where}: ${message}`);
    if (!validCron(job.cron)) at('.cron', `"${job.cron}" is not a valid cron expression`);
    job.post.forEach((d, i) => {
      if (!platforms.includes(d.platform)) at(`.post.${i}.platform`, `${d.platform} is not enabled on this bot (enabled: ${platforms.join(', ') || 'none'})`);
    });
    const refs =
      job.kind === 'step'
        ? [{ ref: job.step, where: '.step' }]
        : job.kind === 'checklist'
          ? job.steps.map((ref, i) => ({ ref, where: `.steps.${i}` }))
          : job.backups.map((ref, i) => ({ ref, where: `.backups.${i}` }));
    for (const { ref, where } of refs) {
      const found = resolveStepRef(runbooks, ref, job.kind === 'checklist' ? 'checklist' : 'step');
      if (!found.ok) at(where, found.problem);
      else if (job.kind === 'retention' && found.step.action !== 'backup') at(where, `step "${ref.runbook}/${ref.step}" is a ${found.step.action} step; retention expires the files of backup steps`);
    }
  });
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return schedules;
}
