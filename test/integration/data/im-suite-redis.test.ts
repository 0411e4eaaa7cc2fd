import { execa, type ResultPromise } from 'execa';
import { copyFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listPickChoices, loadRunbooks, runStep, type Runbook, type RunbookStep } from '../../../src/runbooks/index.js';
import { probeCommand, probeRedis, requireService } from '../../support/services.js';
import { context, fact, show, tempDir, unique } from './helpers.js';

/*
 * The IM suite manual's "Redis only" backup and restore, with the shipped im-suite-data steps:
 * the backups are taken from the machine's Redis at 127.0.0.1:6379 (keys of this test only, in
 * database 9 under a prefix of its own, deleted at the end: nothing else there is touched), by
 * the bot's step and by the manual's own commands (redis-cli SAVE, then a copy of dump.rdb as
 * redis-backup-<date>.rdb). A restore replaces the dump file and needs Redis restarted, which a
 * shared server must not suffer, so the restores go to a private redis-server started here (its
 * own port and directory, stopped at the end), and what it serves after its restart proves them.
 */

const redis = await requireService('Redis at 127.0.0.1:6379', () => probeRedis());
const redisServer = await requireService('redis-server (for a private instance)', () => probeCommand(['redis-server', '--version']));

const DB = '9';
const runbooks = await loadRunbooks(path.resolve('manifests/runbooks'));
function step(id: string): { rb: Runbook; step: RunbookStep } {
  const rb = runbooks.find((r) => r.name === 'im-suite-data');
  const s = rb?.steps.find((x) => x.id === id);
  if (!rb || !s) throw new Error(`no step im-suite-data/${id}`);
  return { rb, step: s };
}
/** The runbook's defaults with the given values, as a deployment sets them. */
function params(rb: Runbook, values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(rb.params)) if (spec.default !== undefined) out[name] = spec.default;
  return { ...out, ...values };
}
const runIm = (id: string, values: Record<string, string>) => {
  const { rb, step: s } = step(id);
  return runStep(s, params(rb, values), context());
};
const choices = (values: Record<string, string>) => {
  const { rb, step: s } = step('redis-restore');
  return listPickChoices(s, params(rb, values));
};

