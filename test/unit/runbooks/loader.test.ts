import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunbookError } from '../../../src/domain/errors.js';
import { describeStep, runStep } from '../../../src/runbooks/actions/index.js';
import { loadRunbooks, parseRunbook } from '../../../src/runbooks/index.js';
import { EXAMPLE_MANIFEST, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();

/** Writes files into a new temp dir and returns it. */
async function dirWith(files: Record<string, string>): Promise<string> {
  const dir = await tempDir();
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

/** The RunbookError message from loading `text` as the only manifest, in file `bad.yaml`. */
async function loadError(text: string): Promise<{ message: string; file: string }> {
  const dir = await dirWith({ 'bad.yaml': text });
  const error = await loadRunbooks(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunbookError);
  return { message: (error as RunbookError).message, file: path.join(dir, 'bad.yaml') };
}

/** A minimal valid manifest with the given steps block. */
const withSteps = (steps: string, params = 'params: { unit: { default: web, pattern: "[a-z]+" } }') =>
  `name: x\nmatch: {}\n${params}\nsteps:\n${steps}\n`;

describe('loadRunbooks', () => {
  it('loads a valid manifest with defaults applied', async () => {
    const dir = await dirWith({ 'gitcortex.yaml': EXAMPLE_MANIFEST, 'notes.txt': 'ignored', 'other.yml': withSteps('  - { id: a, title: A, action: exec, run: ["true"] }') });
    await mkdir(path.join(dir, 'nested.yaml')); // a directory with a manifest-like name is skipped

    const runbooks = await loadRunbooks(dir);

    expect(runbooks.map((r) => r.name)).toEqual(['gitcortex-db', 'x']); // sorted by file name
    const [gitcortex] = runbooks;
    expect(gitcortex?.match).toEqual({ service: 'gitcortex', alertname: ['GitCortexDown', 'HighLatency'] });
    expect(gitcortex?.params.instance).toEqual({ chosen: false, fromLabel: 'instance', pattern: '^[a-z0-9.-]+:[0-9]+$' });
    const [health, restart] = gitcortex?.steps ?? [];
    expect(health).toMatchObject({
      action: 'http',
      changes: false,
      danger: false,
      timeoutSeconds: 60,
      approval: undefined,
      with: { url: 'http://{{instance}}/api/health', method: 'GET', expectStatus: [200], timeoutSeconds: 10 },
    });
    expect(restart).toMatchObject({
      action: 'exec',
      run: ['systemctl', 'restart', '{{unit}}'],
      changes: true,
      env: [],
      setEnv: {},
      approval: { approvers: 1, selfApprove: false },
    });
  });

  it('follows symlinked manifests (as Kubernetes ConfigMap volumes present them)', async () => {
    const source = await dirWith({ 'real.yaml': EXAMPLE_MANIFEST });
    const dir = await tempDir();
    await symlink(path.join(source, 'real.yaml'), path.join(dir, 'linked.yaml'));
    expect((await loadRunbooks(dir)).map((r) => r.name)).toEqual(['gitcortex-db']);
  });

  it('loads several directories in order, with names unique across them', async () => {
    const first = await dirWith({ 'a.yaml': EXAMPLE_MANIFEST });
    const second = await dirWith({ 'b.yaml': EXAMPLE_MANIFEST.replace('name: gitcortex-db', 'name: other-db') });
    expect((await loadRunbooks([first, second])).map((r) => r.name)).toEqual(['gitcortex-db', 'other-db']);
    const again = await dirWith({ 'c.yaml': EXAMPLE_MANIFEST });
    await expect(loadRunbooks([first, again])).rejects.toThrow(
      `${path.join(again, 'c.yaml')}: name: duplicate runbook name "gitcortex-db" (already defined in ${path.join(first, 'a.yaml')})`,
    );
  });

  it('gives a changing step a default approval and leaves read-only steps without one', () => {
    const runbook = parseRunbook(
      withSteps(`
  - { id: change, title: Change, action: exec, run: ["true"], changes: true }
  - { id: read, title: Read, action: exec, run: ["true"] }
  - { id: asked, title: Asked, action: exec, run: ["true"], approval: { approvers: 2 } }`),
      'x.yaml',
    );
    expect(runbook.steps.map((s) => s.approval)).toEqual([
      { approvers: 1, selfApprove: false },
      undefined,
      { approvers: 2, selfApprove: false },
    ]);
  });

  it('rejects a missing directory', async () => {
    const missing = path.join(await tempDir(), 'nope');
    await expect(loadRunbooks(missing)).rejects.toThrow(new RunbookError(`runbook directory ${missing} cannot be read: ENOENT`));
  });

  it('names file and path when run is missing', async () => {
    const { message, file } = await loadError(withSteps('  - { id: a, title: A, action: exec }\n  - { id: b, title: B, action: exec }'));
    expect(message).toBe(`${file}: steps.0.run: Required\n${file}: steps.1.run: Required`);
  });

  it('rejects a pattern that is not a valid regular expression', async () => {
    const { message, file } = await loadError(withSteps('  - { id: a, title: A, action: exec, run: ["true"] }', 'params: { p: { default: a, pattern: "[a-" } }'));
    expect(message).toMatch(new RegExp(`^${escape(file)}: params\\.p\\.pattern: invalid regular expression: `));
  });

  it('rejects a pattern whose alternation would escape the anchors', async () => {
    const { message } = await loadError(withSteps('  - { id: a, title: A, action: exec, run: ["true"] }', 'params: { p: { default: a, pattern: "x)|.*|(?:y" } }'));
    expect(message).toContain('params.p.pattern: invalid regular expression');
  });

  it('rejects a template in the program (argv[0])', async () => {
    const { message, file } = await loadError(withSteps('  - { id: a, title: A, action: exec, run: ["{{unit}}", status] }'));
    expect(message).toBe(`${file}: steps.0.run.0: the program (run[0]) may not contain a {{template}}: a label must never change which program runs`);
  });

  it('rejects a template naming an undeclared param, naming step and param', async () => {
    const { message, file } = await loadError(
      withSteps(`
  - { id: ok, title: OK, action: exec, run: [echo, '{{ unit }}'] }
  - { id: restart, title: Restart, action: exec, run: [systemctl, restart, 'x-{{servce}}'] }
  - { id: check, title: Check, action: http, with: { url: 'http://{{host}}/' } }`),
    );
    expect(message).toBe(
      [
        `${file}: steps.1.run.2: step "restart" uses unknown param "servce" (declared params: unit)`,
        `${file}: steps.2.with.url: step "check" uses unknown param "host" (declared params: unit)`,
      ].join('\n'),
    );
  });

  it('rejects templates in setEnv with unknown params, and a working directory filled from a label', async () => {
    const { message, file } = await loadError(
      withSteps(
        `  - { id: a, title: A, action: exec, run: [env], cwd: '/srv/{{host}}', setEnv: { TARGET: '{{nope}}' } }`,
        'params: { unit: { default: web, pattern: "[a-z]+" }, host: { fromLabel: instance, pattern: "[a-z]+" } }',
      ),
    );
    expect(message).toContain(`${file}: steps.0.cwd: cwd may only use params with a default, not "host" (from a label or chosen)`);
    expect(message).toContain(`${file}: steps.0.setEnv.TARGET: step "a" uses unknown param "nope"`);
  });

  it('renders a working directory from a param with a default', async () => {
    const dir = await dirWith({ 'x.yaml': withSteps(`  - { id: a, title: A, action: exec, run: [pwd], cwd: '/{{unit}}' }`, 'params: { unit: { default: tmp, pattern: "[a-z]+" } }') });
    const [runbook] = await loadRunbooks(dir);
    const step = runbook!.steps[0]!;
    expect(describeStep(step, { unit: 'tmp' })).toBe('will run `pwd` in /tmp (timeout 60s)');
    const result = await runStep(step, { unit: 'tmp' }, { signal: new AbortController().signal, redact: (x) => x, env: process.env });
    expect(result.outputTail).toBe('/tmp');
  });

  it('rejects duplicate step ids', async () => {
    const { message, file } = await loadError(
      withSteps('  - { id: a, title: A, action: exec, run: ["true"] }\n  - { id: a, title: Again, action: exec, run: ["true"] }'),
    );
    expect(message).toBe(`${file}: steps.1.id: duplicate step id "a" (also steps.0)`);
  });

  it('rejects a default that does not match its pattern', async () => {
    const { message, file } = await loadError(withSteps('  - { id: a, title: A, action: exec, run: ["true"] }', "params: { unit: { default: 'Web Server', pattern: '[a-z]+' } }"));
    expect(message).toBe(`${file}: params.unit.default: default value "Web Server" does not match [a-z]+`);
  });

  it('rejects a param with neither fromLabel nor default', async () => {
    const { message, file } = await loadError(withSteps('  - { id: a, title: A, action: exec, run: ["true"] }', "params: { unit: { pattern: '[a-z]+' } }"));
    expect(message).toBe(`${file}: params.unit: a param needs fromLabel, default, or both (or chosen: true)`);
  });

  it('reports YAML syntax errors with a line number', async () => {
    const { message, file } = await loadError('name: x\nmatch: {}\nsteps: [\n  - id: a\n');
    expect(message).toMatch(new RegExp(`^${escape(file)}: YAML syntax error at line \\d+: `));
    const duplicateKey = await loadError('name: x\nname: y\n');
    expect(duplicateKey.message).toMatch(new RegExp(`^${escape(duplicateKey.file)}: YAML syntax error at line 2: .*unique`));
  });

  it('reads aliases and complex keys as yaml does, and bounds alias expansion', async () => {
    const expanded = withSteps('  - { id: a, title: A, action: exec, run: ["echo", "hi"] }\n  - { id: b, title: B, action: exec, run: ["echo", "hi"] }');
    const aliased = withSteps('  - { id: a, title: A, action: exec, run: &argv ["echo", "hi"] }\n  - { id: b, title: B, action: exec, run: *argv }');
    expect(parseRunbook(aliased, 'aliased.yaml')).toEqual(parseRunbook(expanded, 'expanded.yaml'));

    const complexKey = await loadError('name: x\nmatch: {}\n? [a, b]\n: 1\nsteps: [{ id: a, title: A, action: exec, run: ["true"] }]\n');
    expect(complexKey.message).toBe(`${complexKey.file}: (top level): Unrecognized key: "[ a, b ]"`);

    const laughs = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (const name of 'bcdefghi') laughs.push(`${name}: &${name} [${Array(9).fill(`*${String.fromCharCode(name.charCodeAt(0) - 1)}`).join(', ')}]`);
    const billion = await loadError(`${laughs.join('\n')}\nname: x\n`);
    expect(billion.message).toMatch(new RegExp(`^${escape(billion.file)}: YAML error: .*alias`, 'i'));
  });

  it('rejects unknown keys, so a typo cannot silently drop a safety setting', async () => {
    const { message, file } = await loadError(withSteps('  - { id: a, title: A, action: exec, run: ["true"], change: true }'));
    expect(message).toBe(`${file}: steps.0: Unrecognized key: "change"`);
  });

  it('rejects an unknown action and out-of-range values', async () => {
    const { message, file } = await loadError(
      withSteps(`
  - { id: a, title: A, action: ssh, run: ["true"] }
  - { id: b, title: B, action: exec, run: ["true"], timeoutSeconds: 3601, approval: { approvers: 6 } }
  - { id: C, title: '${'t'.repeat(61)}', action: http, with: { url: 'http://x/', expectStatus: [], method: DELETE } }`),
    );
    expect(message.split('\n')).toEqual([
      `${file}: steps.0.action: Invalid discriminator value. Expected 'exec' | 'http' | 'restart' | 'checkpoint' | 'backup' | 'restore' | 'rollback' | 'verify' | 'locate' | 'compose'`,
      expect.stringMatching(new RegExp(`^${escape(file)}: steps\\.1\\.timeoutSeconds: `)),
      expect.stringMatching(new RegExp(`^${escape(file)}: steps\\.1\\.approval\\.approvers: `)),
      expect.stringMatching(new RegExp(`^${escape(file)}: steps\\.2\\.id: step ids must match`)),
      expect.stringMatching(new RegExp(`^${escape(file)}: steps\\.2\\.title: `)),
      expect.stringMatching(new RegExp(`^${escape(file)}: steps\\.2\\.with\\.method: `)),
      expect.stringMatching(new RegExp(`^${escape(file)}: steps\\.2\\.with\\.expectStatus: `)),
    ]);
  });

  it('rejects an empty file and a bad name with the top-level path', async () => {
    expect((await loadError('')).message).toMatch(/bad\.yaml: \(top level\): /);
    expect((await loadError(withSteps('  - { id: a, title: A, action: exec, run: ["true"] }').replace('name: x', 'name: X_y'))).message).toMatch(
      /bad\.yaml: name: runbook names must match/,
    );
  });

  it('rejects bodyContains on HEAD and non-string argv elements', async () => {
    const { message, file } = await loadError(
      withSteps(`
  - { id: a, title: A, action: http, with: { url: 'http://x/', method: HEAD, bodyContains: ok } }
  - { id: b, title: B, action: exec, run: [sleep, 5] }`),
    );
    expect(message.split('\n')).toEqual([
      `${file}: steps.0.with.bodyContains: bodyContains cannot be checked on a HEAD request`,
      `${file}: steps.1.run.1: Invalid input: expected string, received number`,
    ]);
  });

  it('rejects duplicate runbook names across files, naming both', async () => {
    const dir = await dirWith({ 'a.yaml': EXAMPLE_MANIFEST, 'b.yml': EXAMPLE_MANIFEST });
    await expect(loadRunbooks(dir)).rejects.toThrow(
      `${path.join(dir, 'b.yml')}: name: duplicate runbook name "gitcortex-db" (already defined in ${path.join(dir, 'a.yaml')})`,
    );
  });

  it('reports problems from every file at once', async () => {
    const dir = await dirWith({ 'a.yaml': 'name: [', 'b.yaml': withSteps('  - { id: a, title: A, action: exec }') });
    const error = await loadRunbooks(dir).catch((e: unknown) => e as Error);
    const lines = (error as Error).message.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`${path.join(dir, 'a.yaml')}: YAML syntax error`);
    expect(lines[1]).toBe(`${path.join(dir, 'b.yaml')}: steps.0.run: Required`);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
