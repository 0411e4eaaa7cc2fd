import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DINGTALK_WEBHOOK_SECRET, DINGTALK_WEBHOOK_TOKEN, startFakeDingTalk, type FakeDingTalk } from '../fakes/dingtalk-api.js';
import { FEISHU_HOOK, FEISHU_WEBHOOK_SECRET, startFakeFeishu, type FakeFeishu } from '../fakes/feishu-api.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { loadFixture } from '../support/fixtures.js';

/**
 * One-way DingTalk and Feishu: signed custom-robot webhooks carry the card and the thread's
 * messages; the card's button opens the incident in the console, which stays interactive because
 * no platform can take presses.
 */
const RUNBOOK = `
name: oneway
match: { service: gitcortex }
steps:
  - id: check
    title: Check GitCortex
    action: exec
    run: [node, -e, 'console.log("ok")']
`;
const PUBLIC = 'https://ops.example.com';

describe('DingTalk and Feishu one-way, through their signed webhooks', () => {
  let dingtalk: FakeDingTalk;
  let feishu: FakeFeishu;
  let t: TestBot;

  beforeAll(async () => {
    dingtalk = await startFakeDingTalk();
    feishu = await startFakeFeishu();
    t = await startTestBot({
      runbooks: { 'oneway.yaml': RUNBOOK },
      env: {
        DINGTALK_WEBHOOK_URL: `${dingtalk.url}/robot/send?access_token=${DINGTALK_WEBHOOK_TOKEN}`,
        DINGTALK_WEBHOOK_SECRET,
        FEISHU_WEBHOOK_URL: `${feishu.url}/open-apis/bot/v2/hook/${FEISHU_HOOK}`,
        FEISHU_WEBHOOK_SECRET,
        CONSOLE_PUBLIC_URL: PUBLIC,
      },
    });
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await dingtalk?.close();
    await feishu?.close();
  });

  it('posts a signed card on each whose button opens the incident in the console, then the thread quoting it', async () => {
    expect((await t.postWebhook(loadFixture<object>('firing-single.json'))).status).toBe(200);
    const card = await dingtalk.waitFor(() => dingtalk.messages.find((m) => m.content.msgtype === 'actionCard'), 15_000, 'the DingTalk card');
    expect(card.content.actionCard).toMatchObject({ singleTitle: 'Open in the console', singleURL: `${PUBLIC}/console/incidents/1` });
    expect(JSON.stringify(card.content)).toContain('GitCortexDown');
    const opened = await dingtalk.waitFor(() => dingtalk.messages.find((m) => /Incident #1 opened/.test(JSON.stringify(m.content))), 15_000, 'the DingTalk thread message');
    expect((opened.content.markdown as { text: string }).text).toMatch(/^> 🔴 \\#1 GitCortexDown on gitcortex\n\n/);

    const feishuCard = await feishu.waitFor(() => feishu.hooks.find((h) => JSON.stringify(h).includes('GitCortexDown') && h.msg_type === 'interactive'), 15_000, 'the Feishu card');
    expect(JSON.stringify(feishuCard)).toContain(`"url":"${PUBLIC}/console/incidents/1"`);
    expect(JSON.stringify(feishuCard)).not.toContain('run-step:');
    await feishu.waitFor(() => feishu.hooks.find((h) => /Incident #1 opened/.test(JSON.stringify(h))), 15_000, 'the Feishu thread message');
    expect(dingtalk.limited).toEqual([]);
    expect(feishu.limited).toEqual([]);
  });

  it('keeps the console interactive: the incident is acted on there', async () => {
    const page = await (await fetch(`${t.url}/console/incidents/1`)).text();
    expect(page).toContain('<span class="mode">interactive</span>');
    expect(page).toContain('run-step:1:oneway:check');
  });
});
