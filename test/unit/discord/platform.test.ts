import type { REST } from '@discordjs/rest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDiscordRest, deliveryNonce, DiscordPlatform } from '../../../src/bot/discord/platform.js';
import type { Card } from '../../../src/core/card.js';
import { ChatDeliveryError } from '../../../src/core/ports/chat-platform.js';
import { DEFAULT_ROLE_IDS, startFakeDiscord, type FakeDiscord } from '../../fakes/discord-api.js';
import { INJECTION, buttons, pathologicalCard } from './cards.js';

const CHANNEL = '1100000000000000003';
const OTHER_CHANNEL = '1100000000000000004';
const ALICE = '1200000000000000001';
const BOB = '1200000000000000002';
const CAROL = '1200000000000000003';

const card = (over: Partial<Card> = {}): Card => ({
  incidentId: '7',
  title: 'HighLatency on gitcortex',
  severity: 'critical',
  status: 'firing',
  statusLine: 'Firing since 01:37 UTC',
  summary: 'p99 above 2 s',
  fields: [{ label: 'instance', value: 'gitcortex-1:3001' }],
  links: [{ label: 'Dashboard', url: 'https://grafana.example/d/abc' }],
  steps: [],
  buttons: buttons(3, 'Health check'),
  fallbackText: 'HighLatency',
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

describe('DiscordPlatform against the fake Discord API, with the real REST client', () => {
  let discord: FakeDiscord;
  let rest: REST;
  let platform: DiscordPlatform;
  const warnings: unknown[] = [];

  beforeAll(async () => {
    discord = await startFakeDiscord({
      channels: [CHANNEL, OTHER_CHANNEL],
      members: {
        [ALICE]: { username: 'alice', nick: 'Alice Oncall', roles: [DEFAULT_ROLE_IDS.oncall] },
        [BOB]: { username: 'bob', roles: [DEFAULT_ROLE_IDS.oncall, DEFAULT_ROLE_IDS.lead] },
        [CAROL]: { username: 'carol', roles: [], dmsClosed: true },
      },
      rateLimit: false,
    });
  });
  afterAll(async () => {
    await discord.close();
  });
  const fresh = () => {
    discord.reset();
    discord.setRateLimit(false);
    warnings.length = 0;
    rest = createDiscordRest({ botToken: discord.token, apiUrl: discord.url });
    platform = new DiscordPlatform(rest, { guildId: discord.guildId, log: { warn: (...args: unknown[]) => void warnings.push(args) } });
  };
  afterEach(() => {
    rest.clearHashSweeper();
    rest.clearHandlerSweeper();
  });

  it('posts a card and starts its thread; the ref points at both', async () => {
    fresh();
    const ref = await platform.postCard(CHANNEL, card());
    expect(ref).toEqual({ platform: 'discord', channel: CHANNEL, messageId: ref.messageId, threadId: ref.messageId });
    const [message] = discord.messages(CHANNEL);
    expect(message?.id).toBe(ref.messageId);
    expect(message?.embeds[0]).toMatchObject({ title: '🔴 HighLatency on gitcortex', color: 0xe01e5a });
    expect(message?.components).toHaveLength(1);
    expect(message?.allowed_mentions).toEqual({ parse: [] });
    expect(discord.threads.get(ref.messageId)).toMatchObject({ parent_id: CHANNEL, name: 'HighLatency on gitcortex', auto_archive_duration: 1440 });
    expect(warnings).toEqual([]);
  });

  it('posts with a delivery key as an enforced nonce, so a repeated post (a lost answer) is one message', async () => {
    fresh();
    const key = 'outbox:41@2026-11-22T01:37:37.000Z';
    const ref = await platform.postCard(CHANNEL, card(), { deliveryKey: key });
    const again = await platform.postCard(CHANNEL, card(), { deliveryKey: key });
    expect(again).toEqual(ref);
    expect(discord.messages(CHANNEL)).toHaveLength(1);
    const body = discord.callsTo('POST /channels/:id/messages')[0]?.body as { nonce?: unknown; enforce_nonce?: unknown };
    expect(body.enforce_nonce).toBe(true);
    expect(body.nonce).toBe(deliveryNonce(key).nonce);
    expect(String(body.nonce)).toMatch(/^[0-9a-f]{25}$/);

    const replyKey = 'outbox:42@2026-11-22T01:37:37.000Z';
    const first = await platform.reply(ref, { text: 'opened' }, { deliveryKey: replyKey });
    const second = await platform.reply(ref, { text: 'opened' }, { deliveryKey: replyKey });
    expect(second.messageId).toBe(first.messageId);
    expect(discord.thread(ref.threadId).map((m) => m.content)).toEqual(['opened']);
    // Without a key (not from the outbox) nothing changes.
    await platform.reply(ref, { text: 'opened' });
    expect(discord.thread(ref.threadId)).toHaveLength(2);
    expect(deliveryNonce(undefined)).toEqual({});
    expect('findDelivered' in platform, 'Discord needs no look-up: the nonce is its idempotency key').toBe(false);
  });

  it('posts the pathological card: every limit holds where Discord checks them', async () => {
    fresh();
    const ref = await platform.postCard(CHANNEL, pathologicalCard());
    const stored = discord.message(ref.messageId);
    expect(stored?.components.length).toBe(5);
    expect(discord.threads.get(ref.messageId)?.name).toHaveLength(100);
    expect(stored?.pinged).toEqual({ users: [], roles: [], everyone: false });
  });

  it('replies into the thread, in order, with Discord bold and nobody pinged', async () => {
    fresh();
    const ref = await platform.postCard(CHANNEL, card());
    const first = await platform.reply(ref, { text: `▶️ Started *Restart GitCortex*: ${INJECTION}` });
    await platform.reply(ref, { text: '🙋 alice asks to run *Restore*', buttons: buttons(2, 'Approve') });
    // The thread is the channel the reply is in: where updateMessage finds it.
    expect(first).toEqual({ platform: 'discord', channel: ref.threadId, messageId: first.messageId, threadId: ref.threadId });
    const thread = discord.thread(ref.threadId);
    expect(thread).toHaveLength(2);
    expect(thread[0]?.content.startsWith('▶️ Started **Restart GitCortex**: @\u200beveryone @\u200bhere \\<@123456789012345678>')).toBe(true);
    expect(thread[1]?.content).toBe('🙋 alice asks to run **Restore**');
    expect(thread[1]?.components).toHaveLength(1);
    for (const m of thread) {
      expect(m.allowed_mentions).toEqual({ parse: [] });
      expect(m.pinged).toEqual({ users: [], roles: [], everyone: false });
    }
    // Nothing landed in the channel itself but the card.
    expect(discord.messages(CHANNEL)).toHaveLength(1);
  });

  it('edits a reply in its thread, removing its buttons', async () => {
    fresh();
    const ref = await platform.postCard(CHANNEL, card());
    const asked = await platform.reply(ref, { text: '🙋 alice asks to run *Restore*', buttons: buttons(2, 'Approve') });
    await platform.updateMessage(asked, { text: '🙋 alice asks to run *Restore*\n→ approved by bob 11:01:45 UTC' });
    const stored = discord.message(asked.messageId);
    expect(stored?.content).toBe('🙋 alice asks to run **Restore**\n→ approved by bob 11:01:45 UTC');
    expect(stored?.components).toEqual([]);
    expect(stored?.history).toHaveLength(1);
    expect(discord.callsTo('PATCH /channels/:id/messages/:id').at(-1)?.path).toContain(`/channels/${ref.threadId}/messages/${asked.messageId}`);
  });

  it('updates the card in place, clearing its buttons once resolved', async () => {
    fresh();
    const ref = await platform.postCard(CHANNEL, card());
    await platform.updateCard(ref, card({ status: 'resolved', statusLine: 'Resolved after 12m', buttons: [] }));
    const stored = discord.message(ref.messageId);
    expect(stored?.history).toHaveLength(1);
    expect(stored?.embeds[0]).toMatchObject({ color: 0x2eb67d, description: '**Resolved after 12m**\np99 above 2 s' });
    expect(stored?.components).toEqual([]);
  });

  it('reports a deleted card as messageGone', async () => {
    fresh();
    const ref = await platform.postCard(CHANNEL, card());
    const error = await rejection(platform.updateCard({ ...ref, messageId: '1500000000000000099' }, card()));
    expect(error.details).toMatchObject({ messageGone: true });
  });

  it('tells a user privately in a DM, saying which thread it is about', async () => {
    fresh();
    await platform.tellUser(ALICE, { channel: CHANNEL, threadId: '1500000000000000001' }, 'You may not approve *Restore*: @everyone');
    const dm = discord.dmChannel(ALICE);
    expect(dm).toBeDefined();
    const [message] = discord.messages(dm ?? '');
    expect(message?.content).toBe('You may not approve **Restore**: @\u200beveryone\n— about <#1500000000000000001>');
    expect(message?.allowed_mentions).toEqual({ parse: [] });
    // The DM channel is opened once.
    await platform.tellUser(ALICE, { channel: CHANNEL }, 'again');
    expect(discord.callsTo('POST /users/@me/channels')).toHaveLength(1);
    expect(discord.messages(dm ?? '').at(-1)?.content).toBe(`again\n— about <#${CHANNEL}>`);
  });

  it('fails permanently when the user does not accept DMs', async () => {
    fresh();
    const error = await rejection(platform.tellUser(CAROL, { channel: CHANNEL }, 'hello'));
    expect(error.details.permanent).toBe(true);
  });

  it('resolves users with their nickname and roles, cached for a minute', async () => {
    fresh();
    let now = 1_000_000;
    platform = new DiscordPlatform(rest, { guildId: discord.guildId, clock: () => now });
    expect(await platform.resolveUser(ALICE)).toEqual({ id: ALICE, name: 'Alice Oncall', groups: [DEFAULT_ROLE_IDS.oncall] });
    expect(await platform.resolveUser(BOB)).toEqual({ id: BOB, name: 'bob', groups: [DEFAULT_ROLE_IDS.oncall, DEFAULT_ROLE_IDS.lead] });
    await platform.resolveUser(ALICE);
    expect(discord.callsTo('GET /guilds/:id/members/:id')).toHaveLength(2);
    now += 60_001;
    await platform.resolveUser(ALICE);
    expect(discord.callsTo('GET /guilds/:id/members/:id')).toHaveLength(3);
    // Not a member: no roles (the least rights), not an error.
    expect(await platform.resolveUser('1200000000000000099')).toEqual({ id: '1200000000000000099', name: '1200000000000000099', groups: [] });
    // Without a guild there are no roles to read.
    expect(await new DiscordPlatform(rest).resolveUser(ALICE)).toEqual({ id: ALICE, name: ALICE, groups: [] });
  });

  it('turns a 429 into a ChatDeliveryError with retryAfterMs, at once (the outbox waits, not the client)', async () => {
    fresh();
    discord.failNext('POST /channels/:id/messages', 1, { status: 429, retryAfter: 2.5 });
    const started = Date.now();
    const error = await rejection(platform.postCard(CHANNEL, card()));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.details.retryAfterMs).toBeGreaterThanOrEqual(2500);
    expect(error.details.retryAfterMs).toBeLessThanOrEqual(3100);
    expect(error.details.permanent).toBeUndefined();
  });

  it('stops at the per-channel bucket with retryAfterMs instead of waiting', async () => {
    fresh();
    discord.setRateLimit({ burst: 5, perChannelPerSecond: 1 });
    const ref = await platform.postCard(CHANNEL, card());
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => platform.reply(ref, { text: `message ${i}` })));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    expect(refused.length).toBeGreaterThan(0);
    for (const e of refused) {
      expect(e).toBeInstanceOf(ChatDeliveryError);
      expect((e as ChatDeliveryError).details.retryAfterMs).toBeGreaterThan(0);
    }
  });

  it('fails permanently on an unknown channel', async () => {
    fresh();
    const error = await rejection(platform.postCard('1100000000000000099', card()));
    expect(error.details).toEqual({ permanent: true });
    expect(error.message).toContain('10003');
  });

  it('fails permanently on a body Discord refuses, and transiently on a server error', async () => {
    fresh();
    discord.failNext('POST /channels/:id/messages', 1, { status: 400, body: { code: 50035, message: 'Invalid Form Body', errors: {} } });
    expect((await rejection(platform.postCard(CHANNEL, card()))).details).toEqual({ permanent: true });
    discord.failNext('POST /channels/:id/messages', 3, { status: 503 });
    const error = await rejection(platform.postCard(CHANNEL, card()));
    expect(error.details.permanent).toBe(false);
    // The client retried twice before giving up.
    expect(discord.callsTo('POST /channels/:id/messages').filter((c) => c.status === 503)).toHaveLength(3);
  });

  it('keeps a posted card when its thread could not be started, and starts the thread with the first reply', async () => {
    fresh();
    discord.failNext('POST /channels/:id/messages/:id/threads', 3, { status: 502 });
    const ref = await platform.postCard(CHANNEL, card());
    expect(discord.threads.has(ref.messageId)).toBe(false);
    expect(warnings).toHaveLength(1);
    await platform.reply(ref, { text: 'first' });
    expect(discord.threads.get(ref.messageId)?.parent_id).toBe(CHANNEL);
    expect(discord.thread(ref.threadId).map((m) => m.content)).toEqual(['first']);
  });

  it('treats an already started thread as started', async () => {
    fresh();
    discord.failNext('POST /channels/:id/messages/:id/threads', 1, { status: 400, body: { code: 160004, message: 'A thread has already been created for this message' } });
    const ref = await platform.postCard(CHANNEL, card());
    expect(ref.threadId).toBe(ref.messageId);
    expect(warnings).toEqual([]);
  });

  it('replies in the channel, referencing the card, when no thread can be started there', async () => {
    fresh();
    discord.failNext('POST /channels/:id/messages/:id/threads', 2, { status: 403, body: { code: 50013, message: 'Missing Permissions' } });
    const ref = await platform.postCard(CHANNEL, card());
    const reply = await platform.reply(ref, { text: 'still delivered' });
    const inChannel = discord.messages(CHANNEL);
    expect(inChannel.map((m) => m.content)).toEqual(['', 'still delivered']);
    expect(inChannel[1]?.message_reference).toMatchObject({ message_id: ref.messageId });
    expect(reply.threadId).toBe(ref.threadId);
    // Later replies go straight to the channel, without asking for the thread again.
    const calls = discord.calls.length;
    await platform.reply(ref, { text: 'second' });
    expect(discord.calls.slice(calls).map((c) => `${c.method} ${c.route}`)).toEqual(['POST /channels/:id/messages']);
    expect(discord.messages(CHANNEL).map((m) => m.content)).toEqual(['', 'still delivered', 'second']);
  });
});
