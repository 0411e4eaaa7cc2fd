import { describe, expect, it } from 'vitest';
import { createRedactor } from '../../../src/domain/redact.js';
import { wireResult } from '../../../src/runner/work.js';
import { MAX_SAID_PARTS, RESULT_OUTPUT_MAX, stepResultSchema } from '../../../src/runners/protocol.js';
import { isResultCode, type ResultMessage } from '../../../src/domain/result-message.js';
import { useLocale } from '../../../src/core/i18n/index.js';
import { resultSummary } from '../../../src/core/result-text.js';

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

/* A typed action's result said in parts (one per phase) reaches the bot in parts, secrets redacted, and is said in its language. */
describe('a runner result said in parts', () => {
  const SECRET = 'xoxb-1111111111-2222222222-runnersecretvalue';

  it('carries every part through the protocol, redacted, and the bot says them joined', () => {
    const wire = wireResult(
      {
        status: 'succeeded',
        summary: `HTTP 200 in 12 ms; token ${SECRET} accepted`,
        saidParts: [
          { code: 'http.ok', params: { status: 200, tookMs: 12 } },
          { code: 'text', params: { text: `token ${SECRET} accepted` } },
        ],
        durationMs: 15,
        outputTail: '',
      },
      createRedactor([]),
    );
    const parsed = stepResultSchema.parse(wire);
    expect(parsed.saidParts).toEqual([
      { code: 'http.ok', params: { status: 200, tookMs: 12 } },
      { code: 'text', params: { text: 'token [REDACTED] accepted' } },
    ]);
    // The bot keeps parts whose codes it knows (src/runners/remote-step-runner.ts).
    const kept = { summary: parsed.summary, saidParts: parsed.saidParts?.filter((p): p is ResultMessage => isResultCode(p.code)) };
    expect(kept.saidParts).toHaveLength(2);
    const previous = useLocale({ locale: 'zh-CN', timeZone: 'UTC' });
    try {
      expect(resultSummary(kept)).toBe('HTTP 200，耗时 12 毫秒；token [REDACTED] accepted');
    } finally {
      useLocale(previous);
    }
    expect(resultSummary(kept)).toBe(`HTTP 200 in 12 ms; token [REDACTED] accepted`);
  });

  it('refuses more parts than the protocol allows', () => {
    const parts = Array.from({ length: MAX_SAID_PARTS + 1 }, (_, i) => ({ code: 'text', params: { text: `phase ${i}` } }));
    expect(stepResultSchema.safeParse({ status: 'succeeded', summary: 'x', saidParts: parts, durationMs: 1, outputTail: '' }).success).toBe(false);
    // The runner cuts them to the bound before sending.
    expect(wireResult({ status: 'succeeded', summary: 'x', saidParts: parts as never, durationMs: 1, outputTail: '' }, createRedactor([])).saidParts).toHaveLength(MAX_SAID_PARTS);
  });
});
