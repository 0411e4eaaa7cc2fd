import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeStep, runStep, type RunbookStep, type StepResult } from '../../../src/runbooks/index.js';
import { freePort } from '../../support/bot-process.js';
import { TEST_IMAGE, composeProject, containersOf, requireDocker, type ComposeProject } from '../../support/compose-project.js';
import { opsStep } from '../../support/ops-steps.js';

/*
 * A release rollback on a compose service that builds from a `current` symlink (Approval Gin's
 * layout): switching the link is not enough, the service must be rebuilt from it and recreated
 * (the manual's `docker compose up -d --build approval-gin`). A real engine builds both releases
 * from the local test image; the rolled-back container must serve the previous release.
 */

const docker = await requireDocker();
const PREFIX = 'ops-rebuild';

const run = (step: RunbookStep): Promise<StepResult> =>
  runStep(step, {}, { signal: new AbortController().signal, redact: (s) => s, env: process.env, settings: { composeCommand: docker.value.compose } });

docker.describe('rollback of a compose service that builds from the current release', () => {
  let p: ComposeProject;
  let port = 0;
  let image = '';

  beforeAll(async () => {
    port = await freePort();
    p = composeProject({ prefix: PREFIX, compose: docker.value.compose, ports: { app: port } });
    image = `${p.name}-app:test`;
    for (const release of ['v1', 'v2']) {
      const dir = path.join(p.dir, 'releases', release);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${TEST_IMAGE}\nRUN mkdir -p /www && echo "release ${release}" > /www/health\n`);
    }
    fs.symlinkSync('releases/v2', path.join(p.dir, 'current'));
    fs.writeFileSync(
      p.file,
      [
        'version: "2.4"',
        'services:',
        '  app:',
        '    build: ./current',
        `    image: ${image}`,
        '    network_mode: host',
        '    init: true',
        `    command: ["httpd", "-f", "-p", "127.0.0.1:${port}", "-h", "/www"]`,
        '',
      ].join('\n'),
    );
    const [program = 'docker', ...rest] = docker.value.compose;
    const up = await execa(program, [...rest, 'up', '-d', '--build'], { cwd: p.dir, reject: false, all: true, timeout: 120_000 });
    if (up.exitCode !== 0) throw new Error(`compose up failed: ${up.all}`);
    for (let i = 0; i < 100 && (await p.health('app')) !== 'release v2'; i += 1) await new Promise((resolve) => setTimeout(resolve, 200));
  }, 180_000);

  afterAll(async () => {
    await p?.dispose();
    if (image) await execa('docker', ['rmi', '-f', image], { reject: false });
    expect(await containersOf(PREFIX)).toEqual([]);
  }, 60_000);

  it('switches current back, rebuilds and recreates the service, and the previous release answers', async () => {
    expect(await p.health('app')).toBe('release v2');
    const before = await p.state('app');
    const step = opsStep(
      'rollback',
      {
        kind: 'symlink',
        current: path.join(p.dir, 'current'),
        releasesDir: path.join(p.dir, 'releases'),
        restart: { kind: 'compose', service: 'app', projectDir: p.dir, rebuild: true, withinSeconds: 60 },
        verify: { kind: 'http', url: `http://127.0.0.1:${port}/health`, bodyContains: 'release v1', withinSeconds: 30 },
      },
      { timeoutSeconds: 170 },
    );
    expect(describeStep(step, {})).toContain('then rebuild and recreate compose service app');

    const result = await run(step);
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.summary).toMatch(/switched .* from releases\/v2 to releases\/v1; rebuilt and recreated compose service app \(/);
    expect(await p.health('app')).toBe('release v1');
    // A new container, not the old one restarted.
    expect((await p.state('app'))?.id).not.toBe(before?.id);
  }, 180_000);
});
