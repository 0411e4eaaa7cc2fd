import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeStep, runStep, type RunbookStep, type StepResult } from '../../../src/runbooks/index.js';
import { forgetDetectedCompose } from '../../../src/runbooks/actions/ops/compose-engine.js';
import { freePort } from '../../support/bot-process.js';
import { composeFileText, composeProject, containersOf, requireDocker, type ComposeProject } from '../../support/compose-project.js';
import { fact, opsStep } from '../../support/ops-steps.js';

/*
 * The compose action and the compose restart against a real Docker engine: a project of busybox
 * httpd services on host ports. Each command is checked by what the engine shows afterwards
 * (container start times and states, /health answers), not by what the step says alone.
 */

const docker = await requireDocker();
const PREFIX = 'ops-compose';

const run = (step: RunbookStep, composeCommand?: string[]): Promise<StepResult> =>
  runStep(step, {}, { signal: new AbortController().signal, redact: (s) => s, env: process.env, settings: { composeCommand } });

docker.describe('compose steps on a real engine', () => {
  let p: ComposeProject;
  let ports: Record<string, number>;

  beforeAll(async () => {
    ports = { web: await freePort(), worker: await freePort() };
    p = composeProject({ prefix: PREFIX, compose: docker.value.compose, ports, file: 'compose.prod.yml' });
    await p.up();
  }, 120_000);

  afterAll(async () => {
    await p?.dispose();
    // Nothing of these tests is left on the engine.
    expect(await containersOf(PREFIX)).toEqual([]);
  }, 60_000);

  const target = () => ({ projectDir: p.dir, file: 'compose.prod.yml' });

  it('restart: a new start of the same container, running again and answering /health', async () => {
    const before = await p.state('web');
    expect(before?.status).toBe('running');
    const result = await run(opsStep('restart', { kind: 'compose', service: 'web', ...target(), withinSeconds: 30, verify: { kind: 'http', url: `http://127.0.0.1:${ports.web}/health`, withinSeconds: 20, intervalSeconds: 0.2 } }, { timeoutSeconds: 90 }));
    expect(result.status, result.summary).toBe('succeeded');
    const after = await p.state('web');
    expect(after?.id).toBe(before?.id);
    expect(after?.startedAt).not.toBe(before?.startedAt);
    expect(await p.health('web')).toBe('web ok');
    expect(result.summary).toMatch(/^restarted compose service web \(.+\); running after .+ \(\d+ checks?\); verify healthy/);
    expect(fact(result, `${p.name}_web_1 before`) ?? fact(result, `${p.name}-web-1 before`)).toBe(`running, started ${before?.startedAt}`);
    expect(result.facts?.some((f) => f.value.includes(`started ${after?.startedAt ?? '?'}`))).toBe(true);
    // The worker was not touched.
    expect(await p.health('worker')).toBe('worker ok');
  }, 120_000);

  it('logs: the last lines the service printed', async () => {
    const result = await run(opsStep('compose', { command: 'logs', service: 'worker', tail: 5, ...target() }));
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.outputTail).toContain(`worker listening on ${ports.worker}`);
    expect(result.outputTail).not.toContain('web listening');
  }, 60_000);

  it('ps: every container with its state as a fact', async () => {
    const result = await run(opsStep('compose', { command: 'ps', ...target() }));
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.summary).toMatch(/^2 containers: .*web.* running, .*worker.* running$/);
    expect(result.outputTail).toMatch(/web/);
  }, 60_000);

  it('stop, then start: stopped in between (no answer), running and healthy after', async () => {
    const stop = await run(opsStep('compose', { command: 'stop', service: 'web', ...target() }, { timeoutSeconds: 60 }));
    expect(stop.status, stop.summary).toBe('succeeded');
    expect(stop.summary).toMatch(/service web stopped: .*web.* exited/);
    expect((await p.state('web'))?.status).toBe('exited');
    expect(await p.health('web')).toBeUndefined();
    expect((await p.state('worker'))?.status).toBe('running');

    const start = await run(opsStep('compose', { command: 'start', service: 'web', ...target(), verify: { kind: 'http', url: `http://127.0.0.1:${ports.web}/health`, intervalSeconds: 0.2 } }, { timeoutSeconds: 60 }));
    expect(start.status, start.summary).toBe('succeeded');
    expect((await p.state('web'))?.status).toBe('running');
    expect(await p.health('web')).toBe('web ok');
  }, 120_000);

  it('down, then up -d: no container left in between, all running after', async () => {
    const down = await run(opsStep('compose', { command: 'down', ...target() }, { timeoutSeconds: 90 }));
    expect(down.status, down.summary).toBe('succeeded');
    expect(await p.state('web')).toBeUndefined();
    expect(await p.state('worker')).toBeUndefined();
    const up = await run(opsStep('compose', { command: 'up', ...target() }, { timeoutSeconds: 90 }));
    expect(up.status, up.summary).toBe('succeeded');
    expect(up.summary).toMatch(/running after/);
    expect(await p.health('web')).toBe('web ok');
    expect(await p.health('worker')).toBe('worker ok');
  }, 180_000);

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
    expect(fact(right, 'compose')).toBe(`\`${[...docker.value.compose, '-f', 'compose.prod.yml', 'ps', '-a'].join(' ')}\` in ${p.dir}`);
  }, 60_000);

  it('the file alone names the project: its directory is the working directory', async () => {
    const result = await run(opsStep('compose', { command: 'ps', service: 'web', file: p.file }));
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.summary).toMatch(/^1 containers: .*web.* running$/);
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
