import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMain, layout, type Viewer } from '../../src/bot/console/render.js';
import { sampleAlert } from '../../src/bot/console/sample-alert.js';
import { useLocale, type LocaleSetting } from '../../src/core/i18n/index.js';
import type { RunnerStatus } from '../../src/core/use-cases.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { ConsoleClient, formsOf, sectionOf, textOf, waitFor, type ConsoleForm } from '../support/console-client.js';
import { englishIn } from '../support/no-english.js';

/**
 * The web console with LOCALE=zh-CN and TZ=Asia/Shanghai on a real bot: the incident list, the
 * incident page (card, thread, private answers) through a whole request → refusal → approval →
 * run, the refusal pages (400, 403, 404), the token gate's 401 answers, the read-only console
 * beside Slack, and the runners table. What a page shows (its text, and the titles, labels and
 * confirmations in its attributes) holds no English but data: the sample alert's labels and
 * annotations, user names, the step's output.
 */
const RUNBOOK = `
name: demo-shop
match: { service: demo-shop, alertname: ShopDown }
params:
  marker: { default: '{{DIR}}/restarted.txt', pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: check
    title: 检查商城
    action: exec
    run: [node, -e, 'console.log("checked")']
  - id: restart
    title: 重启商城
    action: exec
    run: [node, -e, 'require("fs").writeFileSync(process.argv[1], "restarted"); console.log("done")', '{{marker}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
`;

/** The sample alert's data and the names shown as written. */
const DATA = ['ShopDown on demo-shop', 'ShopDown', 'demo-shop', 'The demo shop is down', 'has not answered its health check for 1 minute; checkouts are failing.', 'critical', 'alice', 'bob', 'checked', 'done', 'approvers', 'slack', 'console', 'abc'];

/** What a browser shows of a page: its text, its title, and the attributes people read (tooltips, labels, confirmations). */
function shownOf(html: string): string {
  const attributes = [...html.matchAll(/\s(?:title|aria-label|data-confirm|placeholder)="([^"]*)"/g)].map((m) => m[1] ?? '');
  // Code and output stay as written: kept as the code spans the English check knows.
  const body = html
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1>/g, ' ')
    .replace(/<pre>([\s\S]*?)<\/pre>/g, '```$1```')
    .replace(/<code>([\s\S]*?)<\/code>/g, '`$1`');
  return [textOf(body), ...attributes.map(textOf)].join('\n');
}

const english = (html: string) => englishIn(shownOf(html), { allowed: DATA });

