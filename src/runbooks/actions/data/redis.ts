import { constants } from 'node:fs';
import { copyFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ActionError, check, fsProblem, nameProblem, pathProblem, portProblem, refusal, serverSubject, sizeValue, summary } from './common.js';
import type { Job } from './job.js';
import type { BackupEngine, RestoreEngine } from './engine.js';
import { copyOwnership, gunzipFile, gzipFile, readHead, statOrUndefined, syncDir, verifyGzipRoundTrip } from './files.js';
import type { RedisTarget } from './inputs.js';

/*
 * Redis through redis-cli. A password comes from REDISCLI_AUTH allowlisted in the step's `env`
 * (with `user` for an ACL user), never from the command line where `ps` would show it.
 *
 * redis-cli exits 0 even when the server answers with an error, so every reply is checked
 * against the shape expected for that command.
 *
 * Backup: SAVE (blocks every client while it writes) or BGSAVE (default: a forked child writes
 * it; LASTSAVE/INFO is polled until that save is done), then the RDB file is copied, gzipped and
 * checked to start with the "REDIS" magic. The file must be visible on this machine: a dump file
 * not modified by the save that just finished means Redis runs elsewhere, which is refused.
 *
 * Restore: a running Redis cannot load an RDB portably (FLUSHALL plus re-import is not a restore),
 * so this replaces the dump file and says that Redis must be restarted to load it. Before the
 * file is replaced, automatic save points are switched off (CONFIG SET save "") until that
 * restart: otherwise the next automatic save, or the save a normal shutdown does when save points
 * exist, would write the old in-memory data over the restored file. An instance with AOF enabled
 * loads the AOF, not the RDB, at start-up, so restoring it this way is refused.
 */

function validate(t: RedisTarget): void {
  check(nameProblem(t.host, 'host'));
  check(portProblem(t.port));
  if (t.user !== undefined) check(nameProblem(t.user, 'user'));
  if (t.dumpPath !== undefined) check(pathProblem(t.dumpPath, 'dumpPath'));
}

export function describeRedis(t: RedisTarget): string {
  return `Redis ${t.host}:${t.port}${t.user !== undefined ? ` as ${t.user}` : ''}`;
}

const redisSubject = (t: RedisTarget) => serverSubject('Redis', t);

/** Runs one command; returns the reply lines, or throws when the reply does not look like `expect`. */
async function command(job: Job, t: RedisTarget, args: string[], expect: RegExp, what = args.join(' ')): Promise<string[]> {
  const run = await job.program(['redis-cli', '-h', t.host, '-p', String(t.port), ...(t.user !== undefined ? ['--user', t.user] : []), ...args], {
    what: `${what} on ${describeRedis(t)}`,
  });
  const reply = run.stdout.replace(/\r/gu, '').trim();
  if (!expect.test(reply)) throw new ActionError(`${what} on ${describeRedis(t)} answered: ${reply.split('\n')[0]?.slice(0, 200) ?? ''}`);
  return reply.split('\n');
}

async function configGet(job: Job, t: RedisTarget, name: string): Promise<string> {
  const lines = await command(job, t, ['CONFIG', 'GET', name], new RegExp(`^${name}(\\n|$)`, 'u'), `CONFIG GET ${name}`);
  return lines[1] ?? '';
}

