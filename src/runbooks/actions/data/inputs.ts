import { z } from 'zod';
import { keepInput, portInput, text } from './common.js';
import { backupNameSchema } from './naming.js';

/*
 * The `with:` inputs of checkpoint, backup and restore: one strict object per engine, told apart
 * by `engine`. Strings may hold {{params}}, so they are only required to be non-empty here; paths,
 * names, prefixes and ports are checked on the rendered values when the step runs.
 */

export const CHECKPOINT_MODES = ['PASSIVE', 'FULL', 'RESTART', 'TRUNCATE'] as const;

/** Where PostgreSQL is: like psql's -h/-p/-U/-d (a password comes from PGPASSWORD in the step's `env`). */
const postgresTarget = {
  host: text.optional(),
  port: portInput.optional(),
  user: text.optional(),
  database: text,
};

/** Where MariaDB/MySQL is (a password comes from MYSQL_PWD in the step's `env`). */
const mysqlTarget = {
  host: text.optional(),
  port: portInput.optional(),
  user: text.optional(),
  database: text,
};

/** Where Redis is (a password comes from REDISCLI_AUTH in the step's `env`). */
const redisTarget = {
  host: text.default('127.0.0.1'),
  port: portInput.default(6379),
  /** ACL user (Redis 6+), with REDISCLI_AUTH as its password. */
  user: text.optional(),
  /** The RDB file; default: asked from the server (CONFIG GET dir + dbfilename). */
  dumpPath: text.optional(),
  /** `bgsave` (default) snapshots in a child process; `save` blocks every client until written. */
  mode: z.enum(['save', 'bgsave']).default('bgsave'),
};

/** Loose files of one directory (a config backup such as the OpenTruss manual's tar of .env.production, nginx/nginx.conf, docker-compose.yml). */
const fileSet = {
  /** The directory the files are relative to. */
  base: text,
  /** Paths relative to `base`, as the archive holds them. */
  files: z.array(text).min(1).max(50),
};

/** Where a backup goes and how many to keep. */
const destination = {
  /** The destination directory; it must exist. */
  dir: text,
  /** File names are `<prefix>-<UTC YYYYMMDDTHHMMSSZ>.<ext>`; the default depends on the engine. */
  prefix: text.optional(),
  keep: keepInput.optional(),
  /** Other names the step's backups have in `dir` (the manual's own scripts' files), which retention counts too. */
  names: z.array(backupNameSchema).max(10).optional(),
};

export const checkpointInputs = z.discriminatedUnion('engine', [
  z.strictObject({
    engine: z.literal('sqlite'),
    path: text,
    mode: z.enum(CHECKPOINT_MODES).default('TRUNCATE'),
    integrityCheck: z.boolean().default(true),
  }),
  z.strictObject({ engine: z.literal('postgres'), ...postgresTarget }),
]);

export const backupInputs = z.discriminatedUnion('engine', [
  z.strictObject({ engine: z.literal('sqlite'), path: text, ...destination }),
  z.strictObject({ engine: z.literal('postgres'), ...postgresTarget, ...destination }),
  z.strictObject({ engine: z.literal('mysql'), ...mysqlTarget, ...destination }),
  z.strictObject({ engine: z.literal('redis'), ...redisTarget, ...destination }),
  z.strictObject({ engine: z.literal('directory'), source: text, member: text.optional(), ...destination }),
  z.strictObject({ engine: z.literal('files'), ...fileSet, ...destination }),
]);

/** Which backup to restore, and where the safety backup goes. */
const restoreSource = {
  /** An explicit backup file… */
  from: text.optional(),
  /** …or the newest verified backup of `prefix` in `dir`. */
  latest: z.boolean().optional(),
  dir: text.optional(),
  prefix: text.optional(),
  /**
   * Where the safety backup of the current state goes; default: beside the live data (SQLite, a
   * directory), else `dir`, else the backup's directory.
   */
  safetyDir: text.optional(),
  /**
   * `false` restores an explicit backup even without a matching `.sha256` sidecar; `if-present`
   * restores one without a sidecar (the manuals' scripts write none) but refuses a mismatch.
   * Default: a backup whose sidecar is missing or does not match is refused. Either way the
   * engine checks the content (gzip, integrity_check, pg_restore --list, the dump's trailer).
   */
  verify: z.union([z.boolean(), z.literal('if-present')]).default(true),
  /** Safety backups in the safety directory older than this many days are deleted after a new one is taken (the newest always stays). */
  safetyDays: z.int().min(1).max(36500).default(7),
};

export const restoreInputs = z
  .discriminatedUnion('engine', [
    z.strictObject({ engine: z.literal('sqlite'), path: text, ...restoreSource }),
    z.strictObject({ engine: z.literal('postgres'), ...postgresTarget, ...restoreSource }),
    z.strictObject({ engine: z.literal('mysql'), ...mysqlTarget, ...restoreSource }),
    z.strictObject({ engine: z.literal('redis'), ...redisTarget, ...restoreSource }),
    z.strictObject({ engine: z.literal('directory'), target: text, member: text.optional(), ...restoreSource }),
    z.strictObject({ engine: z.literal('files'), ...fileSet, ...restoreSource }),
  ])
  .superRefine((inputs, ctx) => {
    const latest = inputs.latest === true;
    if (inputs.from !== undefined && latest) ctx.addIssue({ code: 'custom', path: ['latest'], message: 'give either from (a backup file) or latest: true, not both' });
    if (inputs.from === undefined && !latest) ctx.addIssue({ code: 'custom', path: ['from'], message: 'give from (a backup file) or latest: true with dir' });
    if (latest && inputs.dir === undefined) ctx.addIssue({ code: 'custom', path: ['dir'], message: 'latest: true needs dir (where the backups are)' });
  });

export type CheckpointInputs = z.output<typeof checkpointInputs>;
export type BackupInputs = z.output<typeof backupInputs>;
export type RestoreInputs = z.output<typeof restoreInputs>;

export type SqliteBackup = Extract<BackupInputs, { engine: 'sqlite' }>;
export type PostgresBackup = Extract<BackupInputs, { engine: 'postgres' }>;
export type MysqlBackup = Extract<BackupInputs, { engine: 'mysql' }>;
export type RedisBackup = Extract<BackupInputs, { engine: 'redis' }>;
export type DirectoryBackup = Extract<BackupInputs, { engine: 'directory' }>;

/** What every engine needs to know to reach its data (the target part of the inputs). */
export type PostgresTarget = Pick<PostgresBackup, 'host' | 'port' | 'user' | 'database'>;
export type MysqlTarget = Pick<MysqlBackup, 'host' | 'port' | 'user' | 'database'>;
export type RedisTarget = Pick<RedisBackup, 'host' | 'port' | 'user' | 'dumpPath' | 'mode'>;
