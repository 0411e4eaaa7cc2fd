import { describe, expect, it } from 'vitest';
import { RunbookError } from '../../../src/domain/errors.js';
import { ACTION_NAMES, matchingRunbooks, parseRunbook, renderTemplate, runbookMatches, templateNames } from '../../../src/runbooks/index.js';
import { EXAMPLE_MANIFEST } from './helpers.js';

describe('renderTemplate', () => {
  it('replaces placeholders with optional inner spaces', () => {
    expect(renderTemplate('http://{{host}}:{{ port }}/{{  host  }}', { host: 'db', port: '80' })).toBe('http://db:80/db');
  });

  it('throws on an unknown name', () => {
    expect(() => renderTemplate('{{ nope }}', {})).toThrow(new RunbookError('template "{{ nope }}" uses unknown param "nope"'));
    expect(() => renderTemplate('{{constructor}}', {})).toThrow(RunbookError);
  });

  it('inserts values verbatim: no re-expansion, no $-patterns', () => {
    expect(renderTemplate('{{a}}', { a: '{{b}}', b: 'no' })).toBe('{{b}}');
    expect(renderTemplate('x{{a}}x', { a: "$& $1 $$ $'" })).toBe("x$& $1 $$ $'x");
  });

  it('leaves text without placeholders alone', () => {
    expect(renderTemplate('plain { text } {{', {})).toBe('plain { text } {{');
  });
});

describe('templateNames', () => {
  it('lists names once, in order of first use', () => {
    expect(templateNames('{{b}}/{{ a }}/{{b}}')).toEqual(['b', 'a']);
    expect(templateNames('none')).toEqual([]);
  });
});

describe('runbook matching', () => {
  const runbook = parseRunbook(EXAMPLE_MANIFEST, 'gitcortex.yaml');
  const catchAll = parseRunbook('name: any\nmatch: {}\nsteps: [{ id: a, title: A, action: exec, run: ["true"] }]', 'any.yaml');

  it('requires every label to match, a list meaning any of', () => {
    expect(runbookMatches(runbook, { service: 'gitcortex', alertname: 'HighLatency', severity: 'page' })).toBe(true);
    expect(runbookMatches(runbook, { service: 'gitcortex', alertname: 'GitCortexDown' })).toBe(true);
    expect(runbookMatches(runbook, { service: 'gitcortex', alertname: 'DiskFull' })).toBe(false);
    expect(runbookMatches(runbook, { service: 'GitCortex', alertname: 'HighLatency' })).toBe(false);
    expect(runbookMatches(runbook, { alertname: 'HighLatency' })).toBe(false);
  });

  it('filters a list, keeping order; an empty match takes every alert', () => {
    expect(matchingRunbooks([runbook, catchAll], { service: 'gitcortex', alertname: 'HighLatency' })).toEqual([runbook, catchAll]);
    expect(matchingRunbooks([runbook, catchAll], {})).toEqual([catchAll]);
  });
});

describe('ACTION_NAMES', () => {
  it('lists the actions a step may use', () => {
    expect(ACTION_NAMES).toEqual(['exec', 'http', 'restart', 'checkpoint', 'backup', 'restore', 'rollback', 'verify', 'locate', 'compose']);
  });
});
