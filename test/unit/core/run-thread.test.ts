import { describe, expect, it } from 'vitest';
import { shownCommands, withoutCommands } from '../../../src/core/run-thread.js';

describe("a run's message shows its command line once", () => {
  const started = 'will run `node demo/service/ctl.mjs fix --data-dir test-output/demo`, then verify that http://127.0.0.1:1/health answers 200 (within 10s) (timeout 40s)';

  it('takes the quoted command lines of the Started line', () => {
    expect(shownCommands(started)).toEqual(['node demo/service/ctl.mjs fix --data-dir test-output/demo']);
    expect(shownCommands('will GET http://x/health expecting 200 (timeout 5s)')).toEqual([]);
  });

  it("leaves the command out of the result's summary and facts, and nothing else", () => {
    const result = {
      summary: 'restart command `node demo/service/ctl.mjs fix --data-dir test-output/demo` (3.5s); verify healthy on the first attempt (HTTP 200)',
      facts: [
        { label: 'restart command', value: '`node demo/service/ctl.mjs fix --data-dir test-output/demo`' },
        { label: 'restart exit code', value: '0' },
      ],
      outputTail: '{"status":"ok"}',
    };
    const shown = withoutCommands(result, shownCommands(started));
    expect(shown).toEqual({
      summary: 'restart command (3.5s); verify healthy on the first attempt (HTTP 200)',
      facts: [{ label: 'restart exit code', value: '0' }],
      outputTail: '{"status":"ok"}',
    });
    // Nothing shown on the Started line: the result stays as it is.
    expect(withoutCommands(result, [])).toBe(result);
  });
});
