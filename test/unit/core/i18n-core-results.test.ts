import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StepExecutor } from '../../../src/core/executor.js';
import { runJob } from '../../../src/core/jobs.js';
import { recordNotification } from '../../../src/core/notifications.js';
import { Scheduler } from '../../../src/core/scheduler.js';
import { cronTimer } from '../../../src/core/cron.js';
import { alwaysLeader } from '../../../src/core/ports/leadership.js';
import { useLocale, type LocaleSetting } from '../../../src/core/i18n/index.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { createMetrics } from '../../../src/metrics.js';
import { localStepRunner } from '../../../src/runbooks/index.js';
import { parseRunbook } from '../../../src/runbooks/loader.js';
import type { Runbook } from '../../../src/runbooks/schema.js';
import { defaultPolicy } from '../../../src/settings/policy.js';
import { schedulesSchema, type ScheduledJob } from '../../../src/settings/schedules.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { englishIn, shownTexts } from '../../support/no-english.js';
import { newStepRun } from '../store/store-contract.js';
import { alert, at, notification, silentLog, waitFor } from './factories.js';

/**
 * What the bot itself writes about the steps it runs reaches a zh-CN bot in Chinese: a scheduled
 * job, a checklist and a retention run through the real scheduler and job runner; a `forEach` step
 * over a grouped incident, a pre-change checkpoint that fails and a step gone from the runbooks
 * through the real executor. Real programs run; the English texts stay as they were.
 */

const OPS = { platform: 'slack', channel: 'C0OPS' } as const;

/** Data shown as written: titles, names, the runbook's and the alerts' values. */
const DATA = ['Nightly step', 'Morning checks', 'Cleanup', 'Prints hello', 'Fails', 'Back up the shop', 'Back up without keep', 'Change config', 'Snapshot config', 'Restart each', 'Gone step', 'shop', 'gitcortex', 'hello', 'HighLatency', 'warning'];

