import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyDiscordRequest } from '../../../src/bot/discord/interactions.js';
import { discordPublicKey } from '../../../src/bot/discord/verify.js';

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return { publicKeyHex: der.subarray(der.length - 32).toString('hex'), privateKey };
}

const keys = keyPair();
const now = Date.UTC(2026, 10, 22, 1, 37, 0);
const timestamp = String(Math.floor(now / 1000));
const rawBody = JSON.stringify({ type: 1, id: '1', application_id: '2', token: 't', version: 1 });
const signature = sign(null, Buffer.from(timestamp + rawBody), keys.privateKey).toString('hex');
const good = { publicKeyHex: keys.publicKeyHex, signature, timestamp, rawBody, now };

describe('verifyDiscordRequest', () => {
  it('accepts a valid signature, over a string or the raw bytes, upper- or lower-case hex', () => {
    expect(verifyDiscordRequest(good)).toBe(true);
    expect(verifyDiscordRequest({ ...good, rawBody: Buffer.from(rawBody) })).toBe(true);
    expect(verifyDiscordRequest({ ...good, signature: signature.toUpperCase(), publicKeyHex: keys.publicKeyHex.toUpperCase() })).toBe(true);
  });

  it('refuses a tampered body, a tampered timestamp, a tampered signature and another key', () => {
    expect(verifyDiscordRequest({ ...good, rawBody: rawBody.replace('"type":1', '"type":2') })).toBe(false);
    expect(verifyDiscordRequest({ ...good, rawBody: `${rawBody} ` })).toBe(false);
    expect(verifyDiscordRequest({ ...good, timestamp: String(Number(timestamp) + 1) })).toBe(false);
    const flipped = (signature[0] === '0' ? '1' : '0') + signature.slice(1);
    expect(verifyDiscordRequest({ ...good, signature: flipped })).toBe(false);
    expect(verifyDiscordRequest({ ...good, publicKeyHex: keyPair().publicKeyHex })).toBe(false);
  });

  it('refuses malformed input without throwing: missing headers, bad hex, wrong lengths', () => {
    for (const bad of [
      { signature: undefined },
      { timestamp: undefined },
      { signature: '' },
      { signature: 'zz'.repeat(64) },
      { signature: signature.slice(0, 126) },
      { signature: `${signature}00` },
      { timestamp: 'abc' },
      { timestamp: `${timestamp}.5` },
      { timestamp: '-1' },
      { publicKeyHex: '' },
      { publicKeyHex: 'g'.repeat(64) },
      { publicKeyHex: keys.publicKeyHex.slice(0, 62) },
      { publicKeyHex: `${keys.publicKeyHex}00` },
      { now: Number.NaN },
    ]) {
      expect(() => verifyDiscordRequest({ ...good, ...bad }), JSON.stringify(bad)).not.toThrow();
      expect(verifyDiscordRequest({ ...good, ...bad }), JSON.stringify(bad)).toBe(false);
    }
    expect(discordPublicKey('0'.repeat(63))).toBeUndefined();
  });

  it('refuses stale and future timestamps (more than 5 minutes either way), even when correctly signed', () => {
    const at = (offsetSeconds: number) => {
      const ts = String(Number(timestamp) + offsetSeconds);
      return { ...good, timestamp: ts, signature: sign(null, Buffer.from(ts + rawBody), keys.privateKey).toString('hex') };
    };
    expect(verifyDiscordRequest(at(-300))).toBe(true);
    expect(verifyDiscordRequest(at(300))).toBe(true);
    expect(verifyDiscordRequest(at(-301))).toBe(false);
    expect(verifyDiscordRequest(at(301))).toBe(false);
    expect(verifyDiscordRequest(at(-86_400))).toBe(false);
  });
});
