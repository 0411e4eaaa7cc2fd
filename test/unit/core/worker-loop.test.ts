import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkerLoop } from '../../../src/core/worker-loop.js';

describe('WorkerLoop', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  /** A loop whose ticks take `tickMs` and record when they start. */
  const loopOf = (tickMs: number, minGapMs: number) => {
    const starts: number[] = [];
    const loop = new WorkerLoop(
      async () => {
        starts.push(Date.now());
        await new Promise((r) => setTimeout(r, tickMs));
      },
      10_000,
      (error) => {
        throw error;
      },
      minGapMs,
    );
    // stop() waits for the tick in progress, whose sleep runs on the fake clock.
    const stop = async () => {
      const stopped = loop.stop();
      await vi.advanceTimersByTimeAsync(tickMs);
      await stopped;
    };
    return { loop, starts, stop };
  };

  it('ticks at once when nudged while quiet', async () => {
    const { loop, starts, stop } = loopOf(5, 20);
    loop.start();
    await vi.advanceTimersByTimeAsync(100);
    loop.nudge();
    await vi.advanceTimersByTimeAsync(1);
    expect(starts).toEqual([0, 100]);
    await stop();
  });

  it('turns a stream of nudges into one tick per gap, never back to back', async () => {
    const { loop, starts, stop } = loopOf(5, 20);
    loop.start();
    // A nudge every millisecond for 100 ms, as webhooks in a storm would.
    for (let t = 0; t < 100; t += 1) {
      loop.nudge();
      await vi.advanceTimersByTimeAsync(1);
    }
    await vi.advanceTimersByTimeAsync(50);
    for (let i = 1; i < starts.length; i += 1) expect((starts[i] ?? 0) - (starts[i - 1] ?? 0)).toBeGreaterThanOrEqual(25);
    expect(starts.length).toBeGreaterThanOrEqual(4);
    expect(starts.length).toBeLessThanOrEqual(5);
    await stop();
  });

  it('without a gap, runs a nudged tick right after the one in progress, as before', async () => {
    const { loop, starts, stop } = loopOf(5, 0);
    loop.start();
    await vi.advanceTimersByTimeAsync(1);
    loop.nudge();
    await vi.advanceTimersByTimeAsync(20);
    expect(starts).toHaveLength(2);
    expect(starts[1]).toBeLessThanOrEqual(6); // the end of the first tick, plus the timer's minimum 1 ms
    await stop();
  });
});
