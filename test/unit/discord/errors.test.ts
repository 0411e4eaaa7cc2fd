import { DiscordAPIError, HTTPError, RateLimitError } from '@discordjs/rest';
import { describe, expect, it } from 'vitest';
import { toDeliveryError } from '../../../src/bot/discord/errors.js';
import { ChatDeliveryError } from '../../../src/core/ports/chat-platform.js';

const request = { body: undefined, files: undefined };
const apiError = (status: number, code: number, message = 'x', extra: object = {}) =>
  new DiscordAPIError({ code, message, ...extra }, code, status, 'POST', 'https://discord.com/api/v10/channels/1/messages', request);

const rateLimit = (retryAfter: number, timeToReset = 0, global = false) =>
  new RateLimitError({
    timeToReset,
    limit: 5,
    method: 'POST',
    hash: 'h',
    url: 'https://discord.com/api/v10/channels/1/messages',
    route: '/channels/:id/messages',
    majorParameter: '1',
    global,
    retryAfter,
    sublimitTimeout: 0,
    scope: 'user',
  });

describe('toDeliveryError', () => {
  it('turns a rejected rate limit into retryAfterMs (Retry-After, else the bucket reset, else 1 s)', () => {
    const e = toDeliveryError('create message', rateLimit(2500));
    expect(e).toBeInstanceOf(ChatDeliveryError);
    expect(e.details).toEqual({ retryAfterMs: 2500 });
    expect(e.cause).toBeInstanceOf(RateLimitError);
    expect(toDeliveryError('x', rateLimit(0, 4200.4)).details.retryAfterMs).toBe(4201);
    expect(toDeliveryError('x', rateLimit(0, 0)).details.retryAfterMs).toBe(1000);
    expect(toDeliveryError('x', rateLimit(100, 0, true)).message).toContain('(global)');
  });

  it('reads retry_after (seconds) from a 429 API error', () => {
    const e = toDeliveryError('create message', new DiscordAPIError({ message: 'You are being rate limited.', retry_after: 1.234, global: false } as never, 0, 429, 'POST', 'u', request));
    expect(e.details).toEqual({ retryAfterMs: 1234 });
  });

  it('marks malformed bodies, missing access, missing permissions and unknown channels permanent', () => {
    for (const [status, code] of [
      [400, 50035],
      [400, 50006],
      [403, 50001],
      [403, 50013],
      [404, 10003],
      [403, 50007],
      [400, 50024],
      [401, 0],
    ] as const) {
      const e = toDeliveryError('create message', apiError(status, code, 'nope'));
      expect(e.details, `${status} ${code}`).toEqual({ permanent: true });
      expect(e.message).toContain(`${status} ${code}`);
    }
  });

  it('marks an unknown message as gone (the outbox posts the card again)', () => {
    expect(toDeliveryError('edit message', apiError(404, 10008, 'Unknown Message')).details).toEqual({ permanent: true, messageGone: true });
  });

  it('treats 5xx, timeouts and network errors as transient', () => {
    const server = toDeliveryError('create message', new HTTPError(502, 'Bad Gateway', 'POST', 'u', request));
    expect(server.details.permanent).toBe(false);
    expect(server.details.retryAfterMs).toBeUndefined();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(toDeliveryError('create message', refused).details).toEqual({});
    const timeout = Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
    expect(toDeliveryError('create message', timeout).details).toEqual({});
    expect(toDeliveryError('create message', 'weird').message).toBe('Discord create message: weird');
  });

  it('passes a ChatDeliveryError through unchanged', () => {
    const e = new ChatDeliveryError('already mapped', { permanent: true });
    expect(toDeliveryError('x', e)).toBe(e);
  });
});
