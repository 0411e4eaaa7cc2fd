import { describe, expect, it } from 'vitest';
import { resolveParams } from '../../../src/runbooks/index.js';
import { EXAMPLE_MANIFEST, runbookWith } from './helpers.js';
import { parseRunbook } from '../../../src/runbooks/index.js';

const gitcortex = parseRunbook(EXAMPLE_MANIFEST, 'gitcortex.yaml');

describe('resolveParams', () => {
  it('takes values from labels and defaults', () => {
    expect(resolveParams(gitcortex, { instance: 'db1.example:8080', service: 'gitcortex' })).toEqual({
      ok: true,
      params: { instance: 'db1.example:8080', unit: 'gitcortex' },
    });
  });

  it('prefers the label over the default, and falls back to the default when the label is missing or empty', () => {
    const runbook = runbookWith('  unit: { fromLabel: unit, default: web, pattern: "[a-z]+" }', '  - { id: a, title: A, action: exec, run: [echo, "{{unit}}"] }');
    expect(resolveParams(runbook, { unit: 'api' })).toEqual({ ok: true, params: { unit: 'api' } });
    expect(resolveParams(runbook, {})).toEqual({ ok: true, params: { unit: 'web' } });
    expect(resolveParams(runbook, { unit: '' })).toEqual({ ok: true, params: { unit: 'web' } });
  });

  it('reports a missing label without default', () => {
    expect(resolveParams(gitcortex, {})).toEqual({
      ok: false,
      problems: ['param "instance": label "instance" is missing and there is no default'],
    });
  });

  it('ignores labels that only exist on Object.prototype', () => {
    const runbook = runbookWith('  c: { fromLabel: constructor, pattern: ".+" }', '  - { id: a, title: A, action: exec, run: [echo, "{{c}}"] }');
    expect(resolveParams(runbook, {})).toMatchObject({ ok: false });
  });

  it.each([
    ['$(touch /tmp/pwned)'],
    ['a; reboot'],
    ['x\nrm -rf /'],
    ['`reboot`'],
    ['db1:80 && reboot'],
    ['db1:80\n'],
  ])('rejects the injection attempt %j with a normal pattern', (value) => {
    const result = resolveParams(gitcortex, { instance: value });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(/^param "instance" from label "instance": value ".*" (does not match \^\[a-z0-9\.-\]\+:\[0-9\]\+\$|contains a line break or NUL character)$/);
  });

  it('explains a rejected value clearly', () => {
    expect(resolveParams(gitcortex, { instance: 'a; reboot' })).toEqual({
      ok: false,
      problems: ['param "instance" from label "instance": value "a; reboot" does not match ^[a-z0-9.-]+:[0-9]+$'],
    });
  });

  it('rejects line breaks and NUL even when the pattern allows anything', () => {
    const runbook = runbookWith('  any: { fromLabel: any, pattern: "[\\\\s\\\\S]*" }', '  - { id: a, title: A, action: exec, run: [echo, "{{any}}"] }');
    for (const value of ['a\nb', 'a\rb', 'a\0b']) {
      expect(resolveParams(runbook, { any: value })).toEqual({
        ok: false,
        problems: [`param "any" from label "any": value ${JSON.stringify(value)} contains a line break or NUL character`],
      });
    }
    expect(resolveParams(runbook, { any: 'a b; c' })).toEqual({ ok: true, params: { any: 'a b; c' } });
  });

  it('rejects overlong values and truncates long values in messages', () => {
    const runbook = runbookWith('  any: { fromLabel: any, pattern: ".*" }\n  n: { fromLabel: n, pattern: "[0-9]+" }', '  - { id: a, title: A, action: exec, run: [echo, "{{any}}{{n}}"] }');
    const result = resolveParams(runbook, { any: 'x'.repeat(1025), n: 'y'.repeat(500) });
    expect(result).toEqual({
      ok: false,
      problems: [
        'param "any" from label "any": value is 1025 characters long (max 1024)',
        `param "n" from label "n": value "${'y'.repeat(60)}"… does not match [0-9]+`,
      ],
    });
    expect(resolveParams(runbook, { any: 'x'.repeat(1024), n: '1' }).ok).toBe(true);
  });

  it('applies the pattern to the whole value even without ^ and $', () => {
    const runbook = runbookWith('  n: { fromLabel: n, pattern: "[0-9]+|ok" }', '  - { id: a, title: A, action: exec, run: [echo, "{{n}}"] }');
    expect(resolveParams(runbook, { n: '42' }).ok).toBe(true);
    expect(resolveParams(runbook, { n: 'ok' }).ok).toBe(true);
    expect(resolveParams(runbook, { n: '42; reboot' }).ok).toBe(false);
    expect(resolveParams(runbook, { n: 'reboot; ok' }).ok).toBe(false);
  });
});

describe('label values that look like program options', () => {
  it('refuses a label value starting with "-" even when the pattern allows it, but not a default', () => {
    const rb = parseRunbook(
      `name: opt\nmatch: {}\nparams:\n  v: { fromLabel: v, pattern: '.+' }\n  d: { default: '-n', pattern: '.+' }\nsteps:\n  - { id: a, title: A, action: exec, run: [echo, '{{d}}', '{{v}}'] }\n`,
      'opt.yaml',
    );
    const refused = resolveParams(rb, { v: '--require=/tmp/x.js' });
    expect(refused.ok).toBe(false);
    expect(refused.ok ? '' : refused.problems.join()).toContain('starts with "-" and could be read as a program option');
    expect(resolveParams(rb, { v: 'web-1' })).toEqual({ ok: true, params: { v: 'web-1', d: '-n' } });
  });
});
