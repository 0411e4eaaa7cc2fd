import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithAlertmanager, startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { WEBHOOK_TOKEN, startTestBot, type TestBot } from '../support/bot-harness.js';
import { discordDriver, slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';

/**
 * A grouped incident: Alertmanager groups three instances of one service into one notification,
 * so the `instance` param has no common value. The card still offers the restart; pressing it
 * asks which alert it is for, and the approved restart runs for that instance only. A step with
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

const alert = (instance: string) => ({ labels: { alertname: 'ShopDown', service: 'grouped-shop', severity: 'critical', instance }, annotations: { summary: 'Shop is down' } });
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
    const log = () => (fs.existsSync(path.join(t.dir, 'restarts.log')) ? fs.readFileSync(path.join(t.dir, 'restarts.log'), 'utf8').split('\n').filter(Boolean).sort() : []);
    const waitForReply = (pattern: RegExp, what: string) => chat.waitFor(() => chat.replies(card).find((m) => pattern.test(m.text)), 20_000, what);

    beforeAll(async () => {
      chat = await makeDriver();
      t = await startTestBot({ runbooks: { 'shop.yaml': RUNBOOK }, env: chat.botEnv() });
      chat.attach(t.url);
      am = await startAlertmanager({ webhookUrl: `${t.url}/webhooks/alertmanager`, bearerToken: WEBHOOK_TOKEN, groupBy: ['alertname', 'service'] });
      await am.fireAlerts(INSTANCES.map(alert));
      card = await chat.waitFor(() => chat.cards().find((c) => INSTANCES.every((i) => c.text.includes(i))), 30_000, 'one card for the three instances');
    }, 90_000);

    afterAll(async () => {
      await am?.stop();
      await t?.stop();
      await chat?.close();
    });

    it('offers the restart on a card whose instances differ, instead of calling the runbook unavailable', () => {
      expect(card.buttonIds).toContain('run-step:1:grouped-shop:restart');
      expect(card.buttonIds).toContain('run-step:1:grouped-shop:restart-all');
      expect(card.text).not.toMatch(/Not offered/);
    });

    it('asks which alert the restart is for, and runs it for the chosen instance only', async () => {
      await chat.press('alice', 'run-step:1:grouped-shop:restart', card, card);
      const ask = await waitForReply(/wants to run Restart instance: it runs for one alert/, 'the choice of alert');
      expect(ask.buttonIds).toHaveLength(3);
      // The choices are in the order a responder reads them: host1, host2, host3.
      if (chat.platform === 'slack') expect([...ask.text.matchAll(/instance=(host\d:3001)/g)].map((m) => m[1]).slice(-3)).toEqual(INSTANCES);
      const chooseHost2 = ask.buttonIds[INSTANCES.indexOf('host2:3001')] as string;
      await chat.press('alice', chooseHost2, ask, card);
      const request = await waitForReply(/asks to run Restart instance[\s\S]*for instance=host2:3001/, 'the request naming the alert');
      await chat.press('bob', request.buttonIds.find((id) => id.startsWith('approve:')) as string, request, card);
      await waitForReply(/Restart instance succeeded/, 'the result');
      expect(log()).toEqual(['restart host2:3001']);
      const audit = (await t.bot.engine.auditTrail(1)) ?? [];
      const requested = audit.find((e) => e.kind === 'step.requested' && (e.data as { step?: string }).step === 'restart');
      expect((requested?.data as { params?: Record<string, string> }).params?.instance).toBe('host2:3001');
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
