import { execa, type ResultPromise } from 'execa';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { probeCommand, probeRedis, requireService } from '../../support/services.js';
import { fact, run, sha256, show, tempDir, unique } from './helpers.js';

/*
 * Backup against the machine's Redis at 127.0.0.1:6379 (SAVE and BGSAVE). The restore round trip
 * needs to restart Redis, which a shared server must not suffer, so it runs against a private
 * redis-server started here on a free port with its own directory, and stopped at the end.
 */
const redis = await requireService('Redis at 127.0.0.1:6379', () => probeRedis());
const redisServer = await requireService('redis-server (for a private instance)', () => probeCommand(['redis-server', '--version']));

async function cli(port: number, ...args: string[]): Promise<string> {
  return (await execa('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdin: 'ignore' })).stdout.trim();
}

redis.describe('Redis backup (shared server)', () => {
  const key = `chatops:data:${unique()}`;
  afterAll(async () => {
    await cli(redis.value.port, 'DEL', key);
  });

  it('SAVE, then a gzipped copy of the RDB file that starts with the REDIS magic, with its sha256', async () => {
    await cli(redis.value.port, 'SET', key, 'value');
    const backups = await tempDir('redis-backups');

    const result = await run('backup', { engine: 'redis', host: '127.0.0.1', port: redis.value.port, mode: 'save', dir: backups }, { env: ['REDISCLI_AUTH'] });

    expect(result.status, show(result)).toBe('succeeded');
    expect(result.description).toMatch(/^will back up Redis 127\.0\.0\.1:6379 to .* as redis-6379-<UTC time>\.rdb\.gz \(SAVE, copy the dump file \(CONFIG GET dir\/dbfilename\), gzip, check the REDIS magic; sha256 sidecar\)/);
    const artefact = result.artefacts?.[0];
    expect(path.basename(artefact?.path ?? '')).toMatch(/^redis-6379-\d{8}T\d{6}Z\.rdb\.gz$/);
    expect(await sha256(artefact?.path ?? '')).toBe(artefact?.sha256);
    expect(await readFile(`${artefact?.path ?? ''}.sha256`, 'utf8')).toBe(`${artefact?.sha256}  ${path.basename(artefact?.path ?? '')}\n`);
    const rdb = gunzipSync(await readFile(artefact?.path ?? ''));
    expect(rdb.subarray(0, 5).toString('latin1')).toBe('REDIS');
    expect(rdb.includes(Buffer.from(key))).toBe(true);
    expect(fact(result, 'rdb version')).toMatch(/^\d{4}$/);
    expect(fact(result, 'saved')).toMatch(/^SAVE at \d{4}-/);
    expect(fact(result, 'keys')).toMatch(/db0:keys=\d+/);
  });

  it('BGSAVE (the default) waits for the background save to finish', async () => {
    const backups = await tempDir('redis-backups');
    const result = await run('backup', { engine: 'redis', port: redis.value.port, dir: backups, prefix: 'cache' });
    expect(result.status, show(result)).toBe('succeeded');
    expect(fact(result, 'saved')).toMatch(/^BGSAVE at /);
    expect(path.basename(result.artefacts?.[0]?.path ?? '')).toMatch(/^cache-\d{8}T\d{6}Z\.rdb\.gz$/);
  });
});

/** A free TCP port on 127.0.0.1. */
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

redisServer.describe('Redis restore (private redis-server)', () => {
  let port = 0;
  let dir = '';
  let server: ResultPromise | undefined;

  async function start(): Promise<void> {
    // Save points on: a plain SHUTDOWN would save memory over the restored file unless restore turned them off.
    server = execa('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '3600 1', '--appendonly', 'no'], {
      reject: false,
      stdin: 'ignore',
    });
    for (let i = 0; i < 100; i++) {
      if (await cli(port, 'PING').catch(() => '') === 'PONG') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('private redis-server did not start');
  }

  async function stop(): Promise<void> {
    await cli(port, 'SHUTDOWN').catch(() => '');
    await server;
  }

  beforeAll(async () => {
    port = await freePort();
    dir = await tempDir('redis-server');
    await start();
  });
  afterAll(async () => {
    server?.kill('SIGKILL');
    await server;
  });

  it('round trip: backup, change, restore replaces dump.rdb; after a restart the backup is what Redis serves', async () => {
    for (let i = 1; i <= 20; i++) await cli(port, 'SET', `k${i}`, `v${i}`);
    const backups = await tempDir('redis-backups');
    const backup = await run('backup', { engine: 'redis', port, dir: backups });
    expect(backup.status, show(backup)).toBe('succeeded');
    expect(fact(backup, 'dump file')).toBe(path.join(dir, 'dump.rdb'));

    await cli(port, 'SET', 'k1', 'changed');
    await cli(port, 'SET', 'added', 'after the backup');

    const restore = await run('restore', { engine: 'redis', port, latest: true, dir: backups });
    expect(restore.status, show(restore)).toBe('succeeded');
    expect(restore.description).toMatch(/^will restore Redis 127\.0\.0\.1:\d+ from the newest verified redis-\d+-<UTC time>\.rdb\.gz in .*; Redis must then be restarted to load it/);
    expect(restore.summary).toMatch(/^replaced .*dump\.rdb with .*; restart Redis to load it/);
    expect(fact(restore, 'restart required')).toMatch(/^yes: /);
    expect(fact(restore, 'save points')).toBe('off until the restart (were "3600 1"; the config file restores them)');
    expect(await cli(port, 'CONFIG', 'GET', 'save')).toBe('save');
    const safety = restore.artefacts?.find((a) => a.kind === 'safety-backup');
    expect(gunzipSync(await readFile(safety?.path ?? '')).includes(Buffer.from('after the backup'))).toBe(true);
    // Still the current data until the restart.
    expect(await cli(port, 'GET', 'k1')).toBe('changed');

    await stop(); // a plain SHUTDOWN: with save points still on it would have saved over the restored file
    await start();
    expect(await cli(port, 'GET', 'k1')).toBe('v1');
    expect(await cli(port, 'EXISTS', 'added')).toBe('0');
    expect(await cli(port, 'DBSIZE')).toBe('20');
  });

  it('refuses an instance with appendonly yes (it would load the AOF, not the restored RDB)', async () => {
    const backups = await tempDir('redis-backups');
    const backup = await run('backup', { engine: 'redis', port, dir: backups, mode: 'save' });
    expect(backup.status, show(backup)).toBe('succeeded');
    await cli(port, 'CONFIG', 'SET', 'appendonly', 'yes');
    try {
      const result = await run('restore', { engine: 'redis', port, from: backup.artefacts?.[0]?.path });
      expect(result.status).toBe('failed');
      expect(result.summary).toMatch(/has appendonly yes: at start-up it loads the AOF/);
      expect(result.artefacts).toBeUndefined();
    } finally {
      await cli(port, 'CONFIG', 'SET', 'appendonly', 'no');
    }
  });
});
