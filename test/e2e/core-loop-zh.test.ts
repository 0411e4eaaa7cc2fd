import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAlertScene, type AlertScene } from '../support/alert-scene.js';
import { describeWithAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import type { TestBot } from '../support/bot-harness.js';
import { slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';
import { useLocale, type LocaleSetting } from '../../src/core/i18n/index.js';
import { englishIn } from '../support/no-english.js';

/**
 * The core loop with LOCALE=zh-CN and TZ=Asia/Shanghai on Slack (its fake, through the real SDK):
 * the real Alertmanager fires, the card and thread are in Chinese with times in UTC+8, a teammate
 * approves, the step runs, a typed check (verify over HTTP) runs, the group resolves. Every card, thread message and private answer is
 * checked for English left in it; what stays as written is the runbook's and the alert's data.
 */
const runbook = (healthUrl: string) => `
name: e2e-service
match: { service: e2e-shop, alertname: ShopDown }
params:
  service: { fromLabel: service, pattern: '[a-z0-9-]+' }
  marker: { default: '{{DIR}}/restarted.txt', pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: check
    title: 检查服务
    action: exec
    run: [node, -e, 'console.log("checked " + process.argv[1])', '{{service}}']
  - id: restart
    title: 重启商城
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], "restarted " + process.argv[2]); console.log("done")', '{{marker}}', '{{service}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
  - id: health
    title: 健康检查
    action: verify
    with: { kind: http, url: '${healthUrl}', bodyContains: 'status=ok', withinSeconds: 5 }
`;

const shopAlert = (instance: string) => ({
  labels: { alertname: 'ShopDown', service: 'e2e-shop', severity: 'critical', instance },
  annotations: { summary: '商城不可用', description: '5 分钟内没有成功的结账', runbook_url: 'https://runbooks.example/shop' },
  generatorURL: 'http://prometheus.example:9090/graph?g0.expr=up',
});

/** Data shown as written: label values, user names, the policy role APPROVERS makes, the output the steps print. */
const DATA = ['ShopDown', 'e2e-shop', 'critical', 'alice', 'bob', 'carol', 'approvers', 'checked e2e-shop', 'done', 'node'];

describeWithAlertmanager('core loop in Chinese (LOCALE=zh-CN, TZ=Asia/Shanghai) on Slack', () => {
  let chat: ChatDriver;
  let t: TestBot;
  let am: RunningAlertmanager;
  let card: ChatMessage;
  let previous: LocaleSetting;
  let s: AlertScene | undefined;
  let health: http.Server | undefined;

  const replies = () => chat.replies(card);
  const waitForReply = (pattern: RegExp, description: string) => chat.waitFor(() => replies().find((m) => pattern.test(m.text)), 20_000, description);
  const waitForPrivate = (user: 'alice' | 'bob' | 'carol', pattern: RegExp, description: string) =>
    chat.waitFor(() => chat.privateTexts(user).find((x) => pattern.test(x)), 10_000, description);
  /** What a message shows: its text and its blocks' texts, without the JSON around them. */
  const shown = (m: ChatMessage) => m.text.replace(/"(type|block_id|action_id|value|style|emoji)":("[^"]*"|true|false)/g, ' ').replace(/"(text|title|confirm|deny|placeholder|elements|fields|options|description|accessory)":/g, ' ').replace(/[{}[\],"]/g, ' ');

  beforeAll(async () => {
    previous = useLocale({ locale: 'en', timeZone: 'UTC' });
    // What the typed check asks: a real HTTP server answering "status=ok".
    const server = http.createServer((_req, res) => res.end('status=ok'));
    health = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const healthUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
    s = await startAlertScene(await slackDriver(), { runbooks: { 'shop.yaml': runbook(healthUrl) }, env: { LOCALE: 'zh-CN', TZ: 'Asia/Shanghai' } });
    ({ chat, t, am } = s);
  }, 60_000);

  afterAll(async () => {
    await s?.stop();
    health?.close();
    if (previous) useLocale(previous);
  });

  it('posts the card in Chinese, its times in UTC+8', async () => {
    await am.fireAlerts([shopAlert('shop-1:8080')]);
    card = await chat.waitFor(() => chat.cards()[0], 20_000, 'the incident card');
    expect(card.buttonIds).toEqual(['ack:1', 'run-step:1:e2e-service:check', 'run-step:1:e2e-service:restart', 'run-step:1:e2e-service:health']);
    for (const text of ['告警中', '级别', '开始时间', 'UTC+8', '认领', '检查服务', '重启商城', '商城不可用', '执行「重启商城」？', '需 1 人审批']) expect(card.text).toContain(text);
    expect(englishIn(shown(card), { allowed: DATA })).toEqual([]);
    await waitForReply(/事件 #1 已创建：e2e-shop：ShopDown（1 条告警，级别 critical）/, 'the opening message in the thread');
  });

  it('tells of a joining alert in Chinese', async () => {
    await am.fireAlerts([shopAlert('shop-1:8080'), shopAlert('shop-2:8080')]);
    await waitForReply(/新增 1 条告警：shop-2:8080/, 'the join message');
  });

  it('runs the read-only step and reports it in Chinese', async () => {
    await chat.press('carol', 'run-step:1:e2e-service:check', card, card);
    const done = await waitForReply(/检查服务 成功：退出码 0，耗时/, 'the read-only result');
    expect(done.text).toContain('checked e2e-shop');
  });

  it('asks for approval and answers refusals privately in Chinese', async () => {
    await chat.press('alice', 'run-step:1:e2e-service:restart', card, card);
    const request = await waitForReply(/alice 申请执行 重启商城，需要 1 人审批/, 'the approval request');
    expect(request.buttonIds).toEqual(['approve:2', 'deny:2']);
    expect(request.text).toContain('批准');
    await chat.press('alice', 'run-step:1:e2e-service:restart', card, card);
    await waitForPrivate('alice', /已由 alice 发起，当前状态：待审批/, 'the duplicate request refusal');
    await chat.press('alice', 'approve:2', request, card);
    await waitForPrivate('alice', /你不能自己审批/, 'the self-approval refusal');
    await chat.press('carol', 'approve:2', request, card);
    await waitForPrivate('carol', /你不是「重启商城」的审批人/, 'the non-approver refusal');
    expect(fs.existsSync(path.join(t.dir, 'restarted.txt'))).toBe(false);
  });

  it('runs the approved step once and shows it on the card', async () => {
    const request = replies().find((m) => /申请执行 重启商城/.test(m.text))!;
    await Promise.all([chat.press('bob', 'approve:2', request, card), chat.press('bob', 'approve:2', request, card)]);
    await waitForReply(/重启商城 成功：退出码 0/, 'the step result');
    // The second press lands while the step is approved, running or done: each says there is nothing more to approve.
    await waitForPrivate('bob', /你已对「重启商城」做过审批|当前状态：(已批准|执行中|成功)，无需再/, 'the double-click answer');
    expect(fs.readFileSync(path.join(t.dir, 'restarted.txt'), 'utf8')).toBe('restarted e2e-shop');
    await chat.waitFor(() => /重启商城\s*—\s*成功/.test(chat.card(card.id)?.text ?? ''), 10_000, 'the card step state');
    // The request's message is edited to say who approved it, at a time of day in UTC+8.
    const hour = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', hourCycle: 'h23' }).format(new Date());
    await chat.waitFor(() => replies().find((m) => new RegExp(`👍 ${hour}:\\d\\d:\\d\\d 已由 bob 批准`).test(m.text)), 10_000, 'the settled request');
  });

  it('runs a typed check and reports it in Chinese: what it does, its answer and its findings', async () => {
    await chat.press('carol', 'run-step:1:e2e-service:health', card, card);
    const done = await waitForReply(/健康检查 成功/, 'the typed check result');
    expect(done.text).toContain('HTTP 200');
  });

  it('resolves in Chinese, and no English is left in the card, the thread or the answers', async () => {
    await am.resolveAlerts([shopAlert('shop-1:8080'), shopAlert('shop-2:8080')]);
    await waitForReply(/事件 #1 已恢复，持续/, 'the resolve message');
    await chat.waitFor(() => /已恢复，持续/.test(chat.card(card.id)?.text ?? ''), 10_000, 'the resolved card');
    await waitForReply(/审计已封存/, 'the audit seal');

    const final = chat.card(card.id)!;
    const messages = [final, ...replies()];
    const left = messages.map((m) => ({ text: m.text.slice(0, 60), english: englishIn(shown(m), { allowed: DATA }) })).filter((x) => x.english.length > 0);
    expect(left).toEqual([]);
    const answers = (['alice', 'bob', 'carol'] as const).flatMap((u) => chat.privateTexts(u));
    expect(answers.length).toBeGreaterThanOrEqual(3);
    expect(answers.map((a) => ({ a, english: englishIn(a, { allowed: DATA }) })).filter((x) => x.english.length > 0)).toEqual([]);
  });

  it('answers commands in Chinese', async () => {
    const show = await chat.command('alice', 'incident', 'show 1');
    expect(show.reply).toContain('负责人：carol');
    const dry = await chat.command('alice', 'runbook', 'dry-run e2e-service check --incident 1');
    expect(dry.reply).toContain('未实际执行');
    const list = await chat.command('alice', 'runbook', 'list');
    const usage = await chat.command('alice', 'incident', 'frobnicate');
    expect(usage.reply).toContain('用法');
    const replies = [show, dry, list, usage].map((r) => r.reply);
    expect(replies.map((r) => ({ r, english: englishIn(r, { allowed: [...DATA, 'e2e-service', 'check', 'restart', 'health', 'exec', 'verify'] }) })).filter((x) => x.english.length > 0)).toEqual([]);
  });
});
