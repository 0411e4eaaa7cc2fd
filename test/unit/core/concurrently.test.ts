import { describe, expect, it } from 'vitest';
import { mapConcurrently } from '../../../src/domain/concurrently.js';

/** A promise settled from outside, to control when each item's work ends. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('mapConcurrently', () => {
  it('runs at most `limit` at a time and returns each result at its item\'s index, whatever order they end in', async () => {
    const gates = [0, 1, 2, 3, 4].map(() => deferred<string>());
    const started: number[] = [];
    const done = mapConcurrently([0, 1, 2, 3, 4], 2, (i) => (started.push(i), gates[i]!.promise));
    await turn();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve('b');
    await turn();
    expect(started).toEqual([0, 1, 2]);
    for (const [i, gate] of gates.entries()) gate.resolve('abcde'[i]!);
    expect(await done).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('lets every item finish before it throws the first failure', async () => {
    const slow = deferred<void>();
    let slowEnded = false;
    const done = mapConcurrently(['fails', 'slow'], 2, async (item) => {
      if (item === 'fails') throw new Error('first failure');
      await slow.promise;
      slowEnded = true;
    });
    let settled = false;
    void done.catch(() => undefined).finally(() => (settled = true));
    await turn();
    expect(settled).toBe(false);
    slow.resolve();
    await expect(done).rejects.toThrow('first failure');
    expect(slowEnded).toBe(true);
  });

  it('returns an empty list for no items', async () => {
    expect(await mapConcurrently([], 4, () => Promise.resolve(1))).toEqual([]);
  });
});
