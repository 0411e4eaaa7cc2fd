import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStep } from '../../../src/runbooks/index.js';
import { isUp, parseInspect } from '../../../src/runbooks/actions/ops/compose-engine.js';
import { commandArgv, composeArgv, kubectlArgv, systemdArgv } from '../../../src/runbooks/actions/ops/restart.js';
import { startSupervisedService, stopAllServices, type SupervisedService } from '../../support/ops-service.js';
import { fact, opsStep, runOps } from '../../support/ops-steps.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ops-restart-'));
});
afterAll(async () => {
  await stopAllServices();
  await rm(dir, { recursive: true, force: true });
});

describe('restart kind: command, on a real supervised service', () => {
  let service: SupervisedService;
  beforeAll(async () => {
    const serviceDir = path.join(dir, 'service');
    await mkdir(serviceDir);
    service = await startSupervisedService({ dir: serviceDir });
  });

  const restartStep = (withinSeconds: number, intervalSeconds: number) =>
    opsStep('restart', {
      kind: 'command',
      run: service.restartArgv,
      verify: { kind: 'http', url: `${service.baseUrl}/health`, intervalSeconds, withinSeconds },
    });

  it('restarts the service: a new process answers, and verify reports how long it took', async () => {
    const before = await service.get();
    const result = await runOps(restartStep(10, 0.1));
    expect(result.status, result.summary).toBe('succeeded');
    const after = await service.get();
    expect(after.pid).not.toBe(before.pid);
    expect(await service.childPid()).toBe(after.pid);

    // Under load the new process may already answer at verify's first attempt: both wordings are right.
    expect(result.summary).toMatch(/^restart command `.+restart\.mjs .+service\.pid` \(\d+ ms\); verify healthy (after \d+ attempts in [\d.]+ ?(ms|s)|on the first attempt) \(HTTP 200\)$/);
    expect(fact(result, 'restart command')).toContain('restart.mjs');
    expect(fact(result, 'restart exit code')).toBe('0');
    // The supervisor waits 400 ms before starting the new child: the first checks are refused.
    expect(Number(fact(result, 'verify attempts'))).toBeGreaterThanOrEqual(2);
    expect(fact(result, 'verify last status')).toBe('HTTP 200');
    expect(fact(result, 'verify time to healthy')).toMatch(/^\d+ms$|^[\d.]+s$/);
    expect(result.outputTail).toContain(`"pid":${after.pid}`);
  });

  it('fails with a clear verify summary, within its deadline, when the service comes back unhealthy', async () => {
    await writeFile(service.flagFile, '');
    try {
      const before = await service.get();
      expect(before.status).toBe(500);
      const started = performance.now();
      const result = await runOps(restartStep(2, 0.2));
      expect(performance.now() - started).toBeLessThan(4000);
      expect(result.status).toBe('failed');
      expect(result.summary).toMatch(/; verify not healthy within 2s after \d+ attempts: last HTTP 500 \(expected 200\)$/);
      expect(fact(result, 'verify last status')).toBe('HTTP 500');
      expect(fact(result, 'verify expected status')).toBe('200');
      expect(Number(fact(result, 'verify attempts'))).toBeGreaterThanOrEqual(3);
      expect(result.httpStatus).toBe(500);
      expect(result.outputTail).toContain('"status":"unhealthy"');
      // The restart itself did happen.
      expect((await service.get()).pid).not.toBe(before.pid);
    } finally {
      await rm(service.flagFile, { force: true });
    }
  });

  it('does not verify when the restart command fails', async () => {
    const result = await runOps(
      opsStep('restart', { kind: 'command', run: [process.execPath, '-e', 'console.error("supervisor: no such process"); process.exit(3)'], verify: { kind: 'http', url: service.baseUrl } }),
    );
    expect(result.status).toBe('failed');
    expect(result.exitCode).toBe(3);
    expect(result.summary).toMatch(/^restart command `.+` failed: .+ exited 3: supervisor: no such process$/);
    expect(fact(result, 'verify attempts')).toBeUndefined();
  });
});

