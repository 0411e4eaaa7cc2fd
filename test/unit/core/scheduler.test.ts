import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { webApi } from '@slack/bolt';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SlackPlatform } from '../../../src/bot/slack/platform.js';
import { runJob, type JobOutcome } from '../../../src/core/jobs.js';
import { alwaysLeader, type Leadership } from '../../../src/core/ports/leadership.js';
import { OutboxWorker } from '../../../src/core/outbox-worker.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { Scheduler } from '../../../src/core/scheduler.js';
import { loadSchedules, schedulesSchema, type ScheduledJob } from '../../../src/settings/schedules.js';
import { cronTimer } from '../../../src/core/cron.js';
import { createMetrics } from '../../../src/metrics.js';
import { parseRunbook } from '../../../src/runbooks/loader.js';
import type { Runbook } from '../../../src/runbooks/schema.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { startFakeSlack } from '../../fakes/slack-api.js';
import { silentLog } from './factories.js';
import { localStepRunner } from '../../../src/runbooks/index.js';

const MIN = 60_000;
const OPS = { platform: 'slack', channel: 'C0OPS' } as const;

function jobs(list: unknown[]): ScheduledJob[] {
  return schedulesSchema.parse({ jobs: list }).jobs;
}

describe('Scheduler with node-cron under fake timers', () => {
  let dir: string;
  let store: SqliteStore;
  let schedulers: Scheduler[];

  const makeScheduler = (list: ScheduledJob[], run: (job: ScheduledJob, signal: AbortSignal) => Promise<JobOutcome>, leadership: Leadership = alwaysLeader) => {
    const s = new Scheduler({ store, jobs: list, timer: (job) => cronTimer(job, silentLog), run, leadership, clock: () => new Date(), log: silentLog, onQueued: () => undefined });
    schedulers.push(s);
    return s;
  };
  const audit = async (kind: string) => (await store.transaction((tx) => tx.listAudit(null))).filter((e) => e.kind === kind);
  const posts = async () => (await store.transaction((tx) => tx.pendingOutbox(1000))).filter((m) => m.kind === 'post').map((m) => (m.payload as { text: string }).text);

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'scheduler-'));
    // In memory: its commits settle in microtasks, which fake timers step through; a file store's
    // wait for the disk sync runs on real time.
    store = new SqliteStore(':memory:');
    schedulers = [];
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const s of schedulers) await s.stop(0);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fires each job at 02:00 in its own time zone', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-21T23:58:00.000Z'), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const fired: Array<[string, string]> = [];
    const list = jobs([
      { name: 'paris-backup', kind: 'retention', cron: '0 2 * * *', timezone: 'Europe/Paris', post: OPS },
      { name: 'new-york-backup', kind: 'retention', cron: '0 2 * * *', timezone: 'America/New_York', post: OPS },
      { name: 'utc-backup', kind: 'retention', cron: '0 2 * * *', post: OPS },
    ]);
    await makeScheduler(list, (job) => {
      fired.push([job.name, new Date().toISOString()]);
      return Promise.resolve({ status: 'succeeded', text: `${job.name} done`, data: {} });
    }).start();
    await vi.advanceTimersByTimeAsync(8 * 60 * MIN);
    expect(fired).toEqual([
      ['paris-backup', '2026-11-22T01:00:00.000Z'],
      ['utc-backup', '2026-11-22T02:00:00.000Z'],
      ['new-york-backup', '2026-11-22T07:00:00.000Z'],
    ]);
    expect((await audit('schedule.finished')).map((e) => [e.actor, e.data.job, e.data.slot])).toEqual([
      ['system:scheduler', 'paris-backup', '2026-11-22T01:00:00.000Z'],
      ['system:scheduler', 'utc-backup', '2026-11-22T02:00:00.000Z'],
      ['system:scheduler', 'new-york-backup', '2026-11-22T07:00:00.000Z'],
    ]);
    expect(await posts()).toEqual(['paris-backup done', 'utc-backup done', 'new-york-backup done']);
  });

  it('never overlaps a job with itself: slots that come while it runs are skipped and recorded', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-22T10:00:30.000Z'), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const started: string[] = [];
    const list = jobs([{ name: 'slow', kind: 'retention', cron: '* * * * *', post: OPS }]);
    await makeScheduler(list, async (_job, signal) => {
      started.push(new Date().toISOString().slice(11, 16));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 150_000);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return { status: 'succeeded', text: 'slow done', data: {} };
    }).start();
    await vi.advanceTimersByTimeAsync(7 * MIN);
    expect(started).toEqual(['10:01', '10:04', '10:07']);
    expect((await audit('schedule.skipped')).map((e) => String(e.data.slot).slice(11, 16))).toEqual(['10:02', '10:03', '10:05', '10:06']);
    // Skipped slots are not "missed": nothing is reported as missed afterwards.
    expect(await audit('schedule.missed')).toEqual([]);
  });

  it('reports a run missed while the bot was down when it starts, once, and does not run it late', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-20T12:00:00.000Z'), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const list = jobs([{ name: 'nightly', title: 'Nightly backup', kind: 'retention', cron: '0 2 * * *', timezone: 'Europe/Paris', post: OPS }]);
    const ran: string[] = [];
    const run = () => {
      ran.push(new Date().toISOString());
      return Promise.resolve<JobOutcome>({ status: 'succeeded', text: 'done', data: {} });
    };
    // First life: the job runs at 02:00 Paris on the 21st, then the bot stops.
    const first = makeScheduler(list, run);
    await first.start();
    await vi.advanceTimersByTimeAsync(14 * 60 * MIN);
    expect(ran).toEqual(['2026-11-21T01:00:00.000Z']);
    await first.stop(0);
    // Down from 02:00 UTC on the 21st to 09:00 UTC on the 23rd: the 22nd's and the 23rd's slots are missed.
    vi.setSystemTime(Date.parse('2026-11-23T09:00:00.000Z'));
    await makeScheduler(list, run).start();
    const missed = await audit('schedule.missed');
    expect(missed.map((e) => e.data.missed)).toEqual([['2026-11-22T01:00:00.000Z', '2026-11-23T01:00:00.000Z']]);
    expect((await posts()).at(-1)).toBe(
      '⚠️ *Nightly backup* did not run at 2026-11-22 02:00 Europe/Paris, 2026-11-23 02:00 Europe/Paris: the bot was down or no replica was leading. It was not run late; run it by hand if it is still needed.',
    );
    expect(ran).toHaveLength(1);
    // A third start reports nothing new.
    await makeScheduler(list, run).start();
    expect(await audit('schedule.missed')).toHaveLength(1);
  });

  it('runs nothing on a replica that is not the leader; when it starts leading it reports the interrupted run and the missed slots', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-22T10:00:30.000Z'), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const list = jobs([{ name: 'every-minute', kind: 'retention', cron: '* * * * *', post: OPS }]);
    await store.transaction((tx) => tx.claimJobRun('every-minute', '2026-11-22T09:59:00.000Z', '2026-11-22T09:59:00.000Z'));
    let leader = false;
    const ran: string[] = [];
    const s = makeScheduler(list, () => {
      ran.push(new Date().toISOString());
      return Promise.resolve<JobOutcome>({ status: 'succeeded', text: 'ok', data: {} });
    }, { isLeader: () => leader, start: () => Promise.resolve(), stop: () => Promise.resolve() });
    await s.start();
    await vi.advanceTimersByTimeAsync(2 * MIN);
    expect(ran).toEqual([]);
    expect(await audit('schedule.interrupted')).toEqual([]);
    // This replica becomes the leader: at its first slot it closes the run the old leader left, and
    // reports the slots nobody ran while no replica was leading.
    leader = true;
    await vi.advanceTimersByTimeAsync(MIN);
    expect((await audit('schedule.interrupted')).map((e) => e.data.job)).toEqual(['every-minute']);
    expect((await audit('schedule.missed')).map((e) => e.data.missed)).toEqual([['2026-11-22T10:00:00.000Z', '2026-11-22T10:01:00.000Z', '2026-11-22T10:02:00.000Z']]);
    expect(ran).toEqual(['2026-11-22T10:03:00.000Z']);
  });

  it('runs the slot it is fired for when it first leads, although the timer fires a little after the slot', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-22T10:00:30.000Z'), toFake: ['Date'] });
    const list = jobs([
      { name: 'known', kind: 'retention', cron: '* * * * *', post: OPS },
      { name: 'new-job', kind: 'retention', cron: '* * * * *', post: OPS },
    ]);
    await store.transaction((tx) => tx.initJobRun('known', '2026-11-22T09:58:00.000Z'));
    let leader = false;
    const ran: string[] = [];
    const s = makeScheduler(list, (job) => {
      ran.push(job.name);
      return Promise.resolve<JobOutcome>({ status: 'succeeded', text: 'ok', data: {} });
    }, { isLeader: () => leader, start: () => Promise.resolve(), stop: () => Promise.resolve() });
    await s.start();
    leader = true;
    // The 10:01 tick, run 25 ms late, as timers are on a busy machine.
    vi.setSystemTime(Date.parse('2026-11-22T10:01:00.025Z'));
    const slot = new Date('2026-11-22T10:01:00.000Z');
    for (const job of list) await s.fire(job, slot);
    expect(ran).toEqual(['known', 'new-job']);
    // Only what really passed unrun is reported: 09:59 and 10:00 for the job known before.
    expect((await audit('schedule.missed')).map((e) => [e.data.job, e.data.missed])).toEqual([
      ['known', ['2026-11-22T09:59:00.000Z', '2026-11-22T10:00:00.000Z']],
    ]);
    expect((await audit('schedule.started')).map((e) => [e.data.job, e.data.slot])).toEqual([
      ['known', slot.toISOString()],
      ['new-job', slot.toISOString()],
    ]);
  });
});

