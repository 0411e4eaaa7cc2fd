import { Client, LoggerLevel } from '@larksuiteoapi/node-sdk';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { larkLogger } from '../../../src/bot/feishu/lark-logger.js';
import { FeishuPlatform } from '../../../src/bot/feishu/platform.js';
import { TokenCache } from '../../../src/bot/feishu/token-cache.js';
import { FeishuWebhookPlatform } from '../../../src/bot/feishu/webhook.js';
import type { Card } from '../../../src/core/card.js';
import { ChatDeliveryError } from '../../../src/core/ports/chat-platform.js';
import { FEISHU_APP_ID, FEISHU_APP_SECRET, FEISHU_CHAT, FEISHU_HOOK, FEISHU_WEBHOOK_SECRET, startFakeFeishu, type FakeFeishu } from '../../fakes/feishu-api.js';

const card = (over: Partial<Card> = {}): Card => ({
  incidentId: '7',
  title: 'ShopDown',
  severity: 'critical',
  status: 'firing',
  statusLine: 'Firing since 01:37 UTC',
  summary: 'Shop is *down* <at id=all></at>',
  fields: [{ label: 'instance', value: 'shop-1:8080' }],
  links: [],
  steps: [],
  buttons: [{ action: 'run-step', id: 'run-step:7:shop:restart', label: 'Restart', value: 'x', style: 'danger', confirm: { title: 'Restart?', text: 'It restarts the shop.', confirm: 'Restart', deny: 'Cancel' } }],
  fallbackText: 'ShopDown',
  ...over,
});

const rejection = async (work: Promise<unknown>): Promise<ChatDeliveryError> => {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChatDeliveryError);
  return error as ChatDeliveryError;
};

const log = pino({ level: 'silent' });

