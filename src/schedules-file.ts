import { ConfigError } from './core/errors.js';
import { resolveStepRef } from './core/jobs.js';
import { schedulesSchema, type Schedules } from './core/schedules-schema.js';
import { validCron } from './cron.js';
import type { Runbook } from './runbooks/schema.js';
import { loadYamlFile } from './yaml-file.js';

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
