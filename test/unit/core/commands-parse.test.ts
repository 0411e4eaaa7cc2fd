import { describe, expect, it } from 'vitest';
import { decodeButtonId, encodeButtonId } from '../../../src/core/button-codec.js';
import { parseCommandText, validateCommand } from '../../../src/core/commands/parse.js';
import { UsageError } from '../../../src/core/commands/usage.js';
import { parseSilenceDuration } from '../../../src/core/duration.js';
import { useLocale } from '../../../src/core/i18n/index.js';
import { englishIn } from '../../support/no-english.js';

const text = (name: string, line: string) => validateCommand(parseCommandText(name, line));
const problem = (name: string, line: string): string => {
  try {
    text(name, line);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`"/${name} ${line}" was accepted`);
};

describe('command text and validation', () => {
  it('reads every subcommand typed as text', () => {
    expect(text('incident', 'list')).toEqual({ key: 'incident list', args: {} });
    expect(text('incident', 'show #12')).toEqual({ key: 'incident show', args: { id: 12 } });
    expect(text('incident', 'ACK 3')).toEqual({ key: 'incident ack', args: { id: 3 } });
    expect(text('incident', 'resolve 4   restarted the  pool')).toEqual({ key: 'incident resolve', args: { id: 4, note: 'restarted the pool' } });
    expect(text('incident', 'resolve 4')).toEqual({ key: 'incident resolve', args: { id: 4 } });
    expect(text('incident', 'timeline 5')).toEqual({ key: 'incident timeline', args: { id: 5 } });
    expect(text('incident', 'silence 6 2h')).toEqual({ key: 'incident silence', args: { id: 6, duration: 7_200_000 } });
    expect(text('runbook', 'list')).toEqual({ key: 'runbook list', args: {} });
    expect(text('runbook', 'show gitcortex')).toEqual({ key: 'runbook show', args: { name: 'gitcortex' } });
    expect(text('runbook', 'run gitcortex restore backup=/b/x.db --incident 9')).toEqual({
      key: 'runbook run',
      args: { name: 'gitcortex', step: 'restore', params: { backup: '/b/x.db' }, incident: 9 },
    });
    expect(text('runbook', 'dry-run gitcortex health --incident=#2')).toEqual({ key: 'runbook dry-run', args: { name: 'gitcortex', step: 'health', incident: 2 } });
  });

  it('takes Discord options through the same schema', () => {
    expect(validateCommand({ name: 'incident', subcommand: 'silence', options: { id: 6, duration: '30m' } })).toEqual({ key: 'incident silence', args: { id: 6, duration: 1_800_000 } });
    expect(validateCommand({ name: 'runbook', subcommand: 'run', options: { name: 'gitcortex', step: 'health', incident: 3 } })).toEqual({
      key: 'runbook run',
      args: { name: 'gitcortex', step: 'health', incident: 3 },
    });
  });

  it('names what was wrong and shows the usage', () => {
    expect(problem('incident', '')).toBe(
      '/incident needs a subcommand.\nUsage:\n' +
        [
          '`/incident list` — the open incidents, newest first',
          '`/incident show <id>` — one incident: status, owner, alerts, steps',
          '`/incident ack <id>` — acknowledge: you own it',
          '`/incident resolve <id> [note]` — resolve by hand, with an optional note',
          '`/incident timeline <id>` — everything that happened, with time to acknowledge and resolve',
          "`/incident silence <id> <duration>` — silence the group's alerts in Alertmanager (30m, 2h, 1d; at most 7d)",
        ].join('\n'),
    );
    expect(problem('incident', 'explode 3')).toMatch(/^`explode` is not a subcommand of \/incident\./);
    expect(problem('incident', 'show')).toBe('/incident show: missing <id>.\nUsage:\n`/incident show <id>` — one incident: status, owner, alerts, steps');
    expect(problem('incident', 'show twelve')).toMatch(/^\/incident show: <id>: the incident id must be a number like 12, not "twelve"\./);
    expect(problem('incident', 'show 0')).toMatch(/must be a number like 12/);
    expect(problem('incident', 'ack 3 4')).toMatch(/^\/incident ack: unexpected "4"\./);
    expect(problem('incident', 'silence 3')).toMatch(/^\/incident silence: missing <duration>\./);
    expect(problem('incident', 'silence 3 forever')).toMatch(/"forever" is not a duration: use a number and m, h or d, e.g. 30m, 2h, 1d/);
    expect(problem('incident', 'silence 3 8d')).toMatch(/a silence lasts at most 7d/);
    expect(problem('incident', `resolve 3 ${'x'.repeat(501)}`)).toMatch(/<note>: the note is at most 500 characters/);
    expect(problem('runbook', 'show Bad_Name')).toMatch(/<name>: a runbook name is lower-case letters/);
    expect(problem('runbook', 'run gitcortex')).toMatch(/^\/runbook run: missing <step>\./);
    expect(problem('runbook', 'run gitcortex health nonsense')).toMatch(/<params>: "nonsense" is not a param=value pair/);
    expect(problem('runbook', 'run gitcortex health a=1 a=2')).toMatch(/param "a" is given twice/);
    expect(problem('runbook', 'run gitcortex health --incident x')).toMatch(/<incident>: the incident id must be a number/);
    expect(problem('runbook', 'list extra')).toMatch(/^\/runbook list: unexpected "extra"\./);
  });

  it('names a bad incident id or silence duration in the bot\'s language (zh-CN)', () => {
    const previous = useLocale({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' });
    try {
      const said = [problem('incident', 'show twelve'), problem('incident', 'silence 3 forever'), problem('incident', 'silence 3 8d'), problem('incident', 'silence 3 0m')];
      expect(said[0]).toContain('事件编号必须是数字（例如 12），而不是 "twelve"');
      expect(said[1]).toContain('"forever" 不是有效的时长');
      expect(said[2]).toContain('静默时长最多 7d');
      expect(said[3]).toContain('静默时长至少 1m');
      expect(said.map((x) => ({ x, english: englishIn(x, { allowed: ['twelve', 'forever', 'show', 'silence'] }) })).filter((x) => x.english.length > 0)).toEqual([]);
    } finally {
      useLocale(previous);
    }
  });

  it('bounds silence durations', () => {
    expect(parseSilenceDuration('1m')).toEqual({ ok: true, ms: 60_000 });
    expect(parseSilenceDuration('7d')).toEqual({ ok: true, ms: 604_800_000 });
    expect(parseSilenceDuration('0m')).toEqual({ ok: false, reason: 'a silence lasts at least 1m' });
    expect(parseSilenceDuration('90s').ok).toBe(false);
  });

  it('round-trips the silence buttons through the codec', () => {
    for (const action of ['silence', 'unsilence'] as const) {
      const id = encodeButtonId({ action, incidentId: 123456789012345 });
      expect(id.length).toBeLessThanOrEqual(100);
      expect(decodeButtonId(id)).toEqual({ action, incidentId: 123456789012345 });
    }
    expect(decodeButtonId('silence:abc')).toBeUndefined();
    expect(decodeButtonId('silence:1:2')).toBeUndefined();
  });
});
