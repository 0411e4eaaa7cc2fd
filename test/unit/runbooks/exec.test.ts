import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeStep, runStep, type RunbookStep } from '../../../src/runbooks/index.js';
import { REDACTED } from '../../../src/domain/redact.js';
import { SECRET, context, runbookWith, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();
const NODE = process.execPath;

/** One exec step (given as an object, written into YAML as JSON) parsed through the real loader. */
function execStep(step: Record<string, unknown>, params: Record<string, unknown> = {}): RunbookStep {
  const paramsYaml = Object.entries(params).map(([name, spec]) => `  ${name}: ${JSON.stringify(spec)}`).join('\n') || '  {}';
  const runbook = runbookWith(paramsYaml, `  - ${JSON.stringify({ id: 'step', title: 'Step', action: 'exec', ...step })}`);
  const [parsed] = runbook.steps;
  if (!parsed) throw new Error('no step');
  return parsed;
}

/** argv echo: prints the arguments the program received, as JSON. */
const ECHO_ARGV = 'console.log(JSON.stringify(process.argv.slice(1)))';

describe('exec steps', () => {
  it('really runs the command', async () => {
    const out = path.join(await tempDir(), 'ran.txt');
    const step = execStep(
      { run: [NODE, '-e', 'require("node:fs").writeFileSync(process.argv[1], "ran")', '{{out}}'] },
      { out: { default: out, pattern: '.+' } },
    );

    const result = await runStep(step, { out }, context());

    expect(result).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect(result.summary).toMatch(/^exit 0 in (\d+ ms|\d+\.\ds)$/);
    expect(result.durationMs).toBeGreaterThan(0);
    expect(await readFile(out, 'utf8')).toBe('ran');
  });

  it('passes a hostile value as exactly one argument and never through a shell', async () => {
    const dir = await tempDir();
    const pwned = path.join(dir, 'pwned');
    const step = execStep({ run: [NODE, '-e', ECHO_ARGV, 'prefix-{{v}}', '{{v}}'] }, { v: { fromLabel: 'v', pattern: '.+' } });

    for (const value of [`a; touch ${pwned}`, `$(touch ${pwned})`, `\`touch ${pwned}\``, `a' "b" | touch ${pwned} && x`]) {
      const result = await runStep(step, { v: value }, context());
      expect(result.status).toBe('succeeded');
      expect(JSON.parse(result.outputTail)).toEqual([`prefix-${value}`, value]);
    }
    expect(existsSync(pwned)).toBe(false);
  });

  it('passes only PATH, allowlisted variables and setEnv to the command', async () => {
    const step = execStep(
      {
        run: [NODE, '-e', 'console.log(JSON.stringify(process.env))'],
        env: ['ALLOWED', 'ABSENT', 'constructor'],
        setEnv: { FIXED: 'unit-{{unit}}' },
      },
      { unit: { default: 'web', pattern: '[a-z]+' } },
    );
    const env = { PATH: process.env.PATH, ALLOWED: 'yes', BOT_TOKEN: 'not-for-commands' };

    const result = await runStep(step, { unit: 'web' }, context(env));

    expect(result.status).toBe('succeeded');
    const seen = JSON.parse(result.outputTail) as Record<string, string>;
    expect(seen.ALLOWED).toBe('yes');
    expect(seen.FIXED).toBe('unit-web');
    expect(seen.PATH).toBe(process.env.PATH);
    expect(seen).not.toHaveProperty('BOT_TOKEN');
    expect(seen).not.toHaveProperty('ABSENT');
    expect(Object.hasOwn(seen, 'constructor')).toBe(false);
  });

  it('does not leak the test process environment', async () => {
    process.env.RUNBOOK_TEST_LEAK = 'leaked';
    try {
      const step = execStep({ run: [NODE, '-e', 'console.log(process.env.RUNBOOK_TEST_LEAK ?? "absent")'], env: [] });
      const result = await runStep(step, {}, context({ PATH: process.env.PATH }));
      expect(result.outputTail).toBe('absent');
    } finally {
      delete process.env.RUNBOOK_TEST_LEAK;
    }
  });

  it('times out', async () => {
    const step = execStep({ run: [NODE, '-e', 'setTimeout(() => {}, 10000)'], timeoutSeconds: 1 });
    const result = await runStep(step, {}, context());
    expect(result).toMatchObject({ status: 'timed_out', summary: 'timed out after 1s' });
    expect(result.durationMs).toBeLessThan(8000);
  });

  it('stops when the caller cancels', async () => {
    const controller = new AbortController();
    const step = execStep({ run: [NODE, '-e', 'setTimeout(() => {}, 10000)'] });
    setTimeout(() => controller.abort(), 200);
    const result = await runStep(step, {}, context(undefined, controller.signal));
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/^cancelled after /);
  });

  it('fails clearly when the program does not exist', async () => {
    const step = execStep({ run: ['definitely-not-a-program-3141', 'x'] });
    const result = await runStep(step, {}, context());
    expect(result).toMatchObject({ status: 'failed', summary: 'could not start "definitely-not-a-program-3141": ENOENT', outputTail: '' });
    expect(result.exitCode).toBeUndefined();
  });

  it('fails clearly when cwd is unusable', async () => {
    const cwd = path.join(await tempDir(), 'missing');
    const step = execStep({ run: [NODE, '-e', '1'], cwd });
    const result = await runStep(step, {}, context());
    expect(result).toMatchObject({ status: 'failed', summary: `could not start "${NODE}": ENOENT (cwd "${cwd}" is not usable)` });
  });

  it('runs in cwd', async () => {
    const cwd = await tempDir();
    const result = await runStep(execStep({ run: [NODE, '-e', 'console.log(process.cwd())'], cwd }), {}, context());
    expect(result.outputTail).toBe(cwd);
  });

  it('fails on a non-zero exit, keeping stdout and stderr together', async () => {
    const step = execStep({ run: [NODE, '-e', 'console.log("to stdout"); console.error("to stderr"); process.exit(3)'] });
    const result = await runStep(step, {}, context());
    expect(result).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(result.summary).toMatch(/^exit 3 in /);
    expect(result.outputTail).toBe('to stdout\nto stderr');
  });

  it('redacts secrets the command prints', async () => {
    const step = execStep({ run: [NODE, '-e', `console.log("value ${SECRET}"); console.error("token=abcdefgh12345 Bearer abcdefgh.ijklmnop")`] });
    const result = await runStep(step, {}, context());
    expect(result.outputTail).toBe(`value ${REDACTED}\ntoken=${REDACTED} Bearer ${REDACTED}`);
    expect(result.outputTail).not.toContain(SECRET);
  });

  it('shows long output as its first and last lines, the cut marked, and keeps the whole output', async () => {
    const step = execStep({ run: [NODE, '-e', 'for (let i = 1; i <= 100; i++) console.log("line " + i)'] });
    const result = await runStep(step, {}, context());
    const lines = result.outputTail.split('\n');
    expect(lines).toEqual([...[1, 2, 3, 4, 5].map((i) => `line ${i}`), '… 83 lines cut …', ...Array.from({ length: 12 }, (_, i) => `line ${89 + i}`)]);
    expect(result.output?.split('\n')).toHaveLength(100);
  });

  it('keeps the lines a step names (keep:) from the cut middle', async () => {
    const step = execStep({ run: [NODE, '-e', 'for (let i = 1; i <= 100; i++) console.log(i === 50 ? "maxmemory:0" : "line " + i)'], keep: ['^maxmemory:'] });
    const result = await runStep(step, {}, context());
    expect(result.outputTail).toContain('line 5\n… 44 lines cut …\nmaxmemory:0\n… 38 lines cut …\nline 89');
  });

  it('fails a check whose output crosses its expectation, showing the value', async () => {
    const df = 'Filesystem Size Used Avail Use% Mounted on\n/dev/sda1 20G 18G 2G 91% /\ntmpfs 1G 0 1G 0% /run';
    const step = execStep({ run: [NODE, '-e', `console.log(${JSON.stringify(df)})`], expect: [{ label: 'disk use %', value: '(\\d+)%\\s', max: 85 }, { absent: 'ERROR' }] });
    const result = await runStep(step, {}, context());
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/^exit 0 in .*, but disk use % 91 outside max 85$/);
    // Each value as written (English), and as a code for the bot to say in another language.
    expect(result.facts).toEqual([
      { label: 'disk use %', value: '❌ 91 in `/dev/sda1 20G 18G 2G 91% /` (max 85)', said: { code: 'checkValue.outside', params: { lines: '91 `/dev/sda1 20G 18G 2G 91% /`', bounds: '≤ 85' } } },
      { label: 'no /ERROR/', value: '✅ none', said: { code: 'checkValue.none', params: {} } },
    ]);
  });

  it('keeps at most 1500 characters, the last line whole', async () => {
    const step = execStep({ run: [NODE, '-e', 'for (let i = 1; i <= 10; i++) console.log(String(i).padStart(400, "x")); console.log("the end")'] });
    const result = await runStep(step, {}, context());
    expect([...result.outputTail].length).toBeLessThanOrEqual(1500);
    expect(result.outputTail).toMatch(/ lines? cut …\n/);
    expect(result.outputTail.endsWith('…\nthe end')).toBe(true);
  });

  it('redacts a secret even when the output is huge, and stays bounded', async () => {
    const step = execStep({ run: [NODE, '-e', `process.stdout.write("y".repeat(3_000_000) + "\\n${SECRET}\\n")`] });
    const result = await runStep(step, {}, context());
    expect(result.status).toBe('succeeded');
    expect(result.outputTail.endsWith(`\n${REDACTED}`)).toBe(true);
    expect(result.outputTail.length).toBeLessThanOrEqual(1500);
  });

  it('describes what it would run', () => {
    const step = execStep(
      { run: ['systemctl', 'restart', '{{unit}}', '{{note}}'], changes: true },
      { unit: { default: 'gitcortex', pattern: '.+' }, note: { default: "it's down", pattern: '.+' } },
    );
    expect(describeStep(step, { unit: 'gitcortex', note: "it's down" })).toBe(`will run \`systemctl restart gitcortex 'it'\\''s down'\` (timeout 60s)`);
  });

  it('turns a render failure into a failed result instead of throwing', async () => {
    const step = execStep({ run: [NODE, '-e', ECHO_ARGV, '{{v}}'] }, { v: { fromLabel: 'v', pattern: '.+' } });
    const result = await runStep(step, {}, context());
    expect(result).toMatchObject({ status: 'failed', summary: 'step could not run: template "{{v}}" uses unknown param "v"' });
  });
});