describe('scheduled runbook steps', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'scheduled-step-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function shopRunbook(): Runbook {
    return parseRunbook(
      `
name: shop
match: { service: shop }
params:
  db: { default: ${path.join(dir, 'shop.db')}, pattern: '/[A-Za-z0-9/._-]+' }
  backups: { default: ${path.join(dir, 'backups')}, pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: backup
    title: Back up the shop database
    action: backup
    with: { engine: sqlite, path: '{{db}}', dir: '{{backups}}', prefix: shop, keep: { files: 3 } }
  - id: health
    title: Database answers
    action: verify
    with: { kind: sql, engine: sqlite, path: '{{db}}', withinSeconds: 2 }
  - id: wipe
    title: Wipe the cache
    action: exec
    run: [rm, -rf, /tmp/shop-cache]
    changes: true
`,
      'shop.yaml',
    );
  }

  it('runs a nightly backup for real, audits it as the scheduler and posts the result to its Slack channel once', async () => {
    const dbFile = path.join(dir, 'shop.db');
    const db = new Database(dbFile);
    db.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT); INSERT INTO orders (item) VALUES ('tea'), ('cake')");
    db.close();
    await mkdir(path.join(dir, 'backups'));
    const store = new SqliteStore(path.join(dir, 'bot.db'));
    const slack = await startFakeSlack({ rateLimit: false, channels: [OPS.channel] });
    try {
      const runbooks = [shopRunbook()];
      const [job] = jobs([{ name: 'shop-nightly-backup', kind: 'step', cron: '0 2 * * *', timezone: 'Europe/Paris', step: { runbook: 'shop', step: 'backup' }, post: OPS }]);
      const redact = createRedactor([]);
      const scheduler = new Scheduler({
        store,
        jobs: [job!],
        timer: (j) => cronTimer(j, silentLog),
        run: (j, signal) => runJob(j, { store, runner: localStepRunner, runbooks, redact, env: { PATH: process.env.PATH ?? '' }, clock: () => new Date() }, signal),
        leadership: alwaysLeader,
        clock: () => new Date(),
        log: silentLog,
        onQueued: () => undefined,
      });
      await scheduler.start();
      // The next slot, fired now rather than waited for.
      await scheduler.fire(job!, new Date((Math.floor(Date.now() / MIN) + 1) * MIN));
      const finished = (await store.transaction((tx) => tx.listAudit(null))).find((e) => e.kind === 'schedule.finished')!;
      expect(finished.actor).toBe('system:scheduler');
      expect(finished.data.status).toBe('succeeded');
      const artefact = (finished.data.artefacts as Array<{ path: string }>)[0]!;
      expect(existsSync(artefact.path)).toBe(true);

      const client = new webApi.WebClient(slack.token, { slackApiUrl: slack.url, retryConfig: { retries: 0 }, logLevel: webApi.LogLevel.ERROR });
      const outbox = new OutboxWorker({
        store,
        platforms: new Map([['slack', new SlackPlatform(client)]]),
        renderCard: () => Promise.reject(new Error('no cards here')),
        clock: () => new Date(),
        log: silentLog,
        metrics: createMetrics(() => Promise.resolve(0)),
        redact,
      });
      await outbox.runOnce();
      await outbox.runOnce();
      const [message, ...more] = slack.topLevel(OPS.channel);
      expect(more).toEqual([]);
      expect(message?.text).toMatch(/^🗓️ shop-nightly-backup: ✅ \*Back up the shop database\* succeeded: /);
      expect(message?.text).toContain(artefact.path);
      await scheduler.stop(0);
    } finally {
      await slack.close();
      await store.close();
    }
  });

  it('retention expires the backups a backup step keeps no longer, by the step\'s own keep rule', async () => {
    const store = new SqliteStore(':memory:');
    try {
      const backups = path.join(dir, 'backups');
      await mkdir(backups);
      // Five nightly backups (newest last) and an unrelated file; the step keeps the newest 3.
      const names = ['20261117', '20261118', '20261119', '20261120', '20261121'].map((d) => `shop-${d}T020000Z.db.gz`);
      for (const name of [...names, 'notes.txt']) await writeFile(path.join(backups, name), 'x');
      for (const name of names) await writeFile(path.join(backups, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
      const [job] = jobs([{ name: 'retention', kind: 'retention', cron: '30 3 * * *', post: OPS, backups: [{ runbook: 'shop', step: 'backup' }] }]);
      const outcome = await runJob(job!, { store, runner: localStepRunner, runbooks: [shopRunbook()], redact: createRedactor([]), env: {}, clock: () => new Date('2026-11-22T03:30:00Z') }, new AbortController().signal);
      expect(outcome.status).toBe('succeeded');
      expect(outcome.text).toContain(`• shop/backup: deleted 2 expired backups in ${backups}, kept 3`);
      expect((await readdir(backups)).sort()).toEqual([...names.slice(2).flatMap((n) => [n, `${n}.sha256`]), 'notes.txt'].sort());
    } finally {
      await store.close();
    }
  });

  it('runs a checklist in sequence and posts one summary', async () => {
    const store = new SqliteStore(':memory:');
    try {
      const db = new Database(path.join(dir, 'shop.db'));
      db.exec('CREATE TABLE t (x)');
      db.close();
      const [job] = jobs([
        {
          name: 'daily',
          title: 'Daily checklist',
          kind: 'checklist',
          cron: '0 9 * * *',
          post: OPS,
          steps: [{ runbook: 'shop', step: 'health' }, { runbook: 'shop', step: 'health', labels: {} }],
        },
      ]);
      const outcome = await runJob(job!, { store, runner: localStepRunner, runbooks: [shopRunbook()], redact: createRedactor([]), env: {}, clock: () => new Date() }, new AbortController().signal);
      expect(outcome.status).toBe('succeeded');
      expect(outcome.text.split('\n').filter((l) => l.startsWith('✅'))).toHaveLength(2);
      expect(outcome.text.split('\n')[0]).toBe('📋 Daily checklist: 2 of 2 checks passed');
    } finally {
      await store.close();
    }
  });

  it('fails a checklist item whose output crosses its expect: threshold, posting the value it read', async () => {
    const store = new SqliteStore(':memory:');
    try {
      const data = path.join(dir, 'data');
      await mkdir(data);
      const runbook = parseRunbook(
        `
name: usage
match: { service: usage }
params:
  data: { default: ${data}, pattern: '/[A-Za-z0-9/._-]+' }
  log: { default: ${path.join(dir, 'app.log')}, pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: data-size
    title: Size of the data directory (du -sk)
    action: exec
    run: [du, -sk, '{{data}}']
    expect: [{ label: data KiB, value: '^(\\d+)\\s', max: 100 }]
  - id: errors
    title: ERROR lines of app.log
    action: exec
    run: [sed, -n, '/ERROR/p', '{{log}}']
    expect: [{ label: ERROR lines, absent: 'ERROR' }]
`,
        'usage.yaml',
      );
      const [job] = jobs([
        { name: 'nightly', title: 'Nightly checks', kind: 'checklist', cron: '0 9 * * *', post: OPS, steps: [{ runbook: 'usage', step: 'data-size' }, { runbook: 'usage', step: 'errors' }] },
      ]);
      const run = () => runJob(job!, { store, runner: localStepRunner, runbooks: [runbook], redact: createRedactor([]), env: { PATH: process.env.PATH }, clock: () => new Date() }, new AbortController().signal);

      await writeFile(path.join(data, 'small.bin'), Buffer.alloc(8 * 1024, 1));
      await writeFile(path.join(dir, 'app.log'), '2026-12-07 09:00:01 INFO started\n');
      const fine = await run();
      expect(fine.status).toBe('succeeded');
      expect(fine.text).toMatch(/• data KiB: ✅ \d+ \(max 100\)/);
      expect(fine.text).toContain('• ERROR lines: ✅ none');

      // The directory grows past its bound and the log gets an error: both items fail, with what they saw.
      await writeFile(path.join(data, 'big.bin'), Buffer.alloc(400 * 1024, 1));
      await writeFile(path.join(dir, 'app.log'), '2026-12-07 09:00:01 INFO started\n2026-12-07 09:05:00 ERROR db timeout\n');
      const crossed = await run();
      expect(crossed.status).toBe('failed');
      const lines = crossed.text.split('\n');
      expect(lines[0]).toBe('📋 Nightly checks: 0 of 2 checks passed');
      const kib = Number(/data KiB: ❌ (\d+) in/.exec(crossed.text)?.[1]);
      expect(kib).toBeGreaterThan(100);
      expect(crossed.text).toMatch(/❌ \*Size of the data directory \(du -sk\)\* \(usage\): exit 0 in .*, but data KiB \d+ outside max 100/);
      expect(crossed.text).toContain(`(max 100)`);
      expect(crossed.text).toContain('• ERROR lines: ❌ 1 found, the last: `2026-12-07 09:05:00 ERROR db timeout`');
      expect(crossed.data.items).toMatchObject([{ step: 'data-size', status: 'failed' }, { step: 'errors', status: 'failed' }]);
    } finally {
      await store.close();
    }
  });

  it('refuses in the schedules file a changing step, a backup in a checklist, a bad cron, time zone or platform, naming file and path', async () => {
    const file = path.join(dir, 'schedules.yaml');
    await writeFile(
      file,
      `jobs:
  - { name: wipe, kind: step, cron: '0 2 * * *', step: { runbook: shop, step: wipe }, post: { platform: slack, channel: C0OPS } }
  - { name: list, kind: checklist, cron: '0 9 * * *', steps: [{ runbook: shop, step: backup }], post: { platform: discord, channel: '1' } }
  - { name: bad-cron, kind: retention, cron: '0 25 * * *', post: { platform: slack, channel: C0OPS }, backups: [{ runbook: shop, step: health }] }
`,
    );
    const message = await loadSchedules(file, [shopRunbook()], ['slack']).then(
      () => '',
      (e: unknown) => (e as Error).message,
    );
    expect(message.split('\n')).toEqual([
      `${file}: jobs.0.step: step "shop/wipe" changes a system (changes: true) and needs approval in chat; it cannot be scheduled`,
      `${file}: jobs.1.post.0.platform: discord is not enabled on this bot (enabled: slack)`,
      `${file}: jobs.1.steps.0: step "shop/backup" (action backup) is not read-only; a checklist runs verify, http, exec, locate and compose ps/logs checks only`,
      `${file}: jobs.2.cron: "0 25 * * *" is not a valid cron expression`,
      `${file}: jobs.2.backups.0: step "shop/health" is a verify step; retention expires the files of backup steps`,
    ]);
    await writeFile(file, `jobs:\n  - { name: x, kind: retention, cron: '0 2 * *', timezone: Mars/Olympus, post: { platform: slack, channel: C0OPS } }\n`);
    const schemaErrors = await loadSchedules(file, [], ['slack']).catch((e: unknown) => (e as Error).message);
    expect(schemaErrors).toContain(`${file}: jobs.0.cron: must have five fields`);
    expect(schemaErrors).toContain(`${file}: jobs.0.timezone: must be an IANA time zone`);
  });
});