const cli = async (port: number, ...args: string[]) => (await execa('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdin: 'ignore' })).stdout.trim();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

redis.describe('IM suite: Redis only, backed up from the shared Redis and restored with the manual’s steps', () => {
  const prefix = `chatops:im:${unique()}`;
  const shared = redis.value.port;
  let port = 0;
  let dir = '';
  let server: ResultPromise | undefined;

  async function start(): Promise<void> {
    // Save points on, as a normal Redis has them: the restore must turn them off until the restart.
    server = execa('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '3600 1', '--appendonly', 'no'], { reject: false, stdin: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if ((await cli(port, 'PING').catch(() => '')) === 'PONG') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('private redis-server did not start');
  }
  /** The manual: "restart Redis" after putting the file back. SHUTDOWN saves only when save points are on. */
  async function restart(): Promise<void> {
    await cli(port, 'SHUTDOWN').catch(() => '');
    await server;
    await start();
  }
  const privateValue = (key: string) => cli(port, '-n', DB, 'GET', `${prefix}:${key}`);

  beforeAll(async () => {
    if (!redisServer.available) throw new Error(`redis-server is needed for the private instance: ${redisServer.problem ?? ''}`);
    port = await freePort();
    dir = await tempDir('im-redis-server');
    await start();
  });
  afterAll(async () => {
    const keys = (await cli(shared, '-n', DB, '--scan', '--pattern', `${prefix}:*`)).split('\n').filter(Boolean);
    if (keys.length > 0) await cli(shared, '-n', DB, 'DEL', ...keys);
    server?.kill('SIGKILL');
    await server;
  });

  it('backs up with SAVE, offers the bot’s and the manual’s backups, restores each after a safety copy, and the safety copy undoes it', async () => {
    const dumpDir = await cli(shared, 'CONFIG', 'GET', 'dir');
    const dumpName = await cli(shared, 'CONFIG', 'GET', 'dbfilename');
    const sharedDump = path.join(dumpDir.split('\n')[1] ?? '', dumpName.split('\n')[1] ?? '');
    const backups = await tempDir('im-redis-backups');

    // The manual's own "Redis only" backup first: SAVE, then a copy of dump.rdb named by the date.
    await cli(shared, '-n', DB, 'MSET', `${prefix}:room`, 'manual', `${prefix}:only-manual`, 'yes');
    expect(await cli(shared, 'SAVE')).toBe('OK');
    const manual = path.join(backups, 'redis-backup-20251011.rdb');
    await copyFile(sharedDump, manual);

    // Then the bot's, with the shipped step.
    await cli(shared, '-n', DB, 'SET', `${prefix}:room`, 'bot');
    await cli(shared, '-n', DB, 'DEL', `${prefix}:only-manual`);
    const backup = await runIm('redis-backup', { redis_host: '127.0.0.1', redis_port: String(shared), redis_dump: sharedDump, redis_backup_dir: backups });
    expect(backup.status, show(backup)).toBe('succeeded');
    expect(fact(backup, 'saved')).toMatch(/^SAVE at /u);
    expect(fact(backup, 'keys')).toMatch(new RegExp(`db${DB}:keys=\\d+`, 'u'));
    const bot = backup.artefacts?.[0]?.path ?? '';
    expect(path.basename(bot)).toMatch(/^redis-\d{8}T\d{6}Z\.rdb\.gz$/u);

    // The private instance serves something else; its restores come from the pickers.
    await cli(port, '-n', DB, 'SET', `${prefix}:room`, 'private');
    const values = { redis_host: '127.0.0.1', redis_port: String(port), redis_dump: path.join(dir, 'dump.rdb'), redis_backup_dir: backups };
    const offered = await choices(values);
    expect(offered.map((c) => path.basename(c.path))).toEqual([path.basename(bot), 'redis-backup-20251011.rdb']);
    expect(offered[0]?.label).toMatch(/sha256 ok$/u);
    expect(offered[1]?.label).toMatch(/^redis-backup-20251011\.rdb, 2025-10-11 00:00 UTC, .*no sidecar$/u);

    const restored = await runIm('redis-restore', { ...values, redis_backup: bot });
    expect(restored.status, show(restored)).toBe('succeeded');
    expect(fact(restored, 'restart required')).toMatch(/^yes: /u);
    expect(await privateValue('room'), 'the current data until the restart').toBe('private');
    await restart();
    expect(await privateValue('room')).toBe('bot');
    expect(await cli(port, '-n', DB, 'EXISTS', `${prefix}:only-manual`)).toBe('0');

    // The manual's plain .rdb, restored the same way.
    await cli(port, '-n', DB, 'SET', `${prefix}:room`, 'changed after the restore');
    expect(await cli(port, 'SAVE')).toBe('OK');
    const fromManual = await runIm('redis-restore', { ...values, redis_backup: manual });
    expect(fromManual.status, show(fromManual)).toBe('succeeded');
    expect(fact(fromManual, 'backup rdb version')).toMatch(/^\d{4}$/u);
    await restart();
    expect(await privateValue('room')).toBe('manual');
    expect(await privateValue('only-manual')).toBe('yes');

    // Each restore kept a safety copy of what it replaced; the newest undoes the last restore.
    const again = await choices(values);
    const safety = again.filter((c) => c.label.startsWith('safety copy before a restore'));
    expect(safety.length, JSON.stringify(again)).toBe(2);
    const undo = await runIm('redis-restore', { ...values, redis_backup: safety[0]?.path ?? '' });
    expect(undo.status, show(undo)).toBe('succeeded');
    await restart();
    expect(await privateValue('room')).toBe('changed after the restore');
    expect(await cli(port, '-n', DB, 'EXISTS', `${prefix}:only-manual`)).toBe('0');
  });
});
