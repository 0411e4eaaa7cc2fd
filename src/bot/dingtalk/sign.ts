import { createHmac } from 'node:crypto';

/**
 * The signature of DingTalk's custom (webhook) robot "加签" security setting: the robot's secret is
 * the HMAC-SHA256 key, the message is `timestamp + "\n" + secret` (timestamp in ms), and the
 * Base64 digest goes into the URL, URL-encoded, beside the timestamp. DingTalk refuses a
 * timestamp more than an hour away from its clock.
 */
export function dingTalkSignature(secret: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
}

/** The webhook URL (with its access_token) plus `timestamp` and `sign` for this moment. */
export function signedDingTalkWebhookUrl(webhookUrl: string, secret: string | undefined, timestampMs: number): string {
  if (secret === undefined) return webhookUrl;
  const url = new URL(webhookUrl);
  url.searchParams.set('timestamp', String(timestampMs));
  // URLSearchParams encodes '+', '/' and '=' of the Base64 digest, as DingTalk asks (urlEncode).
  url.searchParams.set('sign', dingTalkSignature(secret, timestampMs));
  return url.toString();
}
