import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runJob } from '../../../src/core/jobs.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { parseRunbook } from '../../../src/runbooks/loader.js';
import { localStepRunner } from '../../../src/runbooks/index.js';
import { loadSchedules, schedulesSchema, type ScheduledJob } from '../../../src/settings/schedules.js';
import { SqliteStore } from '../../../src/store/sqlite.js';

/*
 * `locate` only names and hashes an existing backup, so a checklist may run it: scheduled, with
 * no one to approve it. A changing step in the same runbook stays refused.
 */

const OPS = { platform: 'slack', channel: 'C0OPS' } as const;
const checklist = (steps: string[]): ScheduledJob =>
  schedulesSchema.parse({ jobs: [{ name: 'daily', title: 'Daily checklist', kind: 'checklist', cron: '0 9 * * *', post: OPS, steps: steps.map((step) => ({ runbook: 'app', step })) }] }).jobs[0]!;

describe('locate in a checklist', () => {
  let dir: string;
  let store: SqliteStore;

  const runbook = () =>
    parseRunbook(
      `
name: app
match: { service: app }
params:
  backups: { default: ${path.join(dir, 'backups')}, pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: pre-upgrade-backup
    title: Name the pre-upgrade backup (latest.db.gz)
    action: locate
    with: { from: '{{backups}}/latest.db.gz' }
  - id: wipe
    title: Wipe the backups
    action: exec
    run: [rm, -rf, '{{backups}}']
    changes: true
`,
      'app.yaml',
    );
  const run = (steps: string[]) => runJob(checklist(steps), { store, runner: localStepRunner, runbooks: [runbook()], redact: createRedactor([]), env: {}, clock: () => new Date() }, new AbortController().signal);

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'checklist-locate-'));
    await mkdir(path.join(dir, 'backups'));
    store = new SqliteStore(':memory:');
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a locate step without approval, naming the file a link points to', async () => {
    await writeFile(path.join(dir, 'backups', 'app_20240131_020000.db.gz'), 'backup');
    await symlink('app_20240131_020000.db.gz', path.join(dir, 'backups', 'latest.db.gz'));
    const outcome = await run(['pre-upgrade-backup']);
    expect(outcome.status).toBe('succeeded');
    expect(outcome.text.split('\n')[0]).toBe('📋 Daily checklist: 1 of 1 checks passed');
    expect(outcome.text).toContain(`latest.db.gz → ${path.join(dir, 'backups', 'app_20240131_020000.db.gz')}`);
  });

  it('reports a link that points nowhere as a failed check', async () => {
    await symlink('gone.db.gz', path.join(dir, 'backups', 'latest.db.gz'));
    const outcome = await run(['pre-upgrade-backup']);
    expect(outcome.status).toBe('failed');
    expect(outcome.text).toContain('latest.db.gz');
  });

  it('is accepted in a schedules file, where a changing step of the same runbook is not', async () => {
    const file = path.join(dir, 'schedules.yaml');
    await writeFile(file, `jobs:\n  - { name: daily, kind: checklist, cron: '0 9 * * *', steps: [{ runbook: app, step: pre-upgrade-backup }], post: { platform: slack, channel: C0OPS } }\n`);
    expect((await loadSchedules(file, [runbook()], ['slack'])).jobs.map((j) => j.name)).toEqual(['daily']);
    await writeFile(file, `jobs:\n  - { name: daily, kind: checklist, cron: '0 9 * * *', steps: [{ runbook: app, step: wipe }], post: { platform: slack, channel: C0OPS } }\n`);
    await expect(loadSchedules(file, [runbook()], ['slack'])).rejects.toThrow(/step "app\/wipe" changes a system/);
  });
});