describe('web console in Chinese (LOCALE=zh-CN, TZ=Asia/Shanghai)', () => {
  let previous: LocaleSetting;
  beforeAll(() => {
    previous = useLocale({ locale: 'en', timeZone: 'UTC' });
  });
  afterAll(() => {
    useLocale(previous);
  });

  describe('interactive, the whole loop', () => {
    let t: TestBot;
    let alice: ConsoleClient;
    let bob: ConsoleClient;
    const seen: Array<{ what: string; html: string }> = [];
    const page = async (client: ConsoleClient, path = '/console/incidents/1') => {
      const res = await client.get(path);
      expect(res.status).toBe(200);
      seen.push({ what: path, html: res.text });
      return res.text;
    };
    const pressForm = (html: string, buttonId: string): ConsoleForm | undefined => formsOf(html).find((f) => f.action === '/console/press' && f.fields.buttonId === buttonId);

    beforeAll(async () => {
      t = await startTestBot({ runbooks: { 'demo-shop.yaml': RUNBOOK }, env: { CONSOLE: 'on', LOCALE: 'zh-CN', TZ: 'Asia/Shanghai' } });
      alice = new ConsoleClient(t.url);
      bob = new ConsoleClient(t.url);
      const home = await bob.get('/');
      const beBob = formsOf(home.text).find((f) => f.action === '/console/user' && f.fields.user === 'bob')!;
      expect((await bob.submit(beBob)).status).toBe(303);
    }, 60_000);
    afterAll(() => t?.stop());

    it('serves the empty list in Chinese, with lang="zh-CN"', async () => {
      const html = await page(alice, '/');
      expect(html).toContain('<html lang="zh-CN">');
      expect(html).toContain('<title>事件 · ChatOps 控制台</title>');
      expect(textOf(html)).toContain('还没有事件');
      expect(textOf(html)).toContain('当前身份：');
      expect(formsOf(html).find((f) => f.action === '/console/sample-alert')?.label).toBe('触发示例告警');
      expect(english(html)).toEqual([]);
    });

    it('shows the card, the thread, a private refusal and the run in Chinese, times in UTC+8', async () => {
      const sample = formsOf(await page(alice, '/')).find((f) => f.action === '/console/sample-alert')!;
      const fired = await alice.submit(sample);
      expect(fired.headers.get('location')).toBe('/console/incidents/1');
      await waitFor(async () => /事件 #1 已创建/.test(textOf(sectionOf(await page(alice), 'thread'))), 15_000, 'the opening message');

      expect((await alice.submit(pressForm(await page(alice), 'run-step:1:demo-shop:restart')!)).status).toBe(303);
      const requested = await waitFor(async () => {
        const html = await page(alice);
        return /alice 申请执行 重启商城/.test(textOf(sectionOf(html, 'thread'))) && html;
      }, 15_000, 'the approval request');
      expect(formsOf(sectionOf(requested, 'thread')).map((f) => f.label)).toEqual(['批准', '拒绝']);

      await alice.submit(pressForm(requested, 'approve:1')!);
      const refused = await page(alice);
      expect(textOf(sectionOf(refused, 'private'))).toMatch(/仅你（alice）可见[\s\S]*你不能自己审批/);

      await bob.submit(pressForm(await page(bob), 'approve:1')!);
      await waitFor(async () => /重启商城 成功/.test(textOf(sectionOf(await page(bob), 'thread'))), 20_000, 'the step result');
      const card = await waitFor(async () => {
        const html = await page(alice);
        return /重启商城\s*—\s*成功/.test(textOf(sectionOf(html, 'card'))) && html;
      }, 10_000, 'the card step state');
      expect(textOf(card)).toContain('UTC+8');
      expect(card).toMatch(/data-confirm="将此事件标记为已恢复？/);
      await page(alice, '/');
    });

    it('answers bad forms with pages in Chinese', async () => {
      const badName = await alice.post('/console/user', { user: 'not a name!', csrf: formsOf(await page(alice, '/'))[0]?.fields.csrf ?? '' });
      expect(badName.status).toBe(400);
      expect(textOf(badName.text)).toContain('名字无效');
      const stranger = new ConsoleClient(t.url);
      const noSession = await stranger.post('/console/press', { buttonId: 'ack:1', user: 'carol' }, { origin: t.url });
      expect(noSession.status).toBe(403);
      expect(textOf(noSession.text)).toContain('请刷新页面');
      const crossSite = await alice.post('/console/press', { buttonId: 'ack:1' }, { 'sec-fetch-site': 'cross-site' });
      expect(crossSite.status).toBe(403);
      expect(textOf(crossSite.text)).toContain('请求被拒绝');
      const missing = await alice.get('/console/incidents/abc');
      expect(missing.status).toBe(404);
      expect(textOf(missing.text)).toContain('「abc」不是事件编号');
      const gone = await alice.get('/console/incidents/99');
      expect(textOf(gone.text)).toContain('事件 #99 不存在');
      for (const res of [badName, noSession, crossSite, missing, gone]) seen.push({ what: `refusal ${res.status}`, html: res.text });
    });

    it('left no English on any page it served', () => {
      expect(seen.length).toBeGreaterThan(5);
      expect(seen.map(({ what, html }) => ({ what, english: english(html) })).filter((x) => x.english.length > 0)).toEqual([]);
    });
  });

  describe('with CONSOLE_TOKEN', () => {
    let t: TestBot;
    beforeAll(async () => {
      t = await startTestBot({ runbooks: { 'demo-shop.yaml': RUNBOOK }, env: { HOST: '0.0.0.0', CONSOLE_TOKEN: 'console-token-for-tests-0123', LOCALE: 'zh-CN', TZ: 'Asia/Shanghai' } });
    }, 60_000);
    afterAll(() => t?.stop());

    it('answers a missing or wrong token in Chinese (401)', async () => {
      const none = await fetch(`${t.url}/`);
      const wrong = await fetch(`${t.url}/`, { headers: { authorization: 'Bearer wrong-token-0123456789' } });
      const texts = [await none.text(), await wrong.text()];
      expect([none.status, wrong.status]).toEqual([401, 401]);
      expect(texts[0]).toContain('控制台需要令牌');
      expect(texts[1]).toContain('控制台令牌错误');
      expect(texts.flatMap((text) => englishIn(text))).toEqual([]);
    });
  });

  describe('read-only beside Slack', () => {
    let slack: FakeSlack;
    let t: TestBot;
    beforeAll(async () => {
      slack = await startFakeSlack();
      t = await startTestBot({ slack, runbooks: { 'demo-shop.yaml': RUNBOOK }, env: { LOCALE: 'zh-CN', TZ: 'Asia/Shanghai' } });
    }, 60_000);
    afterAll(async () => {
      await t?.stop();
      await slack?.close();
    });

    it('says why it is read-only and shows the audit trail in Chinese', async () => {
      const refused = await fetch(`${t.url}/console/press`, { method: 'POST', headers: { origin: t.url, 'content-type': 'application/x-www-form-urlencoded' }, body: 'buttonId=ack%3A1&user=alice' });
      expect(refused.status).toBe(403);
      const refusal = await refused.text();
      expect(textOf(refusal)).toContain('控制台为只读');
      expect(textOf(refusal)).toContain('已配置 1 个聊天平台：slack');

      const client = new ConsoleClient(t.url);
      const list = await client.get('/');
      expect(list.text).toContain('<span class="mode">只读</span>');
      const posted = await t.postWebhook(sampleAlert({ now: new Date(), demoPort: 3080 }));
      const incident = await client.get(`/console/incidents/${String(posted.json.incidentId)}`);
      expect(textOf(sectionOf(incident.text, 'thread'))).toMatch(/审计记录[\s\S]*它的线程在 slack 上/);
      expect([refusal, list.text, incident.text].flatMap(english)).toEqual([]);
    });
  });

  describe('the runners table', () => {
    it('names its columns, states and ages in Chinese', () => {
      const back = useLocale({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' });
      try {
        const viewer: Viewer = { user: 'alice', csrf: 'c', interactive: true, readOnlyReason: '', nonce: 'n' };
        const runners: RunnerStatus[] = [
          { name: 'runner-a', labels: { site: 'sh' }, version: '1.0.0', replica: 'r1', seenAt: '2026-11-22T01:37:00Z', connectedAt: '2026-11-22T01:00:00Z', connected: true, silentSeconds: 3 },
          { name: 'runner-b', labels: {}, version: '1.0.0', replica: 'r1', seenAt: '2026-11-21T10:00:00Z', connectedAt: '2026-11-21T09:00:00Z', connected: false, silentSeconds: 55_000 },
        ];
        const html = layout(viewer, '事件', listMain(viewer, { open: [], recent: [], privateMessages: [], runners })).value;
        const table = textOf(sectionOf(html, 'runners'));
        for (const word of ['标签', '状态', '最近心跳', '在线', '离线', '（3 秒前）', '2026-11-22 09:37 UTC+8']) expect(table).toContain(word);
        expect(english(html)).toEqual([]);
      } finally {
        useLocale(back);
      }
    });
  });
});
