import { describe, expect, it } from 'vitest';
import { createRedactor } from '../../../src/domain/redact.js';
import { wireResult } from '../../../src/runner/work.js';
import { RESULT_OUTPUT_MAX, stepResultSchema } from '../../../src/runners/protocol.js';

/* A runner's result carries the step's whole output to the bot (for the output route): redacted, and bounded to fit a request. */
describe('a runner result with the whole output', () => {
  const SECRET = 'xoxb-1111111111-2222222222-runnersecretvalue';

  it('is redacted again and accepted by the protocol', () => {
    const wire = wireResult({ status: 'succeeded', summary: 'exit 0', durationMs: 5, outputTail: 'line 1\n… 98 lines cut …\nline 100', output: `line 1\n${SECRET}\nline 100` }, createRedactor([]));
    expect(wire.output).toBe('line 1\n[REDACTED]\nline 100');
    expect(stepResultSchema.parse(wire).output).toBe(wire.output);
  });

  it('keeps the first and last parts of a long output, the cut counted, within the protocol bound', () => {
    const lines = Array.from({ length: 40_000 }, (_, i) => `output line ${i}`);
    const output = lines.join('\n');
    const wire = wireResult({ status: 'succeeded', summary: 'exit 0', durationMs: 5, outputTail: '', output }, createRedactor([]));
    expect(wire.output!.length).toBeLessThanOrEqual(RESULT_OUTPUT_MAX);
    expect(wire.output!.startsWith('output line 0\n')).toBe(true);
    expect(wire.output!.endsWith('output line 39999')).toBe(true);
    const cut = Number(/\n… (\d+) characters cut …\n/.exec(wire.output!)?.[1]);
    expect(wire.output!.length - `\n… ${cut} characters cut …\n`.length + cut).toBe(output.length);
  });
});