async function infoPersistence(job: Job, t: RedisTarget): Promise<Map<string, string>> {
  const lines = await command(job, t, ['INFO', 'persistence'], /rdb_bgsave_in_progress:/u, 'INFO persistence');
  return new Map(lines.filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}

async function lastSave(job: Job, t: RedisTarget): Promise<number> {
  return Number((await command(job, t, ['LASTSAVE'], /^\d+$/u))[0]);
}

const POLL_MS = 100;

/** Waits until no background save runs (ours, or one already started by a save point). */
async function waitForBackgroundSave(job: Job, t: RedisTarget): Promise<Map<string, string>> {
  for (;;) {
    const info = await infoPersistence(job, t);
    if (info.get('rdb_bgsave_in_progress') === '0') return info;
    await delay(POLL_MS, undefined, { signal: job.signal });
  }
}

/** Makes Redis write its dump file now; returns the save's time (unix seconds). */
async function save(job: Job, t: RedisTarget): Promise<number> {
  if (t.mode === 'save') {
    await command(job, t, ['SAVE'], /^OK$/u);
    return lastSave(job, t);
  }
  await waitForBackgroundSave(job, t);
  const before = await lastSave(job, t);
  // LASTSAVE counts seconds: if the last save was this very second, wait for the next one so that ours is told apart.
  const now = Number((await command(job, t, ['TIME'], /^\d+\n\d+$/u))[0]);
  if (now <= before) await delay(1000 * (before - now + 1), undefined, { signal: job.signal });
  await command(job, t, ['BGSAVE'], /^Background saving (started|scheduled)/u);
  for (;;) {
    await delay(POLL_MS, undefined, { signal: job.signal });
    const info = await waitForBackgroundSave(job, t);
    const saved = Number(info.get('rdb_last_save_time'));
    if (saved > before) {
      if (info.get('rdb_last_bgsave_status') !== 'ok') throw new ActionError(`BGSAVE on ${describeRedis(t)} failed (rdb_last_bgsave_status:${info.get('rdb_last_bgsave_status') ?? '?'}; see the Redis log)`);
      return saved;
    }
    if (info.get('rdb_last_bgsave_status') === 'err') throw new ActionError(`BGSAVE on ${describeRedis(t)} failed (see the Redis log)`);
  }
}

/** The dump file: `dumpPath`, or where the server says it writes it. */
async function dumpFile(job: Job, t: RedisTarget): Promise<string> {
  if (t.dumpPath !== undefined) return t.dumpPath;
  const dir = await configGet(job, t, 'dir');
  const name = await configGet(job, t, 'dbfilename');
  if (!path.isAbsolute(dir) || name === '') throw new ActionError(`${describeRedis(t)} reports dir ${JSON.stringify(dir)} and dbfilename ${JSON.stringify(name)}: set dumpPath`);
  return path.join(dir, name);
}

function checkMagic(head: Buffer, file: string): string {
  if (head.subarray(0, 5).toString('latin1') !== 'REDIS') throw new ActionError(`${file} is not an RDB file (it does not start with "REDIS")`);
  return head.subarray(5, 9).toString('latin1');
}

export const redisBackup: BackupEngine<RedisTarget> = {
  ext: 'rdb.gz',
  what: describeRedis,
  subject: redisSubject,
  method: (t) => `${t.mode === 'save' ? 'SAVE' : 'BGSAVE'}, copy ${t.dumpPath ?? 'the dump file (CONFIG GET dir/dbfilename)'}, gzip, check the REDIS magic`,
  defaultPrefix: (t) => `redis-${t.port}`,
  validate,
  async produce(t, out, job) {
    const savedAt = await save(job, t);
    const dump = await dumpFile(job, t);
    const info = await statOrUndefined(dump).catch(() => undefined);
    if (info === undefined) throw refusal(`the dump file ${dump} is not on this machine: is Redis running elsewhere? (set dumpPath to where this machine sees it)`, 'data.redis.elsewhere', { dump });
    // The save just finished, so the file must be at least that new; an older one is not what Redis wrote.
    if (info.mtimeMs / 1000 < savedAt - 2) {
      throw new ActionError(`the dump file ${dump} was not written by this save (modified ${info.mtime.toISOString()}, saved ${new Date(savedAt * 1000).toISOString()}): is Redis running elsewhere or dumpPath wrong?`);
    }
    const digest = await gzipFile(dump, out, job.signal);
    const head = await verifyGzipRoundTrip(out, digest, job.signal);
    const version = checkMagic(head, dump);
    const keyspace = (await command(job, t, ['INFO', 'keyspace'], /^# Keyspace/u, 'INFO keyspace')).filter((l) => /^db\d+:/u.test(l));
    return [
      { label: 'saved', value: `${t.mode === 'save' ? 'SAVE' : 'BGSAVE'} at ${new Date(savedAt * 1000).toISOString()}` },
      { label: 'dump file', value: dump },
      { label: 'rdb version', value: version },
      { label: 'keys', value: keyspace.length > 0 ? keyspace.join('; ') : 'none' },
      { label: 'rdb size', value: sizeValue(digest.bytes) },
    ];
  },
};

interface StagedRdb {
  dump: string;
  staged: string;
  backup: string;
  savePoints: string;
}

export const redisRestore: RestoreEngine<RedisTarget, StagedRdb> = {
  method: (t) => `replace ${t.dumpPath ?? 'the dump file'} (save points off until the restart)`,
  afterwards: 'Redis must then be restarted to load it',
  async prepare(t, backup, job) {
    validate(t);
    // CONFIG must answer: without it the AOF and save-point checks below cannot be made.
    const dir = await configGet(job, t, 'dir');
    const name = await configGet(job, t, 'dbfilename');
    const configured = path.join(dir, name);
    const dump = t.dumpPath ?? configured;
    if (path.resolve(dump) !== path.resolve(configured)) {
      throw new ActionError(`dumpPath ${dump} is not the file ${describeRedis(t)} loads at start-up (${configured})`);
    }
    if ((await configGet(job, t, 'appendonly')) === 'yes') {
      throw refusal(`${describeRedis(t)} has appendonly yes: at start-up it loads the AOF, not ${dump}, so replacing the RDB would restore nothing`, 'data.redis.aof', { what: redisSubject(t), dump });
    }
    const savePoints = await configGet(job, t, 'save');
    const staged = job.tempPath(path.dirname(dump), path.basename(dump), 'restore');
    try {
      // The manual's `docker cp …/dump.rdb ./redis-backup-<date>.rdb` is a plain RDB file; the bot's are gzipped.
      if (/\.rdb$/iu.test(backup)) await copyFile(backup, staged, constants.COPYFILE_EXCL);
      else await gunzipFile(backup, staged, job.signal);
    } catch (error) {
      if (job.signal.aborted) throw error;
      throw new ActionError(`${backup} could not be ${/\.rdb$/iu.test(backup) ? 'copied' : 'decompressed'} next to ${dump}: ${fsProblem(error)}`);
    }
    job.fact('backup rdb version', checkMagic(await readHead(staged, 9), backup));
    return { dump, staged, backup, savePoints };
  },
  async apply(t, { dump, staged, backup, savePoints }, job) {
    const turnedOff = savePoints.trim() !== '';
    if (turnedOff) {
      await command(job, t, ['CONFIG', 'SET', 'save', ''], /^OK$/u, 'CONFIG SET save ""');
      job.fact('save points', `off until the restart (were "${savePoints}"; the config file restores them)`);
    }
    // A background save running now would rename its snapshot over the restored file when it ends.
    await waitForBackgroundSave(job, t);
    const old = await statOrUndefined(dump);
    try {
      if (old !== undefined) await copyOwnership(staged, old);
      await rename(staged, dump);
      job.keep(staged);
      await syncDir(path.dirname(dump));
    } catch (error) {
      const undo = turnedOff ? ` (save points are off: CONFIG SET save "${savePoints}" turns them back on)` : '';
      throw new ActionError(`replacing ${dump}: ${fsProblem(error)}; nothing was restored${undo}`);
    }
    job.fact('restart required', `yes: ${describeRedis(t)} still serves its current data until it restarts and loads ${dump}; stop it without saving (SHUTDOWN NOSAVE, or the restart action)`);
    return summary(`replaced ${dump} with ${backup}; restart Redis to load it`, 'data.restored.redis', { dump, backup });
  },
};
