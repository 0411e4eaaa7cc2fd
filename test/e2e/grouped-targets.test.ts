import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlertScene, type AlertScene } from '../support/alert-scene.js';
import { describeWithAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import type { TestBot } from '../support/bot-harness.js';
import { discordDriver, slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';
import { createItemsDb, itemCount, writeItemsBackup } from '../support/items-db.js';

/**
 * A grouped incident: Alertmanager groups three instances of one service into one notification,
 * so the `instance` param has no common value. The card still offers the restart; pressing it
 * asks which alert it is for in a select menu, and the approved restart runs for that instance
 * only; another instance's restart can be requested while the first waits, the same one cannot.
 * A restore chosen for one alert lists and restores that alert's backups. A step with
 * `forEach: alert` runs once for each instance under one approval.
 */
const RUNBOOK = `
name: grouped-shop
match: { service: grouped-shop, alertname: ShopDown }
params:
  instance: { fromLabel: instance, pattern: 'host[0-9]:[0-9]{2,5}' }
  log: { default: '{{DIR}}/restarts.log', pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: restart
    title: Restart instance
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], "restart " + process.argv[2] + "\\n")', '{{log}}', '{{instance}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
  - id: restart-all
    title: Restart every instance
    action: exec
    forEach: alert
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], "all " + process.argv[2] + "\\n")', '{{log}}', '{{instance}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
`;

/** Each instance keeps its data in its own database, with its own backups. */
const DB_RUNBOOK = `
name: grouped-db
match: { service: grouped-shop, alertname: ShopDown }
params:
  host: { fromLabel: host, pattern: 'host[0-9]' }
  backup: { chosen: true, pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: restore
    title: Restore instance data
    action: restore
    with: { engine: sqlite, path: '{{DIR}}/live/{{host}}.db', from: '{{backup}}' }
    changes: true
    approval: { approvers: 1, selfApprove: false }
    pick: { param: backup, dir: '{{DIR}}/backups/{{host}}', prefix: db }
`;

const alert = (instance: string) => ({
  labels: { alertname: 'ShopDown', service: 'grouped-shop', severity: 'critical', instance, host: instance.split(':')[0] ?? '' },
  annotations: { summary: 'Shop is down' },
});

const INSTANCES = ['host1:3001', 'host2:3001', 'host3:3001'];

const drivers: Array<[string, () => Promise<ChatDriver>]> = [
  ['slack', slackDriver],
  ['discord', discordDriver],
];

describeWithAlertmanager('grouped incidents: per-alert targets', () => {
  describe.each(drivers)('on %s', (_name, makeDriver) => {
    let chat: ChatDriver;
    let t: TestBot;
    let am: RunningAlertmanager;
    let card: ChatMessage;
    let s: AlertScene | undefined;
    const log = () => (fs.existsSync(path.join(t.dir, 'restarts.log')) ? fs.readFileSync(path.join(t.dir, 'restarts.log'), 'utf8').split('\n').filter(Boolean).sort() : []);
    const waitForReply = (pattern: RegExp, what: string) => chat.waitFor(() => chat.replies(card).find((m) => pattern.test(m.text)), 20_000, what);

    beforeAll(async () => {
      s = await startAlertScene(await makeDriver(), { runbooks: { 'shop.yaml': RUNBOOK, 'db.yaml': DB_RUNBOOK } });
      ({ chat, t, am } = s);
      // Each host: a live database of one row, and one backup of (host number + 1) rows.
      for (const [n, host] of ['host1', 'host2', 'host3'].entries()) {
        fs.mkdirSync(path.join(t.dir, 'backups', host), { recursive: true });
        fs.mkdirSync(path.join(t.dir, 'live'), { recursive: true });
        createItemsDb(path.join(t.dir, 'live', `${host}.db`), ['live']);
        writeItemsBackup(path.join(t.dir, 'backups', host, 'db-20240101T000000Z.db.gz'), n + 2);
      }
      await am.fireAlerts(INSTANCES.map(alert));
      card = await chat.waitFor(() => chat.cards().find((c) => INSTANCES.every((i) => c.text.includes(i))), 30_000, 'one card for the three instances');
    }, 90_000);

    afterAll(() => s?.stop());

    it('offers the restart on a card whose instances differ, instead of calling the runbook unavailable', () => {
      expect(card.buttonIds).toContain('run-step:1:grouped-shop:restart');
      expect(card.buttonIds).toContain('run-step:1:grouped-shop:restart-all');
      expect(card.text).not.toMatch(/Not offered/);
    });

    /** Presses the step's button and returns the thread's question with its menu of alerts. */
    const askFor = async (step: string, title: string, nth: number) => {
      await chat.press('alice', `run-step:1:${step}`, card, card);
      return chat.waitFor(() => chat.replies(card).filter((m) => new RegExp(`wants to run ${title}: it runs for one alert`).test(m.text))[nth], 20_000, `the choice of alert for ${title}`);
    };
    /** The menu option standing for an instance: menus list the alerts in the order a responder reads them. */
    const optionFor = (ask: ChatMessage, instance: string) => ask.menuIds[INSTANCES.indexOf(instance)] as string;

    it('asks which alert the restart is for in a select menu, and runs it for the chosen instance only', async () => {
      const ask = await askFor('grouped-shop:restart', 'Restart instance', 0);
      // A select, not buttons: three options, one per firing instance, host1 to host3.
      expect(ask.buttonIds).toEqual([]);
      expect(ask.menuIds).toHaveLength(3);
      if (chat.platform === 'slack') expect([...ask.text.matchAll(/instance=(host\d:3001)/g)].map((m) => m[1]).slice(-3)).toEqual(INSTANCES);
      await chat.choose('alice', optionFor(ask, 'host2:3001'), ask, card);
      const request = await waitForReply(/asks to run Restart instance[\s\S]*for instance=host2:3001/, 'the request naming the alert');
      await chat.press('bob', request.buttonIds.find((id) => id.startsWith('approve:')) as string, request, card);
      await waitForReply(/Restart instance succeeded/, 'the result');
      expect(log()).toEqual(['restart host2:3001']);
      const audit = (await t.bot.engine.auditTrail(1)) ?? [];
      const requested = audit.find((e) => e.kind === 'step.requested' && (e.data as { step?: string }).step === 'restart');
      expect((requested?.data as { params?: Record<string, string> }).params).toMatchObject({ instance: 'host2:3001', '@alert-label': 'instance=host2:3001' });
      // The approval names the alert too, in the thread and the audit.
      const approved = audit.find((e) => e.kind === 'step.approved' && (e.data as { runId?: number }).runId === (requested?.data as { runId?: number }).runId);
      expect(approved?.data).toMatchObject({ alert: 'instance=host2:3001' });
      // The thread shows the run as one message: the request naming the alert, then its approval line.
      await waitForReply(/asks to run Restart instance[\s\S]*for instance=host2:3001[\s\S]*approved by bob[\w ]* \(1\/1\)/i, 'the approval in the message naming the alert');
    });

    it("lets host3's restart be requested while host1's waits, but not host1's twice", async () => {
      const first = await askFor('grouped-shop:restart', 'Restart instance', 1);
      await chat.choose('alice', optionFor(first, 'host1:3001'), first, card);
      const host1 = await waitForReply(/asks to run Restart instance[\s\S]*for instance=host1:3001/, 'the pending request for host1');
      const second = await askFor('grouped-shop:restart', 'Restart instance', 2);
      await chat.choose('alice', optionFor(second, 'host3:3001'), second, card);
      const host3 = await waitForReply(/asks to run Restart instance[\s\S]*for instance=host3:3001/, 'the request for host3 beside it');
      expect(host3.id).not.toBe(host1.id);
      // host1 again: refused, naming the pending request.
      const third = await askFor('grouped-shop:restart', 'Restart instance', 3);
      await chat.choose('carol', optionFor(third, 'host1:3001'), third, card);
      await chat.waitFor(() => chat.privateTexts('carol').find((x) => /Restart instance" for instance=host1:3001 was already requested by alice.* and is requested/i.test(x)), 10_000, 'the refusal of a second host1 request');
      const runs = await t.bot.store.transaction((tx) => tx.listStepRuns(1));
      expect(runs.filter((r) => r.step === 'restart' && r.state === 'requested').map((r) => r.params.instance).sort()).toEqual(['host1:3001', 'host3:3001']);
      // Both pending requests are withdrawn so the later cases start clean; nothing ran.
      for (const request of [host1, host3]) await chat.press('alice', request.buttonIds.find((id) => id.startsWith('deny:')) as string, request, card);
      for (const request of [host1, host3]) {
        await chat.waitFor(() => chat.replies(card).find((m) => m.id === request.id && /🚫 \d\d:\d\d:\d\d withdrawn by alice/i.test(m.text)), 10_000, 'the request withdrawn');
      }
      expect(log()).toEqual(['restart host2:3001']);
    });

    it("restores the chosen alert's backup on that alert's instance", async () => {
      const ask = await askFor('grouped-db:restore', 'Restore instance data', 0);
      expect(ask.menuIds).toHaveLength(3);
      await chat.choose('alice', optionFor(ask, 'host2:3001'), ask, card);
      // The picker lists host2's backups, and says so.
      const picker = await waitForReply(/wants to run Restore instance data for host=host2: choose one of the 1 most recent backups/, "host2's backups");
      expect(picker.text).toContain('backups/host2');
      await chat.press('alice', picker.buttonIds[0] as string, picker, card);
      const request = await waitForReply(/asks to run Restore instance data[\s\S]*db-20240101T000000Z\.db\.gz[\s\S]*for host=host2/, 'the restore request naming the file and the alert');
      expect(request.text).toContain('backups/host2/');
      await chat.press('bob', request.buttonIds.find((id) => id.startsWith('approve:')) as string, request, card);
      await waitForReply(/Restore instance data succeeded/, 'the restore result');
      // host2's database now holds its backup's 3 rows; the others still hold their one live row.
      expect(itemCount(path.join(t.dir, 'live', 'host2.db'))).toBe(3);
      expect(itemCount(path.join(t.dir, 'live', 'host1.db'))).toBe(1);
      expect(itemCount(path.join(t.dir, 'live', 'host3.db'))).toBe(1);
      const audit = (await t.bot.engine.auditTrail(1)) ?? [];
      const requested = audit.find((e) => e.kind === 'step.requested' && (e.data as { step?: string }).step === 'restore');
      expect((requested?.data as { params?: Record<string, string> }).params).toMatchObject({ host: 'host2', '@alert-label': 'host=host2' });
    });

    it('takes the alert named in a command (what a menu beyond its limit points to), held to the alerts that fire', async () => {
      const unknown = await chat.command('alice', 'runbook', 'run grouped-shop restart --incident 1 alert=host9:3001');
      expect(unknown.reply).toMatch(/The alert chosen for "Restart instance" is no longer firing in this incident/);
      const named = await chat.command('alice', 'runbook', 'run grouped-shop restart --incident 1 alert=host3:3001');
      expect(named.reply).toMatch(/Requested grouped-shop restart for incident #1/);
      const request = await waitForReply(/asks to run Restart instance[\s\S]*for instance=host3:3001/, 'the request for the named alert');
      await chat.press('alice', request.buttonIds.find((id) => id.startsWith('deny:')) as string, request, card);
      await chat.waitFor(() => chat.replies(card).find((m) => m.id === request.id && /🚫 \d\d:\d\d:\d\d withdrawn by alice/i.test(m.text)), 10_000, 'the request withdrawn');
      expect(log()).toEqual(['restart host2:3001']);
    });

    it('runs a forEach step once for each firing instance under one approval', async () => {
      await chat.press('alice', 'run-step:1:grouped-shop:restart-all', card, card);
      const request = await waitForReply(/asks to run Restart every instance[\s\S]*for each of 3 alerts/, 'the forEach request');
      await chat.press('bob', request.buttonIds.find((id) => id.startsWith('approve:')) as string, request, card);
      const done = await waitForReply(/Restart every instance succeeded: 3 of 3 alerts succeeded/, 'the forEach result');
      for (const instance of INSTANCES) expect(done.text).toContain(instance);
      expect(log().filter((l) => l.startsWith('all '))).toEqual(INSTANCES.map((i) => `all ${i}`));
    });
  });
});

/**
 * Thirty instances in one group: more than Discord's 25 options in a select. Slack's menu lists
 * all thirty; Discord's the first 25, says how many more there are and the command that chooses
 * one, and that command runs for an instance the menu could not show. The fakes refuse a select
 * beyond the platform's limit, as the platforms do.
 */
const MANY_RUNBOOK = `
name: many-shop
match: { service: many-shop, alertname: ShopDown }
params:
  instance: { fromLabel: instance, pattern: 'host[0-9]{1,2}:[0-9]{2,5}' }
steps:
  - id: restart
    title: Restart instance
    action: exec
    run: [node, -e, 'console.log("restarted " + process.argv[1])', '{{instance}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
`;

const MANY = Array.from({ length: 30 }, (_, i) => `host${i + 1}:3001`);

describeWithAlertmanager('grouped incidents: more alerts than a menu shows', () => {
  describe.each(drivers)('on %s', (_name, makeDriver) => {
    let chat: ChatDriver;
    let card: ChatMessage;
    let s: AlertScene | undefined;

    beforeAll(async () => {
      s = await startAlertScene(await makeDriver(), { runbooks: { 'many.yaml': MANY_RUNBOOK } });
      chat = s.chat;
      await s.am.fireAlerts(MANY.map((instance) => ({ labels: { alertname: 'ShopDown', service: 'many-shop', severity: 'critical', instance }, annotations: { summary: 'Shop is down' } })));
      card = await chat.waitFor(() => chat.cards().find((c) => /firing \(30 of 30\)/.test(c.text)), 30_000, 'one card for the thirty instances');
    }, 90_000);

    afterAll(() => s?.stop());

    it("lists as many alerts as the platform's select holds, says how many more, and takes one of those by command", async () => {
      await chat.press('alice', 'run-step:1:many-shop:restart', card, card);
      const ask = await chat.waitFor(() => chat.replies(card).find((m) => /wants to run Restart instance: it runs for one alert of this group; choose which \(30 firing\)/.test(m.text)), 20_000, 'the choice of alert');
      const command = '/runbook run many-shop restart --incident 1 alert=host30:3001';
      if (chat.platform === 'slack') {
        expect(ask.menuIds).toHaveLength(30);
        expect(ask.text).not.toMatch(/more not in this menu/);
      } else {
        expect(ask.menuIds).toHaveLength(25);
        expect(ask.text.replaceAll('`', '')).toContain(`5 more not in this menu (Discord shows 25); choose one by command: ${command}`);
      }
      const named = await chat.command('alice', 'runbook', command.slice('/runbook '.length));
      expect(named.reply).toMatch(/Requested many-shop restart for incident #1/);
      const request = await chat.waitFor(() => chat.replies(card).find((m) => /asks to run Restart instance[\s\S]*for instance=host30:3001/i.test(m.text)), 20_000, 'the request for host30');
      expect(request.buttonIds).toEqual([expect.stringMatching(/^approve:\d+$/), expect.stringMatching(/^deny:\d+$/)]);
    });
  });
});
