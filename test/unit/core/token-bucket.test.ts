import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/core/token-bucket.js';

describe('TokenBucket', () => {
  it('gives a full burst, then one token per 1/rate seconds, and says when the next one comes', () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.nextAt(0)).toBe(500);
    expect(bucket.take(499)).toBe(false);
    expect(bucket.take(500)).toBe(true);
    // Refills up to the burst, never beyond.
    expect(bucket.available(60_000)).toBe(3);
  });

  it('takes back a token given back, up to the burst', () => {
    const bucket = new TokenBucket(1, 2, 0);
    bucket.take(0);
    bucket.take(0);
    bucket.giveBack(0);
    expect(bucket.available(0)).toBe(1);
    bucket.giveBack(0);
    bucket.giveBack(0);
    expect(bucket.available(0)).toBe(2);
  });

  it('neither refills nor empties when the clock goes back', () => {
    const bucket = new TokenBucket(1, 2, 10_000);
    bucket.take(10_000);
    expect(bucket.available(5_000)).toBe(1);
    expect(bucket.available(11_000)).toBe(2);
  });

  it('after a 429, gives nothing until Retry-After has passed, then one token at a time', () => {
    const bucket = new TokenBucket(1, 3, 0);
    bucket.pauseUntil(2_000, 0);
    expect(bucket.available(0)).toBe(0);
    expect(bucket.take(1_999)).toBe(false);
    expect(bucket.nextAt(500)).toBe(2_000);
    expect(bucket.take(2_000)).toBe(true);
    expect(bucket.take(2_000)).toBe(false);
    expect(bucket.nextAt(2_000)).toBe(3_000);
  });

  it('is capped one under full when a call is answered, since the platform may have counted it only then', () => {
    // Full at 0; the token is taken at 0 but the call reaches the platform at 500, whose bucket was
    // full until then: after it, the platform has 2 tokens, not the 2.5 the refill since 0 gives.
    const bucket = new TokenBucket(1, 3, 0);
    expect(bucket.take(0)).toBe(true);
    bucket.landed(500);
    expect(bucket.take(500)).toBe(true);
    expect(bucket.take(500)).toBe(true);
    expect(bucket.take(500)).toBe(false);
    expect(bucket.nextAt(500)).toBe(1_500);
  });
});
