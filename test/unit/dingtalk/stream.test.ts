import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CARD_CALLBACK_TOPIC, DingTalkStream } from '../../../src/bot/dingtalk/stream.js';
import { pressFromCallback } from '../../../src/bot/dingtalk/callbacks.js';
import { DINGTALK_CLIENT_ID, DINGTALK_CLIENT_SECRET, DINGTALK_CONVERSATION, startFakeDingTalk, type FakeDingTalk } from '../../fakes/dingtalk-api.js';

describe('Stream mode against the fake DingTalk gateway', () => {
  let fake: FakeDingTalk;
  let stream: DingTalkStream;
  const received: unknown[] = [];

  beforeEach(async () => {
    received.length = 0;
    fake = await startFakeDingTalk();
    stream = new DingTalkStream({
      apiUrl: fake.url,
      clientId: DINGTALK_CLIENT_ID,
      clientSecret: DINGTALK_CLIENT_SECRET,
      log: pino({ level: 'silent' }),
      retryMs: 50,
      callbacks: { [CARD_CALLBACK_TOPIC]: (data) => (received.push(data), { cardData: { cardParamMap: {} } }) },
    });
    stream.start();
    await stream.connected;
  });
  afterEach(async () => {
    stream.stop();
    await fake.close();
  });

  it('answers a card callback on the socket with its message id, and hands over the press', async () => {
    const ack = await fake.press({ userId: 'staff-bob', cardBizId: 'incABC.reply1', actionId: 'approve:2' });
    expect(ack.data).toEqual({ response: { cardData: { cardParamMap: {} } } });
    expect(ack.ms).toBeLessThan(3000);
    expect(pressFromCallback(received[0], 'cidDEFAULT==')).toEqual({
      kind: 'press',
      press: { userId: 'staff-bob', channel: DINGTALK_CONVERSATION, threadId: 'incABC', buttonId: 'approve:2' },
    });
  });

  it("echoes DingTalk's ping with its data", async () => {
    const echoed = await fake.ping();
    expect(echoed).toMatchObject({ opaque: expect.any(String) as string });
  });

  it('opens a new connection (with a new ticket) when DingTalk announces a disconnect, and none after stop', async () => {
    fake.disconnect();
    await fake.waitFor(() => fake.opened === 2 && fake.connections === 1, 5000, 'the second connection');
    await fake.press({ userId: 'staff-alice', cardBizId: 'incXYZ', actionId: 'ack:1' });
    expect(received).toHaveLength(1);
    stream.stop();
    await fake.waitFor(() => fake.connections === 0, 5000, 'the connection closed');
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.opened).toBe(2);
  });

  it('ignores a callback that names no button', () => {
    expect(pressFromCallback({ outTrackId: 'inc1', userId: 'u', content: '{}' }, 'c')).toEqual({ kind: 'invalid', reason: 'no pressed button in the callback' });
  });
});