describe('argv builders (what would run against a real daemon or cluster)', () => {
  it('systemd', () => {
    expect(systemdArgv('gitcortex@2.service')).toEqual({
      restart: ['systemctl', 'restart', 'gitcortex@2.service'],
      isActive: ['systemctl', 'is-active', 'gitcortex@2.service'],
      status: ['systemctl', 'status', '--no-pager', '--lines=20', 'gitcortex@2.service'],
    });
  });

  it('compose, with and without -f and -p, for the v2 plugin and v1', () => {
    expect(composeArgv(['docker', 'compose'], { service: 'web', file: undefined, project: undefined })).toEqual(['docker', 'compose', 'restart', 'web']);
    expect(composeArgv(['docker', 'compose'], { service: 'web', file: 'compose.prod.yaml', project: undefined })).toEqual(['docker', 'compose', '-f', 'compose.prod.yaml', 'restart', 'web']);
    expect(composeArgv(['docker-compose'], { service: 'web', file: 'compose.prod.yaml', project: 'shop' })).toEqual(['docker-compose', '-p', 'shop', '-f', 'compose.prod.yaml', 'restart', 'web']);
  });

  it('kubernetes, with and without a context', () => {
    expect(kubectlArgv({ deployment: 'api', namespace: 'prod', context: undefined }, 45)).toEqual({
      restart: ['kubectl', 'rollout', 'restart', 'deployment/api', '-n', 'prod'],
      status: ['kubectl', 'rollout', 'status', 'deployment/api', '-n', 'prod', '--timeout=45s'],
    });
    expect(kubectlArgv({ deployment: 'api', namespace: 'prod', context: 'eu-west' }, 30).restart).toEqual([
      'kubectl', '--context=eu-west', 'rollout', 'restart', 'deployment/api', '-n', 'prod',
    ]);
  });

  it('command', () => {
    expect(commandArgv({ run: ['supervisorctl', 'restart', 'app'] })).toEqual(['supervisorctl', 'restart', 'app']);
  });

  it('reads container states from `docker inspect`, leaving out one-off containers', () => {
    const container = (name: string, status: string, health?: string, oneoff = 'False') => ({
      Id: `${name.length}`.padEnd(64, 'a'),
      Name: `/${name}`,
      State: { Status: status, StartedAt: '2026-01-02T03:04:05.1Z', ExitCode: status === 'exited' ? 1 : 0, ...(health !== undefined ? { Health: { Status: health } } : {}) },
      Config: { Labels: { 'com.docker.compose.service': 'web', 'com.docker.compose.oneoff': oneoff } },
    });
    const states = parseInspect(JSON.stringify([container('app_web_1', 'running', 'healthy'), container('app_web_2', 'running'), container('app_web_run_1', 'exited', undefined, 'True')]));
    expect(states?.map((c) => [c.name, c.service, c.status, c.health, c.startedAt])).toEqual([
      ['app_web_1', 'web', 'running', 'healthy', '2026-01-02T03:04:05.1Z'],
      ['app_web_2', 'web', 'running', '', '2026-01-02T03:04:05.1Z'],
    ]);
    expect(states?.every(isUp)).toBe(true);
    expect(parseInspect(JSON.stringify([container('a', 'running', 'starting')]))?.every(isUp)).toBe(false);
    expect(parseInspect(JSON.stringify([container('a', 'restarting')]))?.every(isUp)).toBe(false);
    expect(parseInspect('Cannot connect to the Docker daemon')).toBeUndefined();
  });
});