describe('the core\'s own texts in zh-CN', () => {
  let dir: string;
  let store: SqliteStore;
  let previous: LocaleSetting;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'core-zh-'));
    store = new SqliteStore(':memory:');
    previous = useLocale({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' });
  });
  afterEach(async () => {
    useLocale(previous);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const shopRunbook = (): Runbook =>
    parseRunbook(
      `
name: shop
match: { service: shop }
params:
  db: { default: ${path.join(dir, 'shop.db')}, pattern: '/[A-Za-z0-9/._-]+' }
  backups: { default: ${path.join(dir, 'backups')}, pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - { id: hello, title: Prints hello, action: exec, run: [node, -e, 'console.log("hello")'] }
  - { id: fails, title: Fails, action: exec, run: [node, -e, 'process.exit(2)'] }
  - id: disk
    title: 磁盘
    action: exec
    run: [node, -e, 'console.log("/dev/sda1 40% /")']
    expect: [{ label: 磁盘使用率, value: '(\\d+)%', max: 85 }, { label: 错误行, absent: ERROR }]
  - id: backup
    title: Back up the shop
    action: backup
    with: { engine: sqlite, path: '{{db}}', dir: '{{backups}}', prefix: shop, keep: { files: 3 } }
  - id: backup-all
    title: Back up without keep
    action: backup
    with: { engine: sqlite, path: '{{db}}', dir: '{{backups}}', prefix: all }
`,
      'shop.yaml',
    );

  /** Fires each job once through the real scheduler and job runner; the texts it posted and audited. */
  async function fire(list: unknown[]): Promise<string[]> {
    const jobs: ScheduledJob[] = schedulesSchema.parse({ jobs: list }).jobs;
    const runbooks = [shopRunbook()];
    const run = (job: ScheduledJob, signal: AbortSignal) => runJob(job, { store, runner: localStepRunner, runbooks, redact: createRedactor([]), env: { PATH: process.env.PATH ?? '' }, clock: () => new Date() }, signal);
    const scheduler = new Scheduler({ store, jobs, timer: (job) => cronTimer(job, silentLog), run, leadership: alwaysLeader, clock: () => new Date(), log: silentLog, onQueued: () => undefined });
    await scheduler.start();
    for (const job of jobs) await scheduler.fire(job, new Date((Math.floor(Date.now() / 60_000) + 1) * 60_000));
    await scheduler.stop(0);
    const posts = (await store.transaction((tx) => tx.pendingOutbox(100))).filter((m) => m.kind === 'post').flatMap((m) => shownTexts(m.payload));
    // The scheduler's own records (started, finished), audited without an incident.
    const audited = (await store.transaction((tx) => tx.listAudit(null))).filter((e) => e.kind.startsWith('schedule.')).map((e) => e.text);
    return [...posts, ...audited];
  }

  it('says a scheduled step, a checklist and a retention run in Chinese', async () => {
    const db = new Database(path.join(dir, 'shop.db'));
    db.exec('CREATE TABLE t (x)');
    db.close();
    await mkdir(path.join(dir, 'backups'));
    const posted = await fire([
      { name: 'nightly', title: 'Nightly step', kind: 'step', cron: '0 2 * * *', step: { runbook: 'shop', step: 'fails' }, post: OPS },
      { name: 'morning', title: 'Morning checks', kind: 'checklist', cron: '0 9 * * *', steps: [{ runbook: 'shop', step: 'hello' }, { runbook: 'shop', step: 'fails' }, { runbook: 'shop', step: 'disk' }], post: OPS },
      { name: 'cleanup', title: 'Cleanup', kind: 'retention', cron: '0 3 * * *', backups: [{ runbook: 'shop', step: 'backup' }, { runbook: 'shop', step: 'backup-all' }], post: OPS },
    ]);
    const text = posted.join('\n');
    expect(text).toMatch(/🗓️ Nightly step：❌ \*Fails\* 失败：退出码 2，耗时/);
    expect(text).toContain('📋 Morning checks：3 项检查通过 2 项');
    // A check's findings under its item, their values said too.
    expect(text).toContain('• 磁盘使用率: ✅ 40（要求 ≤ 85）');
    expect(text).toContain('• 错误行: ✅ 无');
    expect(text).toMatch(/▶️ 定时任务 \*Morning checks\* 已开始（计划时间 \d{4}-\d\d-\d\d \d\d:\d\d UTC）。/);
    expect(text).toMatch(/✅ \*Prints hello\*（shop）：退出码 0，耗时/);
    expect(text).toContain('🧹 Cleanup：已删除 0 个恢复超过 180 天的事件的审计记录');
    expect(text).toContain('• shop/backup-all：没有保留规则，不清理任何备份');
    expect(text).toMatch(/• shop\/backup：已删除 .*backups 中 0 个过期备份，保留 0 个/);
    expect(posted.map((p) => ({ p, english: englishIn(p, { allowed: DATA }) })).filter((x) => x.english.length > 0)).toEqual([]);
  });

  it('leaves the English job texts as they were', async () => {
    useLocale({ locale: 'en', timeZone: 'UTC' });
    await mkdir(path.join(dir, 'backups'));
    const posted = (
      await fire([
        { name: 'nightly', title: 'Nightly step', kind: 'step', cron: '0 2 * * *', step: { runbook: 'shop', step: 'fails' }, post: OPS },
        { name: 'morning', title: 'Morning checks', kind: 'checklist', cron: '0 9 * * *', steps: [{ runbook: 'shop', step: 'hello' }], post: OPS },
        { name: 'cleanup', title: 'Cleanup', kind: 'retention', cron: '0 3 * * *', backups: [{ runbook: 'shop', step: 'backup-all' }], post: OPS },
      ])
    ).join('\n');
    expect(posted).toMatch(/🗓️ Nightly step: ❌ \*Fails\* failed: exit 2 in /);
    expect(posted).toMatch(/▶️ Scheduled job \*Nightly step\* started \(slot \d{4}-\d\d-\d\d \d\d:\d\d UTC\)\./);
    expect(posted).toMatch(/📋 Morning checks: 1 of 1 checks passed\n✅ \*Prints hello\* \(shop\): exit 0 in /);
    expect(posted).toContain('🧹 Cleanup: deleted the audit trail of 0 incidents resolved more than 180 days ago (0 records); a checkpoint keeps audit:verify whole.\n• shop/backup-all: no keep rule, nothing expires');
  });

  const gitcortex = (): Runbook =>
    parseRunbook(
      `
name: gitcortex
match: { service: gitcortex }
params:
  instance: { fromLabel: instance, pattern: '[a-z0-9.-]+:[0-9]{1,5}' }
  snapshot: { chosen: true, pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - { id: snap, title: Snapshot config, action: exec, run: [node, -e, 'process.exit(1)'] }
  - id: change
    title: Change config
    action: exec
    run: [node, -e, '0']
    changes: true
    checkpoint: { step: snap, rollback: undo, param: snapshot }
  - { id: undo, title: Undo change, action: exec, run: [node, -e, '0', '{{snapshot}}'], changes: true }
  - id: each
    title: Restart each
    action: exec
    forEach: alert
    run: [node, -e, 'process.exit(process.argv[1].startsWith("host2") ? 3 : 0)', '{{instance}}']
    changes: true
`,
      'gitcortex.yaml',
    );

  /** Runs approved steps through the real executor; each run's audit texts and the thread messages queued for it. */
  type RunSpec = { step: string; stepTitle: string; params: Record<string, string> };
  async function execute(runs: RunSpec[]): Promise<{ audit: string[]; thread: string[] }> {
    const n = notification([alert('host1:3001'), alert('host2:3001')]);
    const { incidentId } = await store.transaction((tx) => recordNotification(tx, n, at(0), [{ platform: 'slack', channel: 'C0ALERTS' }]));
    const ids = await store.transaction(async (tx) => {
      const out: number[] = [];
      for (const r of runs) out.push((await tx.insertStepRun(newStepRun(incidentId, { runbook: 'gitcortex', ...r, state: 'approved' }))).id);
      return out;
    });
    const executor = new StepExecutor({
      store,
      runner: localStepRunner,
      runbooks: [gitcortex()],
      clock: () => new Date(),
      log: silentLog,
      redact: createRedactor([]),
      env: { PATH: process.env.PATH ?? '' },
      policy: defaultPolicy([]),
      metrics: createMetrics(() => Promise.resolve(0)),
      onQueued: () => undefined,
      pollMs: 20,
    });
    executor.start();
    const trail = async () => store.transaction((tx) => tx.listAudit(incidentId));
    await waitFor(async () => (await trail()).filter((e) => e.kind === 'step.finished').length === ids.length, 20_000, 'every run to finish');
    await executor.stop(1000);
    const audit = (await trail()).filter((e) => e.kind.startsWith('step.')).map((e) => e.text);
    const thread = (await store.transaction((tx) => tx.pendingOutbox(1000))).filter((m) => m.kind !== 'card' && m.kind !== 'post').flatMap((m) => shownTexts(m.payload));
    return { audit, thread };
  }

  const forEach = JSON.stringify([
    { alert: 'instance=host1:3001', params: { instance: 'host1:3001' } },
    { alert: 'instance=host2:3001', params: { instance: 'host2:3001' } },
  ]);
  const RUNS: RunSpec[] = [
    { step: 'each', stepTitle: 'Restart each', params: { instance: 'host1:3001', '@forEach': forEach } },
    { step: 'change', stepTitle: 'Change config', params: { instance: 'host1:3001' } },
    { step: 'gone', stepTitle: 'Gone step', params: {} },
  ];

  it('says a forEach tally, a failed checkpoint and a step gone from the runbooks in Chinese', async () => {
    const { audit, thread } = await execute(RUNS);
    const all = [...audit, ...thread].join('\n');
    expect(all).toContain('*Restart each* 失败：2 条告警中 1 条执行成功');
    expect(all).toMatch(/• instance=host2:3001: 失败：退出码 3，耗时/);
    expect(all).toMatch(/❌ instance=host2:3001: 退出码 3，耗时/);
    expect(all).toMatch(/\*Change config\* 的变更前快照（Snapshot config）生成失败：退出码 1，耗时/);
    expect(all).toMatch(/\*Change config\* 失败：变更前快照失败，步骤未执行：退出码 1，耗时 .+（没有生成快照文件）/);
    expect(all).toContain('*Gone step* 失败：处置手册步骤 gitcortex/gone 已不存在');
    const texts = [...audit, ...thread];
    expect(texts.length).toBeGreaterThanOrEqual(6);
    expect(texts.map((x) => ({ x, english: englishIn(x, { allowed: DATA }) })).filter((x) => x.english.length > 0)).toEqual([]);
  }, 30_000);

  it('keeps the English results as the actions and the executor wrote them', async () => {
    useLocale({ locale: 'en', timeZone: 'UTC' });
    const all = (await execute(RUNS)).audit.join('\n');
    expect(all).toContain('*Restart each* failed: 1 of 2 alerts succeeded');
    expect(all).toMatch(/• instance=host2:3001: failed: exit 3 in /);
    expect(all).toMatch(/\*Change config\* failed: pre-change checkpoint failed, so the step was not run: exit 1 in \S+( ms)? \(it produced no snapshot file\)/);
    expect(all).toContain('*Gone step* failed: runbook step gitcortex/gone no longer exists');
  }, 30_000);
});
