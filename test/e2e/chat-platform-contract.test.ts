import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertmanagerNotification } from '../../src/core/alertmanager-payload.js';
import type { AuditEvent } from '../../src/core/domain.js';
import { offersFor } from '../../src/core/offers.js';
import { loadRunbooks } from '../../src/runbooks/loader.js';
import { startAlertScene, type AlertScene } from '../support/alert-scene.js';
import { describeWithAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { discordDriver, slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';
import { consoleDriver } from '../support/console-driver.js';
import { dingtalkDriver, feishuDriver } from '../support/dingtalk-feishu-drivers.js';
import { loadFixture } from '../support/fixtures.js';

/**
 * The ChatPlatform contract: every chat adapter renders the same card model and turns what its
 * users do into the same engine actions. One suite, run through each platform's fake as its real
 * API and gateway behave (Slack, Discord, DingTalk, Feishu) and through the console's own pages:
 * a card is posted once and updated in place, replies go to its thread, it shows at most four
 * primary buttons and every other step in its "More steps" menu, a choice in the menu is the same
 * action as a button press, and refusals reach only the person they are for. A step of a grouped
 * incident asks in its thread which alert it is for, in a menu (a select; DingTalk: buttons), and
 * the choice is named in the request.
 */
const RUNBOOK = `
name: contract-shop
match: { service: contract-shop, alertname: ShopDown }
params:
  service: { fromLabel: service, pattern: '[a-z0-9-]+' }
steps:
  - id: check
    title: Check service
    action: exec
    run: [node, -e, 'console.log("checked " + process.argv[1])', '{{service}}']
  - id: logs
    title: Show logs
    action: exec
    run: [node, -e, 'console.log("no errors")']
  - id: restart
    title: Restart shop
    action: exec
    run: [node, -e, 'console.log("restarted")']
    changes: true
    approval: { approvers: 1, selfApprove: false }
  - id: disk
    title: Disk usage
    action: exec
    run: [node, -e, 'console.log("disk 42%")']
  - id: queue
    title: Queue depth
    action: exec
    run: [node, -e, 'console.log("queue 0")']
  - id: flush
    title: Flush caches
    primary: true
    action: exec
    run: [node, -e, 'console.log("flushed")']
    changes: true
    approval: { approvers: 1, selfApprove: false }
  - id: rotate
    title: Rotate logs
    action: exec
    run: [node, -e, 'console.log("rotated")']
    changes: true
    approval: { approvers: 1, selfApprove: false }
`;

/** A runbook whose `instance` differs across the grouped alerts: each alert is a target to choose. */
const GROUPED_RUNBOOK = `
name: contract-grouped
match: { service: contract-grouped, alertname: ShopDown }
params:
  instance: { fromLabel: instance, pattern: 'host[0-9]:[0-9]{2,5}' }
steps:
  - id: restart
    title: Restart instance
    action: exec
    run: [node, -e, 'console.log("restarted " + process.argv[1])', '{{instance}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
`;

const step = (id: string) => `run-step:1:contract-shop:${id}`;

const shopAlert = {
  labels: { alertname: 'ShopDown', service: 'contract-shop', severity: 'critical', instance: 'shop-1:8080' },
  annotations: { summary: 'Shop is down' },
};

const drivers: Array<[string, () => Promise<ChatDriver>]> = [
  ['slack', slackDriver],
  ['discord', discordDriver],
  ['console', consoleDriver],
  ['dingtalk', () => dingtalkDriver()],
  ['feishu', feishuDriver],
];

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describeWithAlertmanager('ChatPlatform contract', () => {
  describe.each(drivers)('on %s', (_name, makeDriver) => {
    let chat: ChatDriver;
    let t: TestBot;
    let am: RunningAlertmanager;
    let card: ChatMessage;
    let s: AlertScene | undefined;

    const current = () => chat.card(card.id) ?? card;
    const waitForReply = (pattern: RegExp, what: string) => chat.waitFor(() => chat.replies(card).find((m) => pattern.test(m.text)), 20_000, what);
    const waitForPrivate = (user: 'alice' | 'bob' | 'carol', pattern: RegExp, what: string) => chat.waitFor(() => chat.privateTexts(user).find((x) => pattern.test(x)), 10_000, what);
    const audit = async () => {
      const res = await fetch(`${t.url}/incidents/1/audit`);
      return ((await res.json()) as { events: AuditEvent[] }).events;
    };

    beforeAll(async () => {
      s = await startAlertScene(await makeDriver(), { runbooks: { 'shop.yaml': RUNBOOK, 'grouped.yaml': GROUPED_RUNBOOK } });
      ({ chat, t, am } = s);
    }, 60_000);
    afterAll(() => s?.stop());

    it('posts one card with at most four primary buttons and every other step in its menu, in runbook order', async () => {
      await am.fireAlerts([shopAlert]);
      card = await chat.waitFor(() => chat.cards()[0], 20_000, 'the incident card');
      // Acknowledge, the step marked primary, then the first steps; the rest wait in "More steps".
      expect(card.buttonIds).toEqual(['ack:1', step('flush'), step('check'), step('logs')]);
      expect(card.menuIds).toEqual([step('restart'), step('disk'), step('queue'), step('rotate')]);
      // A changing step is shown as dangerous wherever it is.
      expect(card.danger[step('flush')]).toBe(true);
      expect(card.danger[step('restart')]).toBe(true);
      expect(card.danger[step('check')]).toBe(false);
      expect(card.danger[step('disk')]).toBe(false);
      expect(card.text).toContain('Shop is down');
    });

    it('replies in the card\'s thread', async () => {
      await waitForReply(/Incident #1 opened/, 'the opening message in the thread');
    });

    it('runs a read-only step chosen in the menu, as a press of its button would', async () => {
      const chosen = await chat.choose('carol', step('disk'), card, card);
      expect(chosen.status).toBeLessThan(400);
      const pressed = await chat.press('carol', step('check'), card, card);
      expect(pressed.status).toBeLessThan(400);
      expect((await waitForReply(/Disk usage succeeded/, 'the result of the step chosen in the menu')).text).toContain('disk 42%');
      expect((await waitForReply(/Check service succeeded/, 'the result of the pressed step')).text).toContain('checked contract-shop');
      // Both reached the engine as the same kind of request, by the same person.
      const requested = (await audit()).filter((e) => e.kind === 'step.requested');
      expect(requested.map((e) => [e.data.runbook, e.data.step])).toEqual([
        ['contract-shop', 'disk'],
        ['contract-shop', 'check'],
      ]);
      expect(requested[0]?.actor).toBe(requested[1]?.actor);
      expect(requested[0]?.text.replace('Disk usage', 'X')).toBe(requested[1]?.text.replace('Check service', 'X'));
    });

    it('updates the card in place: the first request made its requester the owner, and the freed place goes to the next step', async () => {
      const updated = await chat.waitFor(() => (/Owner/.test(current().text) ? current() : undefined), 15_000, 'the acknowledged card');
      expect(updated.text).toMatch(/carol/i);
      expect(chat.cards()).toHaveLength(1);
      expect(updated.id).toBe(card.id);
      expect(updated.buttonIds).toEqual([step('flush'), step('check'), step('logs'), step('restart')]);
      expect(updated.menuIds).toEqual([step('disk'), step('queue'), step('rotate')]);
    });

    it('asks for approval for a changing step chosen in the menu, exactly as for its button, and refuses a second request privately', async () => {
      await chat.choose('alice', step('rotate'), current(), card);
      const request = await waitForReply(/alice( oncall)? asks to run Rotate logs — needs 1 approval/i, 'the approval request from the menu');
      expect(request.buttonIds).toEqual([expect.stringMatching(/^approve:\d+$/), expect.stringMatching(/^deny:\d+$/)]);
      await chat.press('alice', step('flush'), current(), card);
      await waitForReply(/alice( oncall)? asks to run Flush caches — needs 1 approval/i, 'the approval request from the button');
      // The same step chosen again is the same request: refused, and only alice hears it.
      await chat.choose('alice', step('rotate'), current(), card);
      await waitForPrivate('alice', /already requested/, 'the refusal of a second request');
      expect(chat.privateTexts('bob').some((x) => /already requested/.test(x))).toBe(false);
      expect(chat.privateTexts('carol').some((x) => /already requested/.test(x))).toBe(false);
    });

    it('tells a requester privately that they cannot approve their own request', async () => {
      const request = chat.replies(card).find((m) => /asks to run Rotate logs/.test(m.text)) as ChatMessage;
      await chat.press('alice', request.buttonIds[0] ?? '', request, card);
      await waitForPrivate('alice', /cannot approve/, 'the self-approval refusal');
    });

    it('asks which alert of a grouped incident a step is for in a menu (DingTalk: buttons), and the choice is named in the request', async () => {
      const instances = ['host1:3001', 'host2:3001', 'host3:3001'];
      await am.fireAlerts(instances.map((instance) => ({ labels: { alertname: 'ShopDown', service: 'contract-grouped', severity: 'warning', instance }, annotations: { summary: 'Grouped shop is down' } })));
      const grouped = await chat.waitFor(() => chat.cards().find((c) => c.text.includes('contract-grouped') && instances.every((i) => c.text.includes(i))), 30_000, 'one card for the three instances');
      const id = /#(\d+) ShopDown on contract-grouped/.exec(grouped.text)?.[1] ?? '';
      await chat.press('alice', `run-step:${id}:contract-grouped:restart`, grouped, grouped);
      const ask = await chat.waitFor(() => chat.replies(grouped).find((m) => /wants to run\s*Restart instance\s*: it runs for one alert/.test(m.text)), 20_000, 'the choice of alert');
      // A select wherever the platform has one; DingTalk's cards have none, so there it is buttons.
      const options = chat.platform === 'dingtalk' ? ask.buttonIds : ask.menuIds;
      expect(options).toHaveLength(3);
      expect(options.every((o) => /^pick:\d+$/.test(o))).toBe(true);
      if (chat.platform !== 'dingtalk') expect(ask.buttonIds).toEqual([]);
      const host2 = options[1] ?? '';
      await (chat.platform === 'dingtalk' ? chat.press('alice', host2, ask, grouped) : chat.choose('alice', host2, ask, grouped));
      const request = await chat.waitFor(() => chat.replies(grouped).find((m) => /asks to run Restart instance[\s\S]*for instance=host2:3001/i.test(m.text)), 20_000, 'the request naming host2');
      expect(request.buttonIds).toEqual([expect.stringMatching(/^approve:\d+$/), expect.stringMatching(/^deny:\d+$/)]);
    });
  });
});

/**
 * The proof the card layout was made for: a GitCortex outage matches the shipped GitCortex
 * runbooks, twenty steps. Its card shows at most four buttons and offers every other step in
 * its menu, on every platform.
 */
describe('a GitCortexDown card of the shipped GitCortex runbooks', () => {
  const runbooks = Object.fromEntries(
    fs
      .readdirSync(path.join(REPO_ROOT, 'manifests', 'runbooks'))
      .filter((f) => /^gitcortex.*\.yaml$/.test(f))
      .map((f) => [f, fs.readFileSync(path.join(REPO_ROOT, 'manifests', 'runbooks', f), 'utf8')]),
  );

  const fixture = loadFixture<AlertmanagerNotification>('firing-single.json');

  describe.each(drivers)('on %s', (_name, makeDriver) => {
    let chat: ChatDriver;
    let t: TestBot;

    beforeAll(async () => {
      chat = await makeDriver();
      t = await startTestBot({ runbooks, env: chat.botEnv() });
      chat.attach(t.url);
    }, 60_000);

    afterAll(async () => {
      await t?.stop();
      await chat?.close();
    });

    it('shows at most four primary buttons and every other step in the menu', async () => {
      const res = await t.postWebhook(fixture);
      expect(res.status).toBe(200);
      const card = await chat.waitFor(() => chat.cards()[0], 20_000, 'the GitCortexDown card');
      expect(card.buttonIds.length).toBeLessThanOrEqual(4);
      expect(card.buttonIds).toEqual(['ack:1', 'run-step:1:gitcortex:health', 'run-step:1:gitcortex-down:port', 'run-step:1:gitcortex-down:disk']);
      const reachable = [...card.buttonIds, ...card.menuIds];
      expect(new Set(reachable).size).toBe(reachable.length);
      // Every step the runbooks offer for this alert, each once: as a button or in the menu.
      const labels = fixture.commonLabels;
      const { offers } = offersFor(await loadRunbooks(t.config.runbooksDirs), labels);
      expect(offers).toHaveLength(20);
      expect(new Set(reachable.filter((id) => id.startsWith('run-step:')))).toEqual(new Set(offers.map((o) => `run-step:1:${o.runbook.name}:${o.step.id}`)));
      for (const id of ['gitcortex/restart', 'gitcortex-recovery/restore', 'gitcortex-recovery/rollback-release', 'gitcortex-down/data-disk', 'gitcortex/top-cpu']) {
        expect(card.menuIds).toContain(`run-step:1:${id.replace('/', ':')}`);
      }
      expect(card.danger['run-step:1:gitcortex:restart']).toBe(true);
      expect(card.danger['run-step:1:gitcortex:journal']).toBe(false);
    });
  });
});