describe('restart without a daemon or cluster on this machine: a clear failure, not a crash', () => {
  const systemdIsInit = existsSync('/run/systemd/system');

  it('systemd: systemctl says why in the output tail', async () => {
    const result = await runOps(opsStep('restart', { kind: 'systemd', unit: 'ops-test-nonexistent', withinSeconds: 2 }));
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/^`systemctl restart ops-test-nonexistent` failed: /);
    expect(fact(result, 'not restarted')).toBe('ops-test-nonexistent');
    if (!systemdIsInit) {
      expect(result.outputTail).toContain('System has not been booted with systemd');
      expect(result.summary).toContain('System has not been booted with systemd');
    }
  });

  it('compose: neither `docker compose` nor `docker-compose` on the PATH', async () => {
    const project = path.join(dir, 'compose-project');
    await mkdir(project, { recursive: true });
    await writeFile(path.join(project, 'compose.yaml'), 'services:\n  web:\n    image: nginx:alpine\n');
    const step = opsStep('restart', { kind: 'compose', service: 'web', projectDir: project, withinSeconds: 2 });
    const noDocker = await runOps(step, {}, { PATH: path.join(dir, 'empty-bin') });
    expect(noDocker.status).toBe('failed');
    expect(noDocker.summary).toBe(
      'refused: no compose program works here (`docker compose version`: could not start "docker": ENOENT; `docker-compose version`: could not start "docker-compose": ENOENT); install the compose plugin or docker-compose, or set COMPOSE_COMMAND',
    );
  });

  it('compose: refuses a project directory that does not exist', async () => {
    const result = await runOps(opsStep('restart', { kind: 'compose', service: 'web', projectDir: path.join(dir, 'nope') }));
    expect(result.summary).toBe(`refused: the compose project directory ${path.join(dir, 'nope')} does not exist or is not a directory`);
  });

  it('kubernetes: kubectl cannot reach a cluster', async () => {
    const result = await runOps(opsStep('restart', { kind: 'kubernetes', deployment: 'api', namespace: 'prod', withinSeconds: 5 }), {}, { PATH: process.env.PATH });
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/^`kubectl rollout restart deployment\/api -n prod` failed: (could not start "kubectl": ENOENT|kubectl exited 1: .+)$/);
    expect(result.summary).not.toMatch(/E\d{4} /); // the klog noise stays in the output tail
    expect(fact(result, 'not restarted')).toBe('deployment/api');
    expect(fact(result, 'namespace')).toBe('prod');
  });

  it('refuses names from params that would be read as options or are not valid names', async () => {
    const step = opsStep('restart', { kind: 'systemd', unit: '{{unit}}' }, { params: { unit: 'x' } });
    expect((await runOps(step, { unit: '-H evil.example' })).summary).toBe('refused: unit "-H evil.example" may not start with "-"');
    const k8s = opsStep('restart', { kind: 'kubernetes', deployment: '{{d}}', namespace: 'prod' }, { params: { d: 'x' } });
    expect((await runOps(k8s, { d: 'API/../x' })).summary).toMatch(/^refused: deployment "API\/..\/x" is not valid/);
  });
});

describe('restart describe()', () => {
  it('says what will restart and how it is checked', () => {
    const cases: [unknown, string][] = [
      [{ kind: 'systemd', unit: 'gitcortex' }, 'will restart systemd unit gitcortex and wait until active (30s)'],
      [
        { kind: 'compose', service: 'web', projectDir: '/srv/app', file: 'compose.prod.yaml', withinSeconds: 60 },
        'will restart compose service web in /srv/app (file compose.prod.yaml) and wait until running (60s)',
      ],
      [
        { kind: 'kubernetes', deployment: 'api', namespace: 'prod', context: 'eu' },
        'will restart deployment/api in namespace prod (context eu) and wait for the rollout (30s)',
      ],
      [
        { kind: 'command', run: ['supervisorctl', 'restart', 'app'], verify: { kind: 'http', url: 'http://127.0.0.1:8080/health' } },
        'will run `supervisorctl restart app`, then verify that http://127.0.0.1:8080/health answers 200 (within 30s)',
      ],
      [
        { kind: 'systemd', unit: 'postgresql', verify: { kind: 'sql', engine: 'postgres', host: '127.0.0.1', user: 'postgres', database: 'app' } },
        'will restart systemd unit postgresql and wait until active (30s), then verify that postgres postgres@127.0.0.1:5432/app answers SELECT 1 (within 30s)',
      ],
    ];
    for (const [inputs, text] of cases) expect(describeStep(opsStep('restart', inputs, { timeoutSeconds: 90 }), {})).toBe(`${text} (timeout 90s)`);
  });

  it('refuses a templated program and prometheus as a follow-up verify at load', () => {
    expect(() => opsStep('restart', { kind: 'command', run: ['{{prog}}'] }, { params: { prog: 'x' } })).toThrow(/steps\.0\.with\.run\.0: the program/);
    expect(() => opsStep('restart', { kind: 'systemd', unit: 'x', verify: { kind: 'prometheus', url: 'http://p', query: 'up' } })).toThrow(/with\.verify\.kind/);
  });
});
