import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { firstBrokenLink } from '../../src/core/audit.js';
import { sqliteMigrations } from '../../src/store/migrations.js';
import type { AuditEvent } from '../../src/core/domain.js';
import { describeWithAlertmanager, startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { WEBHOOK_TOKEN } from '../support/bot-harness.js';
import { spawnBot, type BotProcess } from '../support/bot-process.js';
import { slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { probePostgres, requireService } from '../support/services.js';

/**
 * Three replicas of the bot, each its own process, sharing one PostgreSQL database as they would
 * behind a load balancer; the real Alertmanager delivers every notification to two of them, as the
 * two members of an HA pair would. One card per group, one run per approved step whichever replica
 * gets the clicks, one leader for the outbox and the scheduled jobs, and a new leader soon after
 * the old one is killed.
 */
const server = await requireService('PostgreSQL at 127.0.0.1:5432', probePostgres);

const LEADS = /this replica now leads/;

const runbook = (shared: string) => `
name: replica-shop
match: { service: replica-shop }
params:
  service: { fromLabel: service, pattern: '[a-z0-9-]+' }
steps:
  - id: restart
    title: Restart shop
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], "restarted " + process.argv[2] + "\\n")', '${shared}/restarted.txt', '{{service}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
  - id: probe
    title: Probe shop
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], "probe\\n")', '${shared}/probes.txt']
`;

const SCHEDULES = `
jobs:
  - name: probe-every-minute
    title: Shop probe
    kind: step
    cron: '* * * * *'
    step: { runbook: replica-shop, step: probe, labels: { service: replica-shop } }
    post: { platform: slack, channel: C0ALERTS }
`;

const alert = (alertname: string) => ({
  labels: { alertname, service: 'replica-shop', severity: 'critical', instance: 'shop-1:8080' },
  annotations: { summary: `${alertname} on the shop` },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const leads = (bot: BotProcess) => bot.logRecords().some((r) => LEADS.test(String(r.msg)));
const readLines = async (file: string) => (await fs.readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);

/** A counter's value from a replica's /metrics, summed over the series whose labels include `labels`. */
async function metric(bot: BotProcess, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${bot.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

describeWithAlertmanager('replicas on PostgreSQL', () => {
  server.describe('three replicas, one database, Alertmanager delivering to two of them', () => {
    let db: TestDatabase;
    let shared: string;
    let chat: ChatDriver;
    let am: RunningAlertmanager;
    const replicas: BotProcess[] = [];
    const cards = () => chat.cards().filter((c) => c.buttonIds.length > 0);

    beforeAll(async () => {
      db = await createTestDatabase(server.value, 'chatops_replicas');
      shared = await fs.mkdtemp(path.join(os.tmpdir(), 'replicas-'));
      await fs.mkdir(path.join(shared, 'runbooks'));
      await fs.writeFile(path.join(shared, 'runbooks', 'shop.yaml'), runbook(shared));
      await fs.writeFile(path.join(shared, 'schedules.yaml'), SCHEDULES);
      chat = await slackDriver();
      const env = {
        ...chat.botEnv(),
        DATABASE_URL: db.url,
        RUNBOOKS_DIR: path.join(shared, 'runbooks'),
        SCHEDULES_FILE: path.join(shared, 'schedules.yaml'),
        ALERTMANAGER_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      };
      // All three at once on an empty database: each migrates (or waits for the one migrating).
      replicas.push(...(await Promise.all([0, 1, 2].map(() => spawnBot({ env })))));
      await Promise.all(replicas.map((r) => r.waitForReady(40_000)));
      const [a, b] = replicas as [BotProcess, BotProcess, BotProcess];
      am = await startAlertmanager({
        webhookUrl: `${a.url}/webhooks/alertmanager`,
        moreWebhookUrls: [`${b.url}/webhooks/alertmanager`],
        bearerToken: WEBHOOK_TOKEN,
        groupBy: ['alertname', 'service'],
      });
    }, 90_000);

    afterAll(async () => {
      await am?.stop();
      await Promise.all(replicas.map((r) => r.dispose({ removeDir: true })));
      await chat?.close();
      await db?.drop();
      if (shared) await fs.rm(shared, { recursive: true, force: true });
    });

    it('migrates the empty database once and elects exactly one leader', async () => {
      const migrations = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(migrations.map((m) => Number(m.version))).toEqual(sqliteMigrations.map((m) => m.version));
      await chat.waitFor(() => replicas.some(leads) || undefined, 15_000, 'a leader');
      await sleep(2500);
      expect(replicas.filter(leads)).toHaveLength(1);
    });

    it('posts one card per group although two replicas receive every notification', async () => {
      await am.fireAlerts([alert('ShopDown'), alert('ShopSlow')]);
      await chat.waitFor(() => cards().length >= 2 || undefined, 30_000, 'two incident cards');
      // Alertmanager retries nothing here, but both replicas got each notification: give any second card time to appear.
      await sleep(3000);
      expect(cards()).toHaveLength(2);
      for (const card of cards()) {
        expect(chat.replies(card).filter((m) => /Incident #\d+ opened/.test(m.text))).toHaveLength(1);
      }
      const [a, b] = replicas as [BotProcess, BotProcess, BotProcess];
      const received = async (bot: BotProcess) =>
        (await metric(bot, 'chatops_notifications_received_total', 'result="stored"')) + (await metric(bot, 'chatops_notifications_received_total', 'result="duplicate"'));
      expect(await received(a)).toBeGreaterThanOrEqual(2);
      expect(await received(b)).toBeGreaterThanOrEqual(2);
      const duplicates = (await metric(a, 'chatops_notifications_received_total', 'result="duplicate"')) + (await metric(b, 'chatops_notifications_received_total', 'result="duplicate"'));
      expect(duplicates).toBeGreaterThanOrEqual(2);
      expect(await db.query('SELECT id FROM incidents')).toHaveLength(2);
    });

    it('runs a step approved through replica A once, while replica B receives the duplicate click', async () => {
      const [a, b] = replicas as [BotProcess, BotProcess, BotProcess];
      const card = cards().find((c) => c.text.includes('ShopDown')) as ChatMessage;
      const restart = card.buttonIds.find((id) => id.endsWith(':replica-shop:restart')) as string;
      chat.attach(a.url);
      expect((await chat.press('alice', restart, card, card)).status).toBe(200);
      const request = await chat.waitFor(() => chat.replies(card).find((m) => /asks to run Restart shop/.test(m.text)), 20_000, 'the approval request');
      const approve = request.buttonIds.find((id) => id.startsWith('approve:')) as string;

      chat.attach(a.url);
      const throughA = chat.press('bob', approve, request, card);
      chat.attach(b.url);
      const throughB = chat.press('bob', approve, request, card);
      expect((await Promise.all([throughA, throughB])).map((r) => r.status)).toEqual([200, 200]);

      await chat.waitFor(() => chat.replies(card).find((m) => /Restart shop succeeded/.test(m.text)), 30_000, 'the step result');
      await chat.waitFor(() => chat.privateTexts('bob').find((t) => /already/.test(t)), 15_000, 'the answer to the duplicate click');
      await sleep(1500);
      expect(await readLines(path.join(shared, 'restarted.txt'))).toEqual(['restarted replica-shop']);
      expect(chat.replies(card).filter((m) => /Started Restart shop/.test(m.text))).toHaveLength(1);
      // The request is edited once by the leader, whichever replica took the approval: no buttons left, nothing posted twice.
      const decided = await chat.waitFor(() => chat.replies(card).find((m) => m.id === request.id && m.buttonIds.length === 0), 15_000, 'the request edited to its outcome');
      expect(decided.text).toMatch(/\d\d:\d\d:\d\d approved by bob/i);
      expect(chat.replies(card).filter((m) => /asks to run Restart shop/.test(m.text))).toHaveLength(1);
      const runs = await db.query<{ state: string; runner: string }>("SELECT state, runner FROM step_runs WHERE step = 'restart'");
      expect(runs).toHaveLength(1);
      expect(runs[0]?.state).toBe('succeeded');
      expect(runs[0]?.runner).toMatch(/-\d+-[0-9a-f]{6}$/);
    });

    it('hands the scheduled job and the outbox to another replica soon after the leader is killed', async () => {
      const leader = replicas.find(leads) as BotProcess;
      const others = replicas.filter((r) => r !== leader);
      const killedAt = Date.now();
      leader.kill('SIGKILL', { group: true });
      await leader.waitForExit();

      const successor = await chat.waitFor(() => others.find(leads), 15_000, 'a new leader');
      const handoverMs = Date.now() - killedAt;
      // Followers check the lock every second; the server frees it when the killed leader's connection closes.
      expect(handoverMs).toBeLessThan(10_000);
      expect(others.filter(leads)).toHaveLength(1);

      // The next minute's run of the job happens on the new leader, and its result reaches Slack through the new leader's outbox.
      const finished = () =>
        successor.logRecords().find((r) => r.msg === 'scheduled job finished' && r.job === 'probe-every-minute' && Number(r.time) > killedAt);
      await chat.waitFor(finished, 75_000, 'a run of the scheduled job on the new leader');
      await chat.waitFor(() => chat.cards().find((m) => /Shop probe/.test(m.text) && Number(m.id) * 1000 > killedAt), 20_000, 'the job result posted after the handover');
      const survivor = others.find((r) => r !== successor) as BotProcess;
      expect(survivor.logRecords().filter((r) => r.msg === 'scheduled job finished')).toHaveLength(0);

      // One run per slot, each recorded once, and each run that finished really ran the step once.
      const records = async (kind: string) =>
        (await db.query<{ data: string }>('SELECT data FROM audit_events WHERE incident_id IS NULL AND kind = $1 ORDER BY seq', [kind])).map(
          (r) => JSON.parse(r.data) as { slot: string; status?: string },
        );
      const slots = (await records('schedule.started')).map((r) => r.slot);
      expect(new Set(slots).size).toBe(slots.length);
      const succeeded = (await records('schedule.finished')).filter((r) => r.status === 'succeeded');
      expect(succeeded.length).toBeGreaterThanOrEqual(1);
      expect(await readLines(path.join(shared, 'probes.txt'))).toHaveLength(succeeded.length);
    }, 120_000);

    it('keeps every audit trail a whole hash chain, read through any replica', async () => {
      const reader = replicas.find((r) => r.exited() === undefined) as BotProcess;
      for (const { id } of await db.query<{ id: number }>('SELECT id FROM incidents ORDER BY id')) {
        const { events } = (await (await fetch(`${reader.url}/incidents/${id}/audit`)).json()) as { events: AuditEvent[] };
        expect(firstBrokenLink(events)).toBeUndefined();
        expect(events.filter((e) => e.kind === 'alert.received')).toHaveLength(1);
      }
      const shopDown = (await db.query<{ id: number }>("SELECT id FROM incidents WHERE title LIKE 'ShopDown%'"))[0];
      const { events } = (await (await fetch(`${reader.url}/incidents/${shopDown?.id}/audit`)).json()) as { events: AuditEvent[] };
      expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(['step.requested', 'step.approved', 'step.started', 'step.finished']));
      expect(events.filter((e) => e.kind === 'step.started')).toHaveLength(1);
    });
  });
});
