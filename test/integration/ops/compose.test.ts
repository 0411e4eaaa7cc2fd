import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeStep, runStep, type RunbookStep, type StepResult } from '../../../src/runbooks/index.js';
import { forgetDetectedCompose } from '../../../src/runbooks/actions/ops/compose-engine.js';
import { freePort } from '../../support/bot-process.js';
import { composeFileText, composeProject, containersOf, requireDocker, type ComposeProject } from '../../support/compose-project.js';
import { fact, opsStep } from '../../support/ops-steps.js';

/*
 * The compose action against a real Docker engine, for what the runbooks' end-to-end test
 * (test/e2e/compose-runbooks.test.ts: ps, logs, restart, stop/start, down/up through the bot) does
 * not reach: exec, COMPOSE_COMMAND, a project named by its file alone, a bounded wait that fails,
 * and refusals.
 */

const docker = await requireDocker();
const PREFIX = 'ops-compose';

const run = (step: RunbookStep, composeCommand?: string[]): Promise<StepResult> =>
  runStep(step, {}, { signal: new AbortController().signal, redact: (s) => s, env: process.env, settings: { composeCommand } });

docker.describe('compose steps on a real engine', () => {
  let p: ComposeProject;
  let ports: Record<string, number>;

  beforeAll(async () => {
    ports = { web: await freePort() };
    p = composeProject({ prefix: PREFIX, compose: docker.value.compose, ports, file: 'compose.prod.yml' });
    await p.up();
  }, 120_000);

  afterAll(async () => {
    await p?.dispose();
    // Nothing of these tests is left on the engine.
    expect(await containersOf(PREFIX)).toEqual([]);
  }, 60_000);

  const target = () => ({ projectDir: p.dir, file: 'compose.prod.yml' });

  it('exec: runs a command in the running container', async () => {
    const result = await run(opsStep('compose', { command: 'exec', service: 'web', run: ['cat', '/www/health'], ...target() }));
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.outputTail.trim()).toBe('web ok');
  }, 60_000);

  it('uses COMPOSE_COMMAND when set: a wrong one fails with its own error', async () => {
    const result = await run(opsStep('compose', { command: 'ps', ...target() }), ['docker-compose-missing']);
    expect(result.status).toBe('failed');
    expect(result.summary).toBe('`docker-compose-missing -f compose.prod.yml ps -a` failed: could not start "docker-compose-missing": ENOENT');
    const right = await run(opsStep('compose', { command: 'ps', ...target() }), docker.value.compose);
    expect(right.status, right.summary).toBe('succeeded');
    expect(fact(right, 'compose')).toBe(`\`${[...docker.value.compose, '-f', 'compose.prod.yml', 'ps', '-a'].join(' ')}\``);
    expect(fact(right, 'project directory')).toBe(p.dir);
  }, 60_000);

  it('the file alone names the project: its directory is the working directory', async () => {
    const result = await run(opsStep('compose', { command: 'ps', service: 'web', file: p.file }));
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.summary).toMatch(/^1 containers: .*web.* running$/);
    expect(result.facts?.find((f) => f.label.includes('web'))?.value).toMatch(/^running, \d{4}-/);
    expect(describeStep(opsStep('compose', { command: 'ps', service: 'web', file: p.file }), {})).toContain(`will list the containers of service web in ${p.file}`);
  }, 60_000);
});

docker.describe('compose: waiting until running is bounded, and says why not', () => {
  let p: ComposeProject;
  beforeAll(async () => {
    p = composeProject({ prefix: PREFIX, compose: docker.value.compose, ports: { api: await freePort() } });
    // A service that prints why and exits: it never runs.
    fs.writeFileSync(
      path.join(p.dir, 'docker-compose.yml'),
      composeFileText({ api: 1 }).replace(/command: .+/u, 'command: ["sh", "-c", "echo api cannot read its config >&2; exit 3"]'),
    );
    forgetDetectedCompose();
  });
  afterAll(async () => {
    await p?.dispose();
  }, 60_000);

  it('up: not running within withinSeconds, the last state and the service log in the thread', async () => {
    const started = performance.now();
    const result = await run(opsStep('compose', { command: 'up', service: 'api', projectDir: p.dir, withinSeconds: 5 }, { timeoutSeconds: 60 }));
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/; service api not running within 5s: last .*api.* exited \(3\)$/);
    expect(result.outputTail).toContain('api cannot read its config');
    expect(performance.now() - started).toBeLessThan(50_000);
  }, 90_000);

  it('refuses a project given by a relative file alone, and a project directory that does not exist', async () => {
    expect((await run(opsStep('compose', { command: 'ps', file: 'docker-compose.yml' }))).summary).toBe('refused: give projectDir, or a file with an absolute path (its directory is the project directory)');
    expect((await run(opsStep('compose', { command: 'ps', projectDir: path.join(p.dir, 'nope') }))).summary).toBe(`refused: the compose project directory ${path.join(p.dir, 'nope')} does not exist or is not a directory`);
    expect((await run(opsStep('compose', { command: 'down', service: 'api', projectDir: p.dir }))).summary).toBe('refused: down takes no service (it removes the whole project); use stop for one service');
  });
});
