import { describe, expect, it } from 'vitest';
import { cpuTimes, stolenShare } from '../../bench/machine.js';
import { busiestWindow, percentile } from '../../bench/stats.js';

describe('bench statistics', () => {
  it('counts the most events inside any window, the window excluding its far end', () => {
    expect(busiestWindow([], 60_000)).toBe(0);
    expect(busiestWindow([5], 60_000)).toBe(1);
    // 0, 10 and 59,999 share a minute; 60,000 is a minute after 0, so it starts the next one.
    expect(busiestWindow([0, 10, 59_999, 60_000, 60_005], 60_000)).toBe(4);
    expect(busiestWindow([0, 60_000, 120_000], 60_000)).toBe(1);
  });

  it('takes percentiles by nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile([], 50)).toBeNaN();
  });

  it('reads the machine CPU time and the share the hypervisor took between two readings', () => {
    const now = cpuTimes();
    expect(now).toBeDefined();
    expect(now!.total).toBeGreaterThan(0);
    expect(now!.steal).toBeGreaterThanOrEqual(0);
    expect(now!.steal).toBeLessThanOrEqual(now!.total);
    expect(stolenShare({ total: 100, steal: 10 }, { total: 300, steal: 30 })).toBeCloseTo(0.1);
    expect(stolenShare(undefined, now)).toBeNaN();
    expect(stolenShare(now, now)).toBeNaN();
  });
});
