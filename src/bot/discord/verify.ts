import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** Requests stamped further than this from now, either way, are refused (a replay, or a wrong clock). */
export const REPLAY_WINDOW_SECONDS = 5 * 60;

/** DER prefix that makes a raw 32-byte Ed25519 public key an SPKI structure Node can load. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const keys = new Map<string, KeyObject>();

/** The application's public key (64 hex characters, from the developer portal) as a Node key; undefined when malformed. */
export function discordPublicKey(publicKeyHex: string): KeyObject | undefined {
  const hex = publicKeyHex.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) return undefined;
  let key = keys.get(hex);
  if (!key) {
    try {
      key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' });
    } catch {
      return undefined;
    }
    keys.set(hex, key);
  }
  return key;
}

export interface DiscordRequestToVerify {
  publicKeyHex: string;
  /** `X-Signature-Ed25519`: 128 hex characters. */
  signature: string | undefined;
  /** `X-Signature-Timestamp`: Unix seconds. */
  timestamp: string | undefined;
  /** The body exactly as received: verifying re-serialised JSON would fail. */
  rawBody: string | Buffer;
  /** Milliseconds since the epoch. */
  now: number;
}

/**
 * Discord signs `timestamp + body` with the application's Ed25519 key. This checks the signature
 * and refuses timestamps more than 5 minutes away from now in either direction. Ed25519
 * verification works on public data only and takes the same time whatever the result; there is
 * no secret to compare. Any malformed input (missing header, bad hex, wrong length) is false,
 * never an exception.
 */
export function verifyDiscordRequest(request: DiscordRequestToVerify): boolean {
  const { signature, timestamp, rawBody, now } = request;
  if (typeof signature !== 'string' || !/^[0-9a-fA-F]{128}$/.test(signature)) return false;
  if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp)) return false;
  if (!Number.isFinite(now) || Math.abs(now / 1000 - Number(timestamp)) > REPLAY_WINDOW_SECONDS) return false;
  const key = discordPublicKey(request.publicKeyHex);
  if (!key) return false;
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  try {
    return verify(null, Buffer.concat([Buffer.from(timestamp, 'utf8'), body]), key, Buffer.from(signature, 'hex'));
  } catch {
    return false;
  }
}