describe('FeishuPlatform against the fake Feishu, with the real SDK client', () => {
  let fake: FakeFeishu;
  let platform: FeishuPlatform;
  beforeEach(async () => {
    fake = await startFakeFeishu();
    const tokens = new TokenCache();
    platform = new FeishuPlatform(new Client({ appId: FEISHU_APP_ID, appSecret: FEISHU_APP_SECRET, domain: fake.url, cache: tokens, logger: larkLogger(log), loggerLevel: LoggerLevel.error }), { tokens });
  });
  afterEach(() => fake.close());

  it('posts a shared card, escaping what alerts wrote, with the danger button confirmed', async () => {
    const ref = await platform.postCard(FEISHU_CHAT, card());
    const content = fake.messages[0]?.content as { config: unknown; elements: Array<{ tag: string; text?: { content: string }; actions?: unknown[] }> };
    expect(ref).toMatchObject({ platform: 'feishu', channel: FEISHU_CHAT, messageId: fake.messages[0]?.id, threadId: fake.messages[0]?.id });
    expect(content.config).toMatchObject({ update_multi: true });
    expect(content.elements[0]?.text?.content).toContain('Shop is &#42;down&#42; &lt;at id=all&gt;&lt;/at&gt;');
    expect(content.elements[1]?.actions).toEqual([
      { tag: 'button', text: { tag: 'plain_text', content: 'Restart' }, type: 'danger', value: { button: 'run-step:7:shop:restart' }, confirm: { title: { tag: 'plain_text', content: 'Restart?' }, text: { tag: 'plain_text', content: 'It restarts the shop.' } } },
    ]);
  });

  it('sends a post once when it is retried with the same delivery key (Feishu dedupes by uuid)', async () => {
    const first = await platform.postCard(FEISHU_CHAT, card(), { deliveryKey: 'outbox:1' });
    const again = await platform.postCard(FEISHU_CHAT, card(), { deliveryKey: 'outbox:1' });
    expect(again.messageId).toBe(first.messageId);
    expect(fake.messages).toHaveLength(1);
  });

  it('replies in the thread, edits the reply, answers privately and reads departments', async () => {
    const ref = await platform.postCard(FEISHU_CHAT, card());
    const reply = await platform.reply(ref, { text: 'alice asks to run Restart', buttons: [{ action: 'approve', id: 'approve:1', label: 'Approve', value: 'approve:1' }] });
    expect(fake.messages[1]).toMatchObject({ id: reply.messageId, root: ref.messageId });
    await platform.updateMessage(reply, { text: 'approved by bob' });
    expect(fake.messages[1]?.updates).toBe(1);
    expect(JSON.stringify(fake.messages[1]?.content)).not.toContain('approve:1');
    await platform.tellUser('ou_alice', { channel: FEISHU_CHAT }, 'You cannot approve your own request.');
    expect(fake.ephemerals).toEqual([expect.objectContaining({ user: 'ou_alice', chat: FEISHU_CHAT })]);
    expect(await platform.resolveUser('ou_bob')).toEqual({ id: 'ou_bob', name: 'bob', groups: ['od-ops', 'od-oncall'] });
    expect(await platform.resolveUser('ou_stranger')).toEqual({ id: 'ou_stranger', name: 'ou_stranger', groups: [] });
  });

  it("turns Feishu's 99991400 (HTTP 429) into a wait of x-ogw-ratelimit-reset seconds", async () => {
    for (let i = 0; i < 5; i += 1) await platform.postCard(FEISHU_CHAT, card());
    const error = await rejection(platform.postCard(FEISHU_CHAT, card()));
    expect(error.details.retryAfterMs).toBe(1000);
    expect(fake.limited).toEqual([99991400]);
    expect(platform.pacing).toEqual({ messagesPerSecond: 100 / 60, burst: 5 });
  });

  it('fetches a new token after Feishu refused the cached one, instead of failing for good', async () => {
    await platform.postCard(FEISHU_CHAT, card());
    fake.revokeTokens();
    const error = await rejection(platform.postCard(FEISHU_CHAT, card()));
    expect(error.message).toContain('99991663');
    expect(error.details.permanent).toBeFalsy();
    await platform.postCard(FEISHU_CHAT, card());
    expect(fake.messages).toHaveLength(2);
  });

  it('says a recalled message is gone', async () => {
    const error = await rejection(platform.updateCard({ platform: 'feishu', channel: FEISHU_CHAT, messageId: 'om_gone', threadId: 'om_gone' }, card()));
    expect(error.details).toMatchObject({ permanent: true, messageGone: true });
  });
});

describe('FeishuWebhookPlatform (one-way) against the fake custom bot', () => {
  let fake: FakeFeishu;
  beforeEach(async () => {
    fake = await startFakeFeishu();
  });
  afterEach(() => fake.close());
  const webhook = (secret: string) => new FeishuWebhookPlatform({ webhookUrl: `${fake.url}/open-apis/bot/v2/hook/${FEISHU_HOOK}`, secret, consoleUrl: 'https://bot.example.com', log });

  it('posts a signed card whose only button opens the incident in the console', async () => {
    await webhook(FEISHU_WEBHOOK_SECRET).postCard('webhook', card());
    const body = JSON.stringify(fake.hooks[0]);
    expect(body).toContain('"url":"https://bot.example.com/console/incidents/7"');
    expect(body).not.toContain('run-step');
  });

  it('is refused with code 19021 when signed with another secret', async () => {
    const error = await rejection(webhook('not-the-secret').postCard('webhook', card()));
    expect(error.message).toContain('19021');
    expect(error.details).toMatchObject({ permanent: true, refused: true });
  });

  it('turns 11232 (frequency limited) into a wait', async () => {
    const w = webhook(FEISHU_WEBHOOK_SECRET);
    for (let i = 0; i < 5; i += 1) await w.postMessage('webhook', { text: `m${i}` });
    const error = await rejection(w.postMessage('webhook', { text: 'one too many' }));
    expect(error.details.retryAfterMs).toBeGreaterThan(0);
    expect(fake.limited).toEqual([11232]);
  });
});
