import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStep } from '../../../src/runbooks/index.js';
import { chooseRelease, compareReleases } from '../../../src/runbooks/actions/ops/rollback.js';
import { releaseServerSource, startSupervisedService, stopAllServices, type SupervisedService } from '../../support/ops-service.js';
import { fact, fakeHttp, opsStep, runOps } from '../../support/ops-steps.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ops-rollback-'));
});
afterAll(async () => {
  await stopAllServices();
  await rm(dir, { recursive: true, force: true });
});

/** root/releases/<v>/server.mjs for each version, and root/current → <link text> (default releases/<current>). */
async function makeReleases(root: string, versions: string[], current: string, linkText = `releases/${current}`): Promise<{ current: string; releasesDir: string }> {
  const releasesDir = path.join(root, 'releases');
  for (const version of versions) {
    await mkdir(path.join(releasesDir, version), { recursive: true });
    await writeFile(path.join(releasesDir, version, 'server.mjs'), releaseServerSource(version));
  }
  await symlink(linkText, path.join(root, 'current'));
  return { current: path.join(root, 'current'), releasesDir };
}

describe('rollback kind: symlink, on a real service started from `current`', () => {
  let service: SupervisedService;
  let current = '';
  let releasesDir = '';
  beforeAll(async () => {
    const root = path.join(dir, 'app');
    ({ current, releasesDir } = await makeReleases(root, ['v1', 'v2'], 'v2'));
    service = await startSupervisedService({ dir: root, childArgs: [path.join(current, 'server.mjs')] });
  });

  const rollbackStep = (release: string, extra: Record<string, unknown> = {}) =>
    opsStep('rollback', {
      kind: 'symlink',
      current,
      releasesDir,
      ...extra,
      restart: { kind: 'command', run: service.restartArgv },
      verify: { kind: 'http', url: `${service.baseUrl}/health`, bodyContains: `"release":"${release}"`, intervalSeconds: 0.1, withinSeconds: 10 },
    });

  it('switches current from v2 to v1, restarts the service, and verify sees v1 answering', async () => {
    expect((await service.get()).release).toBe('v2');
    const step = rollbackStep('v1');
    expect(describeStep(step, {})).toBe(
      `will switch ${current} from releases/v2 to releases/v1, then run \`${service.restartArgv.join(' ')}\`, ` +
        `then verify that ${service.baseUrl}/health answers 200 with a body containing "\\"release\\":\\"v1\\"" (within 10s) (timeout 20s)`,
    );

    const result = await runOps(step);
    expect(result.status, result.summary).toBe('succeeded');
    expect(await readlink(current)).toBe('releases/v1');
    const answer = await service.get();
    expect(answer.release).toBe('v1');
    expect(answer.status).toBe(200);

    // A restart that is quick enough is healthy at verify's first attempt: both wordings are right.
    expect(result.summary).toMatch(new RegExp(`^switched ${current} from releases/v2 to releases/v1; restart command .+; verify healthy (after .+|on the first attempt) \\(HTTP 200\\)$`));
    expect(fact(result, 'symlink')).toBe(current);
    expect(fact(result, 'from')).toBe('releases/v2 (v2)');
    expect(fact(result, 'to')).toBe('releases/v1 (v1)');
    expect(fact(result, 'restart exit code')).toBe('0');
    expect(Number(fact(result, 'verify attempts'))).toBeGreaterThanOrEqual(1);
    expect(fact(result, 'verify last status')).toBe('HTTP 200');
    // The swap left no temporary link behind.
    expect((await readdir(path.dirname(current))).filter((n) => n.startsWith('current.tmp-'))).toEqual([]);
  });

  it('refuses when there is no release before the current one: symlink untouched, nothing restarted', async () => {
    const pidBefore = await service.childPid();
    const step = rollbackStep('v0');
    expect(describeStep(step, {})).toMatch(/^will switch .+ to the release before the current one in .+ \(not possible now: there is no release before v1 \(releases: v1, v2\)\)/);
    const result = await runOps(step);
    expect(result.status).toBe('failed');
    expect(result.summary).toBe('refused: there is no release before v1 (releases: v1, v2); nothing was switched');
    expect(fact(result, 'symlink unchanged')).toBe(`${current} → releases/v1`);
    expect(await readlink(current)).toBe('releases/v1');
    expect(await service.childPid()).toBe(pidBefore);
    expect((await service.get()).release).toBe('v1');
  });

  it('switches to an explicit release with `to:` (here forward again, to v2)', async () => {
    const result = await runOps(rollbackStep('v2', { to: 'v2' }));
    expect(result.status, result.summary).toBe('succeeded');
    expect(fact(result, 'from')).toBe('releases/v1 (v1)');
    expect(fact(result, 'to')).toBe('releases/v2 (v2)');
    expect((await service.get()).release).toBe('v2');
  });
});

