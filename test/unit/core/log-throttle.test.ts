import { describe, expect, it } from 'vitest';
import { LogThrottle } from '../../../src/core/log-throttle.js';

describe('LogThrottle', () => {
  it('logs the first of each kind, then one per interval with the count left out', () => {
    let now = 0;
    const throttle = new LogThrottle(10_000, () => now);
    const logged: Array<[string, number]> = [];
    const warn = (kind: string) => throttle.run(kind, (suppressed) => logged.push([kind, suppressed]));

    for (let i = 0; i < 500; i += 1) warn('inbox_full');
    warn('unauthorized');
    now = 9_999;
    warn('inbox_full');
    now = 10_000;
    warn('inbox_full');
    warn('inbox_full');
    now = 25_000;
    warn('inbox_full');
    expect(logged).toEqual([
      ['inbox_full', 0],
      ['unauthorized', 0],
      ['inbox_full', 500],
      ['inbox_full', 1],
    ]);
  });
});
