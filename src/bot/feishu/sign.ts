import { createHmac } from 'node:crypto';

/**
 * The signature of a Feishu/Lark custom bot (webhook) with "签名校验" on: the HMAC-SHA256 key is
 * `timestamp + "\n" + secret` (timestamp in seconds) and the message is empty — the opposite of
 * DingTalk's, where the secret is the key and the timestamp the message. The Base64 digest goes
 * into the JSON body beside the timestamp; Feishu refuses one more than an hour off its clock.
 */
export function feishuSignature(secret: string, timestampSeconds: number): string {
  return createHmac('sha256', `${timestampSeconds}\n${secret}`).update('').digest('base64');
}

/** The body fields a signed webhook call carries (none without a secret). */
export function feishuWebhookSignature(secret: string | undefined, timestampSeconds: number): { timestamp?: string; sign?: string } {
  return secret === undefined ? {} : { timestamp: String(timestampSeconds), sign: feishuSignature(secret, timestampSeconds) };
}