describe('rollback kind: symlink, without a service', () => {
  let n = 0;
  const fresh = async (versions: string[], currentVersion: string, linkText?: string) => {
    n += 1;
    return makeReleases(path.join(dir, `case-${n}`), versions, currentVersion, linkText);
  };

  it('orders releases by name with numbers compared as numbers (v9 < v10 < v11)', async () => {
    const { current, releasesDir } = await fresh(['v9', 'v10', 'v11'], 'v10');
    const result = await runOps(opsStep('rollback', { kind: 'symlink', current, releasesDir }));
    expect(result.status).toBe('succeeded');
    expect(await readlink(current)).toBe('releases/v9');
    expect([...['v10', 'v9', '2024-01-10', '2024-01-02', 'v11']].sort(compareReleases)).toEqual(['2024-01-02', '2024-01-10', 'v9', 'v10', 'v11']);
  });

  it('keeps an absolute link absolute', async () => {
    const root = path.join(dir, 'absolute');
    const { current, releasesDir } = await makeReleases(root, ['r1', 'r2'], 'r2', path.join(root, 'releases', 'r2'));
    const result = await runOps(opsStep('rollback', { kind: 'symlink', current, releasesDir }));
    expect(result.status).toBe('succeeded');
    expect(await readlink(current)).toBe(path.join(releasesDir, 'r1'));
    expect(fact(result, 'from')).toBe(`${path.join(releasesDir, 'r2')} (r2)`);
  });

  it('refuses unknown or path-like `to`, a non-symlink `current`, and relative paths', async () => {
    const { current, releasesDir } = await fresh(['v1', 'v2'], 'v2');
    const run = async (inputs: Record<string, unknown>) => (await runOps(opsStep('rollback', { kind: 'symlink', current, releasesDir, ...inputs }))).summary;
    expect(await run({ to: 'v3' })).toBe('refused: release "v3" does not exist (releases: v1, v2); nothing was switched');
    expect(await run({ to: '../../etc' })).toBe('refused: to must be the name of a directory in releasesDir, not a path: "../../etc"; nothing was switched');
    expect(await run({ to: 'v2' })).toBe('refused: release v2 is already current; nothing was switched');
    expect(await run({ current: releasesDir })).toBe(`refused: ${releasesDir} is not a symlink; nothing was switched`);
    expect(await run({ current: 'app/current' })).toBe('refused: current must be an absolute path: "app/current"; nothing was switched');
    expect(await readlink(current)).toBe('releases/v2');
  });

  it('refuses a previous release when current points outside releasesDir, unless `to` names one', async () => {
    const root = path.join(dir, 'outside');
    await mkdir(path.join(root, 'hotfix'), { recursive: true });
    const { current, releasesDir } = await makeReleases(root, ['v1', 'v2'], 'v2', 'hotfix');
    const refusedResult = await runOps(opsStep('rollback', { kind: 'symlink', current, releasesDir }));
    expect(refusedResult.summary).toMatch(/^refused: the symlink does not point to a release in releasesDir/);
    const result = await runOps(opsStep('rollback', { kind: 'symlink', current, releasesDir, to: 'v2' }));
    expect(result.status).toBe('succeeded');
    expect(fact(result, 'from')).toBe('hotfix');
    expect(fact(result, 'to')).toBe('releases/v2 (v2)');
  });

  it('says so when verify fails after the switch: the symlink stays switched, nothing is undone', async () => {
    const { current, releasesDir } = await fresh(['v1', 'v2'], 'v2');
    const unhealthy = await fakeHttp(() => ({ status: 503, body: 'migrations pending' }));
    try {
      const verify = { kind: 'http', url: unhealthy.url, intervalSeconds: 0.2, withinSeconds: 1 };
      const result = await runOps(opsStep('rollback', { kind: 'symlink', current, releasesDir, verify }));
      expect(result.status).toBe('failed');
      expect(result.summary).toMatch(
        new RegExp(`^switched ${current} from releases/v2 to releases/v1; verify not healthy within 1s after \\d+ attempts: last HTTP 503 \\(expected 200\\); the symlink stays switched; nothing was switched back$`),
      );
      expect(fact(result, 'not switched back')).toBe(current);
      expect(result.outputTail).toBe('migrations pending');
      expect(await readlink(current)).toBe('releases/v1');
    } finally {
      await unhealthy.close();
    }
  });

  it('chooses releases', () => {
    expect(chooseRelease(['b', 'a', 'c'], 'c', undefined)).toEqual({ release: 'b' });
    expect(chooseRelease(['a'], 'a', undefined)).toMatchObject({ text: 'there is no release before a (releases: a)' });
    expect(chooseRelease([], undefined, 'x')).toEqual({
      text: 'release "x" does not exist (releases: none)',
      said: { code: 'rollback.noSuchRelease', params: { release: '"x"', releases: '—' } },
    });
  });
});

