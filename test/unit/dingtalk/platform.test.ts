import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { DingTalkApi } from '../../../src/bot/dingtalk/api.js';
import { DINGTALK_BLOCK_MS } from '../../../src/bot/dingtalk/errors.js';
import { DingTalkPlatform } from '../../../src/bot/dingtalk/platform.js';
import { DingTalkWebhookPlatform } from '../../../src/bot/dingtalk/webhook.js';
import type { Card } from '../../../src/core/card.js';
import { ChatDeliveryError } from '../../../src/core/ports/chat-platform.js';
import {
  DINGTALK_CLIENT_ID,
  DINGTALK_CLIENT_SECRET,
  DINGTALK_CONVERSATION,
  DINGTALK_WEBHOOK_SECRET,
  DINGTALK_WEBHOOK_TOKEN,
  startFakeDingTalk,
  type FakeDingTalk,
} from '../../fakes/dingtalk-api.js';

const card = (over: Partial<Card> = {}): Card => ({
  incidentId: '7',
  title: 'ShopDown *now*',
  severity: 'critical',
  status: 'firing',
  statusLine: 'Firing since 01:37 UTC',
  summary: 'Shop is down',
  fields: [{ label: 'instance', value: 'shop-1:8080' }],
  links: [{ label: 'Runbook', url: 'https://runbooks.example/shop' }],
  steps: [],
  buttons: [
    { action: 'ack', id: 'ack:7', label: 'Acknowledge', value: 'ack:7' },
    { action: 'run-step', id: 'run-step:7:shop:restart', label: 'Restart', value: 'x', style: 'danger' },
  ],
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

describe('DingTalkPlatform against the fake DingTalk', () => {
  let fake: FakeDingTalk;
  const platform = (perMinute: number) =>
    new DingTalkPlatform(new DingTalkApi({ clientId: DINGTALK_CLIENT_ID, clientSecret: DINGTALK_CLIENT_SECRET, apiUrl: fake.url, oapiUrl: fake.url }), {
      robotCode: DINGTALK_CLIENT_ID,
      messagesPerMinute: perMinute,
    });

  beforeEach(async () => {
    fake = await startFakeDingTalk({ rateLimit: 20 });
  });
  afterEach(() => fake.close());

  it('posts the card as a StandardCard, with a reply quoting it and an edit that takes its buttons away', async () => {
    const p = platform(20);
    const ref = await p.postCard(DINGTALK_CONVERSATION, card());
    const posted = fake.messages[0];
    expect(posted?.id).toBe(ref.messageId);
    // The header is plain text; markdown blocks escape what alerts wrote.
    expect(posted?.content.header).toEqual({ title: { type: 'text', text: '🔴 ShopDown *now*' } });
    const actions = (posted?.content.contents as Array<{ type: string; actions?: Array<{ id: string; status: string }> }>).filter((c) => c.type === 'action').flatMap((c) => c.actions ?? []);
    expect(actions.map((a) => [a.id, a.status])).toEqual([
      ['ack:7', 'normal'],
      ['run-step:7:shop:restart', 'warning'],
    ]);

    const reply = await p.reply(ref, { text: 'alice asks to run Restart', buttons: [{ action: 'approve', id: 'approve:1', label: 'Approve', value: 'approve:1' }] });
    expect(reply.messageId.startsWith(`${ref.messageId}.`)).toBe(true);
    const body = () => ((fake.messages[1]?.content.contents as Array<{ text?: string }>)[0]?.text ?? '');
    expect(body()).toMatch(/^> 🔴 ShopDown \\\*now\\\*\n\nalice asks to run Restart$/);
    await p.updateMessage(reply, { text: 'alice asks to run Restart → approved by bob' });
    expect(fake.messages[1]?.updates).toBe(1);
    expect((fake.messages[1]?.content.contents as Array<{ type: string }>).some((c) => c.type === 'action')).toBe(false);
  });

  it('tells a user privately and reads departments and roles as groups', async () => {
    const p = platform(20);
    await p.tellUser('staff-alice', { channel: DINGTALK_CONVERSATION }, 'You cannot approve your own request.');
    expect(fake.privates).toEqual([expect.objectContaining({ user: 'staff-alice', text: 'You cannot approve your own request.' })]);
    expect(await p.resolveUser('staff-bob')).toEqual({ id: 'staff-bob', name: 'bob', groups: ['100', '9100', '3001'] });
    expect(await p.resolveUser('staff-nobody')).toEqual({ id: 'staff-nobody', name: 'staff-nobody', groups: [] });
  });

  it("keeps under the robot's 20 a minute itself: the 21st message is refused before it reaches DingTalk", async () => {
    const p = platform(20);
    for (let i = 0; i < 20; i += 1) await p.postCard(DINGTALK_CONVERSATION, card());
    const error = await rejection(p.postCard(DINGTALK_CONVERSATION, card()));
    expect(error.details.retryAfterMs).toBeGreaterThan(50_000);
    expect(fake.messages).toHaveLength(20);
    expect(fake.limited).toEqual([]);
  });

  it("turns DingTalk's 130101 into a 10-minute wait, and sends nothing into the block", async () => {
    // A second robot client (another replica, a restart) the local count cannot know about.
    const p = platform(40);
    for (let i = 0; i < 20; i += 1) await p.postCard(DINGTALK_CONVERSATION, card());
    const error = await rejection(p.postCard(DINGTALK_CONVERSATION, card()));
    expect(error.details.retryAfterMs).toBe(DINGTALK_BLOCK_MS);
    expect(fake.limited).toEqual([130101]);
    const again = await rejection(p.postCard(DINGTALK_CONVERSATION, card()));
    expect(again.details.retryAfterMs).toBeGreaterThan(DINGTALK_BLOCK_MS - 5_000);
    expect(fake.limited).toEqual([130101]);
  });

  it('reports an unknown group as permanent and refused', async () => {
    const error = await rejection(platform(20).postCard('cidNOTAGROUP==', card()));
    expect(error.details).toMatchObject({ permanent: true, refused: true });
  });
});

describe('DingTalkWebhookPlatform (one-way) against the fake custom robot', () => {
  let fake: FakeDingTalk;
  beforeEach(async () => {
    fake = await startFakeDingTalk({ rateLimit: 20 });
  });
  afterEach(() => fake.close());
  const webhook = (secret: string) =>
    new DingTalkWebhookPlatform({
      webhookUrl: `${fake.url}/robot/send?access_token=${DINGTALK_WEBHOOK_TOKEN}`,
      secret,
      consoleUrl: 'https://bot.example.com/',
      messagesPerMinute: 20,
      log: pino({ level: 'silent' }),
    });

  it('posts a signed actionCard whose button opens the incident in the console', async () => {
    await webhook(DINGTALK_WEBHOOK_SECRET).postCard('webhook', card());
    expect(fake.messages[0]?.content).toMatchObject({ msgtype: 'actionCard', actionCard: { singleTitle: 'Open in the console', singleURL: 'https://bot.example.com/console/incidents/7' } });
  });

  it('is refused with errcode 310000 when signed with another secret', async () => {
    const error = await rejection(webhook('SECnotthesecret').postCard('webhook', card()));
    expect(error.message).toContain('310000');
    expect(error.details).toMatchObject({ permanent: true, refused: true });
    expect(fake.messages).toHaveLength(0);
  });
});
