import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { firstBrokenLink } from '../../src/core/audit.js';
import type { AuditEvent } from '../../src/core/domain.js';
import { startFakeSlack, type FakeSlack, type StoredMessage } from '../fakes/slack-api.js';
import { describeWithAlertmanager, startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { ALERT_CHANNEL, WEBHOOK_TOKEN, buttonIds, buttonsOf, messageText, startTestBot, type TestBot } from '../support/bot-harness.js';

/**
 * The whole product loop with real parts: the real Alertmanager delivers webhooks to the real bot,
 * which talks to a fake Slack Web API through the real Slack SDK; button presses are signed as
 * Slack signs them; the approved step really runs a program that writes a file.
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

const ALICE = { userId: 'U0ALICE', userName: 'alice' };
const BOB = { userId: 'U0BOB', userName: 'bob' };
const CAROL = { userId: 'U0CAROL', userName: 'carol' };

const shopAlert = (instance: string) => ({
  labels: { alertname: 'ShopDown', service: 'e2e-shop', severity: 'critical', instance },
  annotations: { summary: 'Shop is down', description: 'No successful checkout in 5 minutes', runbook_url: 'https://runbooks.example/shop' },
  generatorURL: 'http://prometheus.example:9090/graph?g0.expr=up',
});

describeWithAlertmanager('core loop: Alertmanager → Slack card → approval → step → audit thread', () => {
  let slack: FakeSlack;
  let t: TestBot;
  let am: RunningAlertmanager;
  let card: StoredMessage;

  const replies = () => slack.threadReplies(ALERT_CHANNEL, card.ts);
  const replyTexts = () => replies().map((m) => m.text);
  const waitForReply = (pattern: RegExp, description: string) =>
    slack.waitFor(() => replies().find((m) => pattern.test(m.text)), 20_000, description);

  beforeAll(async () => {
    slack = await startFakeSlack({ usergroups: { S0ONCALL: ['U0BOB'] } });
    t = await startTestBot({ slack, runbooks: { 'shop.yaml': RUNBOOK }, env: { APPROVERS: 'S0ONCALL' } });
    am = await startAlertmanager({ webhookUrl: `${t.url}/webhooks/alertmanager`, bearerToken: WEBHOOK_TOKEN, groupBy: ['alertname', 'service'] });
  }, 60_000);

  afterAll(async () => {
    await am?.stop();
    await t?.stop();
    await slack?.close();
  });

  it('posts one card for the group, with a button per runbook step', async () => {
    await am.fireAlerts([shopAlert('shop-1:8080')]);
    card = await slack.waitFor(() => slack.topLevel(ALERT_CHANNEL)[0], 20_000, 'the incident card');
    const ids = buttonIds(card.blocks);
    expect(ids).toEqual(['run-step:1:e2e-service:check', 'run-step:1:e2e-service:restart']);
    const restart = buttonsOf(card.blocks).find((b) => b.action_id === 'run-step:1:e2e-service:restart');
    expect(restart?.style).toBe('danger');
    expect(restart?.confirm).toBeDefined();
    const text = messageText(card);
    expect(text).toContain('ShopDown');
    expect(text).toContain('Shop is down');
    expect(text).toContain('shop-1:8080');
    expect(text).toContain('https://runbooks.example/shop');
    await waitForReply(/Incident #1 opened/, 'the opening audit message in the thread');
  });

  it('adds an alert joining the group to the same card, never a second card', async () => {
    await am.fireAlerts([shopAlert('shop-1:8080'), shopAlert('shop-2:8080')]);
    await waitForReply(/1 alert joined: shop-2:8080/, 'the join message');
    await slack.waitFor(() => slack.message(ALERT_CHANNEL, card.ts)?.text.length && messageText(slack.message(ALERT_CHANNEL, card.ts)!).includes('shop-2:8080'), 10_000, 'card updated with the second instance');
    expect(slack.topLevel(ALERT_CHANNEL)).toHaveLength(1);
  });

  it('runs a read-only step without approval', async () => {
    const res = await t.press({ ...CAROL, actionId: 'run-step:1:e2e-service:check', messageTs: card.ts });
    expect(res.status).toBe(200);
    const done = await waitForReply(/Check service\* succeeded/, 'the read-only step result');
    expect(done.text).toContain('checked e2e-shop');
  });

  it('asks for approval before a changing step, and refuses the requester and non-approvers', async () => {
    const marker = path.join(t.dir, 'restarted.txt');
    const res = await t.press({ ...ALICE, actionId: 'run-step:1:e2e-service:restart', messageTs: card.ts });
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(3000);
    const request = await waitForReply(/alice asks to run \*Restart shop\* — needs 1 approval/, 'the approval request');
    expect(buttonIds(request.blocks)).toEqual(['approve:2', 'deny:2']);

    // A second press on the same button while the request is open does not queue another run.
    await t.press({ ...ALICE, actionId: 'run-step:1:e2e-service:restart', messageTs: card.ts });
    await slack.waitFor(() => slack.ephemerals.find((e) => e.user === ALICE.userId && /already requested/.test(e.text)), 10_000, 'duplicate request refusal');

    await t.press({ ...ALICE, actionId: 'approve:2', messageTs: request.ts, threadTs: card.ts });
    await slack.waitFor(() => slack.ephemerals.find((e) => e.user === ALICE.userId && /cannot approve it/.test(e.text)), 10_000, 'self-approval refusal');
    await t.press({ ...CAROL, actionId: 'approve:2', messageTs: request.ts, threadTs: card.ts });
    await slack.waitFor(() => slack.ephemerals.find((e) => e.user === CAROL.userId && /not an approver/.test(e.text)), 10_000, 'non-approver refusal');

    await new Promise((r) => setTimeout(r, 300));
    expect(fs.existsSync(marker)).toBe(false);
    expect(replyTexts().some((x) => /Started \*Restart shop/.test(x))).toBe(false);
  });

  it('runs the step exactly once after a double-clicked approval, and reports it in the thread', async () => {
    const marker = path.join(t.dir, 'restarted.txt');
    const request = replies().find((m) => /asks to run \*Restart shop/.test(m.text))!;
    const [a, b] = await Promise.all([
      t.press({ ...BOB, actionId: 'approve:2', messageTs: request.ts, threadTs: card.ts }),
      t.press({ ...BOB, actionId: 'approve:2', messageTs: request.ts, threadTs: card.ts }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const finished = await waitForReply(/Restart shop\* succeeded/, 'the step result');
    expect(finished.text).toMatch(/exit 0/);
    expect(fs.readFileSync(marker, 'utf8')).toBe('restarted e2e-shop');
    // Bob's second click was answered privately; the step ran once.
    await slack.waitFor(() => slack.ephemerals.find((e) => e.user === BOB.userId), 10_000, 'double-click answer');
    expect(replyTexts().filter((x) => /Started \*Restart shop/.test(x))).toHaveLength(1);
    // The card shows the step's state.
    await slack.waitFor(() => /Restart shop\*\s*—\s*succeeded/.test(JSON.stringify(slack.message(ALERT_CHANNEL, card.ts)?.blocks)), 10_000, 'card step state');
  });

  it('updates the card and the thread when the group resolves', async () => {
    await am.resolveAlerts([shopAlert('shop-1:8080'), shopAlert('shop-2:8080')]);
    await waitForReply(/Incident #1 resolved after/, 'the resolve message');
    await slack.waitFor(() => /Resolved after/.test(messageText(slack.message(ALERT_CHANNEL, card.ts)!)), 10_000, 'the resolved card');
    expect(slack.topLevel(ALERT_CHANNEL)).toHaveLength(1);
  });

  it('keeps the thread in the order of the audit trail, which is a whole hash chain', async () => {
    const res = await fetch(`${t.url}/incidents/1/audit`);
    expect(res.status).toBe(200);
    const { events } = (await res.json()) as { events: AuditEvent[] };
    const kinds = events.map((e) => e.kind);
    expect(kinds.filter((k) => !k.endsWith('.refused'))).toEqual([
      'alert.received',
      'alert.joined',
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
    // Every event that is not a private refusal is in the thread, in the same order.
    const posted = events.filter((e) => !e.kind.endsWith('.refused')).map((e) => e.text.slice(0, 30));
    await slack.waitFor(() => replies().length >= posted.length, 10_000, 'all thread replies');
    expect(replies().map((m) => m.text.slice(0, 30))).toEqual(posted.map((p) => p.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')));
  });
});

