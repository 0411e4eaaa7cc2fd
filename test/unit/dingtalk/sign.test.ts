import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dingTalkSignature, signedDingTalkWebhookUrl } from '../../../src/bot/dingtalk/sign.js';
import { feishuSignature, feishuWebhookSignature } from '../../../src/bot/feishu/sign.js';

const SECRET = 'SECb2f1d0e9c8a7b6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0';

describe('webhook signatures', () => {
  it('signs DingTalk with the secret as the key and "timestamp\\nsecret" as the message', () => {
    const ts = 1_700_000_000_123;
    expect(dingTalkSignature(SECRET, ts)).toBe(createHmac('sha256', SECRET).update(`${ts}\n${SECRET}`).digest('base64'));
    // Not the other way round (that is Feishu's).
    expect(dingTalkSignature(SECRET, ts)).not.toBe(createHmac('sha256', `${ts}\n${SECRET}`).update('').digest('base64'));
  });

  it('URL-encodes the DingTalk signature, whose Base64 may hold +, / and =', () => {
    // Find a moment whose signature has a '+' or '/', so that the encoding is really exercised.
    let ts = 1_700_000_000_000;
    while (!/[+/]/.test(dingTalkSignature(SECRET, ts))) ts += 1;
    const url = signedDingTalkWebhookUrl('https://oapi.dingtalk.com/robot/send?access_token=abc', SECRET, ts);
    const query = url.split('?')[1] ?? '';
    expect(query).toMatch(/^access_token=abc&timestamp=\d+&sign=[A-Za-z0-9%]+$/);
    expect(query).toMatch(/%2B|%2F/);
    expect(new URL(url).searchParams.get('sign')).toBe(dingTalkSignature(SECRET, ts));
    expect(signedDingTalkWebhookUrl('https://oapi.dingtalk.com/robot/send?access_token=abc', undefined, ts)).toBe('https://oapi.dingtalk.com/robot/send?access_token=abc');
  });

  it('signs Feishu with "timestamp\\nsecret" as the key and an empty message, timestamp in seconds', () => {
    const ts = 1_700_000_000;
    expect(feishuSignature(SECRET, ts)).toBe(createHmac('sha256', `${ts}\n${SECRET}`).digest('base64'));
    expect(feishuSignature(SECRET, ts)).not.toBe(dingTalkSignature(SECRET, ts));
    expect(feishuWebhookSignature(SECRET, ts)).toEqual({ timestamp: String(ts), sign: feishuSignature(SECRET, ts) });
    expect(feishuWebhookSignature(undefined, ts)).toEqual({});
  });
});
