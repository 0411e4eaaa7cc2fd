/**
 * Result codes of the data actions (checkpoint, backup, restore, locate): each is said by the
 * core's catalogue as `result.<code>` (src/core/i18n/data.en.ts). A comment names each code's
 * parameters; a parameter ending in `Ms` is a duration in milliseconds. Sizes are passed as text
 * ("1.2 MiB (1234567 B)"), and what a step works on as a subject without English words ("SQLite
 * /var/lib/app.db", "PostgreSQL orders @ db1:5432 (app)", "/srv/data/").
 */
export const DATA_RESULT_CODES = [
  // A restore picker's button label, in two parts: which backup, then its checksum.
  /** {name} → {linkTo} ({mtimeAt}), {sizeBytes}: a declared link and the file it points to. */
  'choice.link',
  /** Safety copy before a restore, {takenAt}, {sizeBytes}. */
  'choice.safety',
  /** {name}, {takenAt}, {sizeBytes}: a file named as the step declares (a manual's own backup). */
  'choice.named',
  /** {takenAt}, {sizeBytes}: a backup named as the backup action names them. */
  'choice.backup',
  /** Its sha256 matches its sidecar. */
  'choice.verified',
  /** Its sha256 does not match its sidecar. */
  'choice.mismatch',
  /** A declared file with no sidecar. */
  'choice.noSidecar',
  /** Not checked. */
  'choice.unverified',
  // What a step will do (a description; the bot adds the timeout).
  /** Will checkpoint SQLite {path} with PRAGMA wal_checkpoint({mode}). */
  'data.describe.checkpoint.sqlite',
  /** The same, then PRAGMA integrity_check. */
  'data.describe.checkpoint.sqlite.checked',
  /** Will run CHECKPOINT on {what} (a server subject). */
  'data.describe.checkpoint.postgres',
  /** Will back up {what} to {dir} as {name}, with a sha256 sidecar. */
  'data.describe.backup',
  /** The same, keeping {days} days of backups. */
  'data.describe.backup.keepDays',
  /** The same, keeping the newest {files}. */
  'data.describe.backup.keepFiles',
  /** The same, keeping {days} days or the newest {files}. */
  'data.describe.backup.keepDaysFiles',
  /** The same, keeping what {find} (a find expression) does not match. */
  'data.describe.backup.keepFind',
  /** The same, keeping what {find} does not match or the newest {files}. */
  'data.describe.backup.keepFindFiles',
  /** Will restore {what} from {from}, after a safety backup to {safetyDir}. */
  'data.describe.restore',
  /** The same; Redis must then be restarted to load it. */
  'data.describe.restore.restart',
  /** Will restore {what} from the newest verified {name} in {dir}, after a safety backup to {safetyDir}. */
  'data.describe.restore.latest',
  /** The same; Redis must then be restarted to load it. */
  'data.describe.restore.latest.restart',
  /** Will name the backup {from} and hash it, changing nothing. */
  'data.describe.locate',
  // What a step did.
  /** Checkpointed SQLite {path} ({mode}): WAL {before} → {after} (sizes), in {tookMs}. */
  'data.checkpoint.sqlite',
  /** The same, and integrity_check said ok. */
  'data.checkpoint.sqlite.checked',
  /** SQLite {path} is not in WAL mode: nothing to checkpoint, in {tookMs}. */
  'data.checkpoint.notWal',
  /** The same, and integrity_check said ok. */
  'data.checkpoint.notWal.checked',
  /** Ran CHECKPOINT on {what}, in {tookMs}. */
  'data.checkpoint.postgres',
  /** Backed up {what} to {file} ({size}), in {tookMs}. */
  'data.backedUp',
  /** Restored {what} from {backup}, in {tookMs}. */
  'data.restored',
  /** Restored {what} from the plain SQL dump {backup} through psql, in {tookMs}. */
  'data.restored.plain',
  /** Replaced the dump file {dump} with {backup}; Redis loads it when restarted. In {tookMs}. */
  'data.restored.redis',
  /** The backup is {path} ({size}, modified {modified}), in {tookMs}. */
  'data.located',
  /** The backup is {link} → {path} ({size}, modified {modified}), in {tookMs}. */
  'data.located.link',
  // Why a step stopped.
  /** The step ran out of time. */
  'data.outOfTime',
  /** The step was cancelled. */
  'data.cancelled',
  /** The safety backup failed, so nothing was restored (followed by why). */
  'data.safety.failed',
  // Refusals and the checks a responder meets.
  /** Backup {path} does not exist. */
  'data.backup.missing',
  /** Backup {path} is not a (regular) file. */
  'data.backup.notFile',
  /** Backup {path} has no .sha256 sidecar {sidecar}: refused. */
  'data.backup.noSidecar',
  /** Backup {path} does not match its sidecar {sidecar} (sha256 {actual}, recorded {recorded}): refused. */
  'data.backup.mismatch',
  /** No verified backup {name} in {dir}. */
  'data.backup.none',
  /** No verified backup {name} in {dir}; {count} lack a matching .sha256. */
  'data.backup.noneVerified',
  /** Backup {path} does not match its .sha256 sidecar. */
  'data.locate.mismatch',
  /** Destination {dir} does not exist (it is not created). */
  'data.dest.missing',
  /** Destination {dir} is not a directory. */
  'data.dest.notDir',
  /** Destination {dir} is not writable: {error} (a system error code). */
  'data.dest.notWritable',
  /** Source directory {path} does not exist. */
  'data.dir.source.missing',
  /** Source directory {path} is not a directory. */
  'data.dir.source.notDir',
  /** The parent directory {path} of a restore target does not exist. */
  'data.dir.parent.missing',
  /** The parent directory {path} of a restore target is not a directory. */
  'data.dir.parent.notDir',
  /** None of {files} (a brace list of paths) exists. */
  'data.files.none',
  /** SQLite database {path} does not exist (nothing was created). */
  'data.sqlite.missing',
  /** SQLite database {path} is not a regular file. */
  'data.sqlite.notFile',
  /** integrity_check of {path} found {problems} (SQLite's words). */
  'data.sqlite.integrity',
  /** The copy of {path} failed integrity_check: {problems}. */
  'data.sqlite.copyIntegrity',
  /** The backup {backup} failed integrity_check: {problems}. */
  'data.sqlite.backupIntegrity',
  /** wal_checkpoint({mode}) of {path} was blocked: {done} of {log} frames, WAL {wal} (a size). */
  'data.sqlite.busy',
  /** SQLite database {path} is in use by another process: restore refused. */
  'data.sqlite.inUse',
  /** CHECKPOINT on {what} was refused: {detail} (PostgreSQL's words); it needs a superuser or pg_checkpoint. */
  'data.checkpoint.postgres.denied',
  /** CHECKPOINT on {what} failed: {detail} (PostgreSQL's words). */
  'data.checkpoint.postgres.failed',
  /** {what} has appendonly yes, so replacing {dump} would restore nothing. */
  'data.redis.aof',
  /** The dump file {dump} is not on this machine. */
  'data.redis.elsewhere',
] as const;