describe('rollback kind: command', () => {
  it('runs a real `git revert` in cwd and reports what ran and what it said', async () => {
    const repo = path.join(dir, 'repo');
    await mkdir(repo);
    const git = (...args: string[]) => execa('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { cwd: repo });
    await git('init', '-q');
    await writeFile(path.join(repo, 'VERSION'), 'v1\n');
    await git('add', 'VERSION');
    await git('commit', '-qm', 'v1');
    await writeFile(path.join(repo, 'VERSION'), 'v2\n');
    await git('commit', '-qam', 'v2');

    const run = ['git', '-c', 'user.name=chatops-bot', '-c', 'user.email=bot@example.com', 'revert', '--no-edit', 'HEAD'];
    const step = opsStep('rollback', { kind: 'command', run, cwd: repo });
    expect(describeStep(step, {})).toBe(`will run \`${run.join(' ')}\` in ${repo} (timeout 20s)`);
    const result = await runOps(step);
    expect(result.status, result.summary).toBe('succeeded');
    expect(await readFile(path.join(repo, 'VERSION'), 'utf8')).toBe('v1\n');
    expect(fact(result, 'rollback command')).toBe(`\`${run.join(' ')}\``);
    expect(fact(result, 'rollback directory')).toBe(repo);
    expect(fact(result, 'rollback exit code')).toBe('0');
    expect(fact(result, 'rollback output')).toMatch(/Revert "v2"|1 file changed/);
  });

  it('fails with the reason the command gives, and runs nothing after it', async () => {
    const step = opsStep('rollback', {
      kind: 'command',
      run: ['kubectl', 'rollout', 'undo', 'deployment/api', '-n', 'prod'],
      restart: { kind: 'command', run: [process.execPath, '-e', 'process.exit(0)'] },
    });
    const result = await runOps(step, {}, { PATH: process.env.PATH });
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/^rollback command `kubectl rollout undo deployment\/api -n prod` failed: (could not start "kubectl": ENOENT|kubectl exited 1: .+)$/);
    expect(fact(result, 'restart exit code')).toBeUndefined();
  });
});

describe('rollback with a database restore (stop, restore the previous data, start the previous version)', () => {
  it('switches the release, restores the SQLite database from a backup after a safety backup, and reports both', async () => {
    const root = path.join(dir, 'with-db');
    const { current, releasesDir } = await makeReleases(root, ['v1', 'v2'], 'v2');
    const db = path.join(root, 'app.db');
    const backups = path.join(root, 'backups');
    await mkdir(backups);
    const sql = (file: string, statement: string) => execa('sqlite3', [file, statement]).then((r) => r.stdout);
    await sql(db, "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('v1 data');");
    // A backup taken while v1 ran, made by the backup action itself so its sidecar is real.
    const backup = await runOps(opsStep('backup', { engine: 'sqlite', path: db, dir: backups, prefix: 'app' }));
    expect(backup.status, backup.summary).toBe('succeeded');
    await sql(db, "UPDATE t SET v = 'v2 data';");

    const step = opsStep('rollback', { kind: 'symlink', current, releasesDir, restore: { engine: 'sqlite', path: db, latest: true, dir: backups, prefix: 'app' } });
    expect(describeStep(step, {})).toMatch(/^will switch .* from releases\/v2 to releases\/v1, then restore SQLite .* from the newest verified app-<UTC time>\.db\.gz in .*backups/);
    const result = await runOps(step);
    expect(result.status, result.summary).toBe('succeeded');
    expect(await readlink(current)).toBe('releases/v1');
    expect(await sql(db, 'SELECT v FROM t')).toBe('v1 data');
    expect(result.summary).toMatch(/switched .*; database restore: /);
    expect(result.artefacts?.map((a) => a.kind)).toContain('safety-backup');
    // The restore's findings under its own labels (the catalogue says them).
    expect(fact(result, 'safety backup')).toContain('app-safety-');
    expect(fact(result, 'backup (newest verified)')).toContain('backups/app-');
  });
});