describe('shipped schedules example', () => {
  it('is valid against the shipped runbooks: nightly backups at 02:00, daily and weekly checklists, retention', async () => {
    const { loadRunbooks } = await import('../../../src/runbooks/loader.js');
    const runbooks = await loadRunbooks(path.resolve('manifests/runbooks'));
    const schedules = await loadSchedules(path.resolve('manifests/schedules.example.yaml'), runbooks, ['slack', 'discord']);
    expect(schedules.jobs.map((j) => [j.name, j.kind, j.cron])).toEqual([
      ['im-suite-nightly-backup', 'step', '0 2 * * *'],
      ['gitcortex-nightly-backup', 'step', '0 2 * * *'],
      ['im-suite-daily-checklist', 'checklist', '0 9 * * *'],
      ['im-suite-weekly-checklist', 'checklist', '0 9 * * 1'],
      ['opentruss-nightly-backup', 'step', '0 2 * * *'],
      ['opentruss-daily-checklist', 'checklist', '0 9 * * *'],
      ['opentruss-weekly-checklist', 'checklist', '0 9 * * 1'],
      ['opentruss-monthly-checklist', 'checklist', '0 9 1 * *'],
      ['app-example-nightly-backup', 'step', '0 2 * * *'],
      ['app-example-weekly-inspection', 'checklist', '0 9 * * 1'],
      ['retention', 'retention', '30 3 * * *'],
    ]);
  });
});
