import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstBrokenLink } from '../../src/core/audit.js';
import type { AuditEvent } from '../../src/core/domain.js';
import { startAlertScene, type AlertScene } from '../support/alert-scene.js';
import { describeWithAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import type { TestBot } from '../support/bot-harness.js';
import { discordDriver, normalise, slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';
import { dingtalkDriver, feishuDriver } from '../support/dingtalk-feishu-drivers.js';

/**
 * The whole product loop with real parts, once per chat platform: the real Alertmanager delivers
 * webhooks to the real bot, which talks to a fake of the platform's API through the platform's
 * real SDK; presses are signed as the platform signs them; the approved step really runs a
 * program that writes a file.
 */
const RUNBOOK = `
name: e2e-service
match: { service: e2e-shop, alertname: ShopDown }
params:
  service: { fromLabel: service, pattern: '[a-z0-9-]+' }
  marker: { default: '{{DIR}}/restarted.txt', pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: check
    title: Check service
    action: exec
    run: [node, -e, 'console.log("checked " + process.argv[1])', '{{service}}']
  - id: restart
    title: Restart shop
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], "restarted " + process.argv[2]); console.log("done")', '{{marker}}', '{{service}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
`;

const shopAlert = (instance: string) => ({
  labels: { alertname: 'ShopDown', service: 'e2e-shop', severity: 'critical', instance },
  annotations: { summary: 'Shop is down', description: 'No successful checkout in 5 minutes', runbook_url: 'https://runbooks.example/shop' },
  generatorURL: 'http://prometheus.example:9090/graph?g0.expr=up',
});

const drivers: Array<[string, () => Promise<ChatDriver>]> = [
  ['slack', slackDriver],
  ['discord', discordDriver],
  ['dingtalk', dingtalkDriver],
  ['feishu', feishuDriver],
];

describeWithAlertmanager('core loop: Alertmanager → card → approval → step → audit thread', () => {
  describe.each(drivers)('on %s', (_name, makeDriver) => {
    let chat: ChatDriver;
    let t: TestBot;
    let am: RunningAlertmanager;
    let card: ChatMessage;
    let s: AlertScene | undefined;

    const replies = () => chat.replies(card);
    const waitForReply = (pattern: RegExp, description: string) => chat.waitFor(() => replies().find((m) => pattern.test(m.text)), 20_000, description);
    const waitForPrivate = (user: 'alice' | 'bob' | 'carol', pattern: RegExp, description: string) =>
      chat.waitFor(() => chat.privateTexts(user).find((x) => pattern.test(x)), 10_000, description);

    beforeAll(async () => {
      s = await startAlertScene(await makeDriver(), { runbooks: { 'shop.yaml': RUNBOOK } });
      ({ chat, t, am } = s);
    }, 60_000);
    afterAll(() => s?.stop());

    it('posts one card for the group, with a button per runbook step', async () => {
      await am.fireAlerts([shopAlert('shop-1:8080')]);
      card = await chat.waitFor(() => chat.cards()[0], 20_000, 'the incident card');
      expect(card.buttonIds).toEqual(['ack:1', 'run-step:1:e2e-service:check', 'run-step:1:e2e-service:restart']);
      expect(card.danger['run-step:1:e2e-service:restart']).toBe(true);
      expect(card.danger['run-step:1:e2e-service:check']).toBe(false);
      for (const text of ['ShopDown', 'Shop is down', 'shop-1:8080', 'https://runbooks.example/shop']) expect(card.text).toContain(text);
      await waitForReply(/Incident #1 opened/, 'the opening audit message in the thread');
    });

    it('adds an alert joining the group to the same card, never a second card', async () => {
      await am.fireAlerts([shopAlert('shop-1:8080'), shopAlert('shop-2:8080')]);
      await waitForReply(/1 alert joined: shop-2:8080/, 'the join message');
      await chat.waitFor(() => chat.card(card.id)?.text.includes('shop-2:8080'), 10_000, 'card updated with the second instance');
      expect(chat.cards()).toHaveLength(1);
    });

    it('runs a read-only step without approval', async () => {
      const res = await chat.press('carol', 'run-step:1:e2e-service:check', card, card);
      expect(res.status).toBe(200);
      const done = await waitForReply(/Check service succeeded/, 'the read-only step result');
      expect(done.text).toContain('checked e2e-shop');
    });

    it('asks for approval before a changing step, and refuses the requester and non-approvers', async () => {
      const marker = path.join(t.dir, 'restarted.txt');
      const res = await chat.press('alice', 'run-step:1:e2e-service:restart', card, card);
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(3000);
      const request = await waitForReply(/alice( oncall)? asks to run Restart shop — needs 1 approval/i, 'the approval request');
      expect(request.buttonIds).toEqual(['approve:2', 'deny:2']);

      // A second press on the same button while the request is open does not queue another run.
      await chat.press('alice', 'run-step:1:e2e-service:restart', card, card);
      await waitForPrivate('alice', /already requested/, 'duplicate request refusal');
      await chat.press('alice', 'approve:2', request, card);
      await waitForPrivate('alice', /cannot approve it/, 'self-approval refusal');
      await chat.press('carol', 'approve:2', request, card);
      await waitForPrivate('carol', /not an approver/, 'non-approver refusal');

      await new Promise((r) => setTimeout(r, 300));
      expect(fs.existsSync(marker)).toBe(false);
      expect(replies().some((m) => /Started Restart shop/.test(m.text))).toBe(false);
    });

    it('runs the step exactly once after a double-clicked approval, and reports it in the thread', async () => {
      const marker = path.join(t.dir, 'restarted.txt');
      const request = replies().find((m) => /asks to run Restart shop/.test(m.text))!;
      const [a, b] = await Promise.all([chat.press('bob', 'approve:2', request, card), chat.press('bob', 'approve:2', request, card)]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const finished = await waitForReply(/Restart shop succeeded/, 'the step result');
      expect(finished.text).toMatch(/exit 0/);
      expect(fs.readFileSync(marker, 'utf8')).toBe('restarted e2e-shop');
      // Bob's second click was answered privately; the step ran once.
      await waitForPrivate('bob', /already/, 'double-click answer');
      expect(replies().filter((m) => /Started Restart shop/.test(m.text))).toHaveLength(1);
      await chat.waitFor(() => /Restart shop\s*—\s*succeeded/.test(chat.card(card.id)?.text ?? ''), 10_000, 'card step state');
    });

    it('updates the card and the thread when the group resolves', async () => {
      await am.resolveAlerts([shopAlert('shop-1:8080'), shopAlert('shop-2:8080')]);
      await waitForReply(/Incident #1 resolved after/, 'the resolve message');
      await chat.waitFor(() => /Resolved after/.test(chat.card(card.id)?.text ?? ''), 10_000, 'the resolved card');
      expect(chat.cards()).toHaveLength(1);
    });

    it('keeps the thread in the order of the audit trail, which is a whole hash chain', async () => {
      const res = await fetch(`${t.url}/incidents/1/audit`);
      expect(res.status).toBe(200);
      const { events } = (await res.json()) as { events: AuditEvent[] };
      const kinds = events.map((e) => e.kind);
      expect(kinds.filter((k) => !k.endsWith('.refused'))).toEqual([
        'alert.received',
        'alert.joined',
        // Carol's read-only check makes her the owner: whoever works on an unowned incident owns it.
        'incident.ack',
        'step.requested',
        'step.started',
        'step.finished',
        'step.requested',
        'step.approved',
        'step.started',
        'step.finished',
        'incident.resolved',
      ]);
      // Alice's self-approval, Carol's approval and Bob's second click; Alice's repeated request.
      expect(kinds.filter((k) => k === 'approval.refused')).toHaveLength(3);
      expect(kinds.filter((k) => k === 'step.refused')).toHaveLength(1);
      expect(firstBrokenLink(events)).toBeUndefined();
      // Every event that is not a private refusal is in the thread, in the same order; the events of
      // a run after its request are lines of the request's message, not messages of their own.
      const folded = (e: AuditEvent) => e.kind.startsWith('step.') && e.kind !== 'step.requested';
      const posted = events.filter((e) => !e.kind.endsWith('.refused') && !folded(e)).map((e) => normalise(e.text).slice(0, 24));
      // The seal posted after the resolution is about the trail, not a record of it.
      const recorded = () => replies().filter((m) => !m.text.startsWith('Audit sealed:'));
      await chat.waitFor(() => recorded().length >= posted.length, 10_000, 'all thread replies');
      // A run's message gives each line its time, which the record keeps in a field of its own.
      expect(recorded().map((m) => m.text.replace(/ \d\d:\d\d:\d\d /, ' ').slice(0, 24))).toEqual(posted);
      // Two runs, two messages: each holds its run's whole story, its command line once.
      const check = recorded().find((m) => /runs Check service/.test(m.text))!;
      expect(check.text).toMatch(/🔎 \d\d:\d\d:\d\d carol[^\n]* runs Check service[^\n]*\n▶️ \d\d:\d\d:\d\d Started Check service[^\n]*\n✅ \d\d:\d\d:\d\d Check service succeeded/i);
      const restart = recorded().find((m) => /asks to run Restart shop/.test(m.text))!;
      expect(restart.text).toMatch(/🙋 [^\n]*alice[^\n]* asks to run Restart shop[^\n]*\n👍 \d\d:\d\d:\d\d approved by bob[^\n]*\n▶️ [^\n]*Started Restart shop[^\n]*\n✅ \d\d:\d\d:\d\d Restart shop succeeded/i);
      expect(restart.text.split("appendFileSync").length - 1).toBe(1);
    });
  });
});
