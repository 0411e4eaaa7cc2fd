import { randomBytes } from 'node:crypto';
import { link, lstat, readdir, readFile, realpath, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KeepRule } from './common.js';
import { sha256File, syncDir } from './files.js';
import { compileName, globRegExp, type BackupName } from './naming.js';

/*
 * Backup files on disk: `<prefix>-<YYYYMMDDTHHMMSSZ>.<ext>` with a `<name>.sha256` sidecar in
 * sha256sum format. A final name is only ever given to a verified file (temporaries start with a
 * dot and never match the pattern), so anything matching the pattern is a finished backup, and one
 * whose sidecar matches its content is a verified one.
 *
 * Over 300 lines on purpose: listing, publishing and retention share the naming rules and must
 * agree on them, so they stay in one file.
 */

/** File extensions of the backups the data actions write, one per engine. */
export const BACKUP_EXTENSIONS = ['db.gz', 'dump', 'sql.gz', 'rdb.gz', 'tar.gz'] as const;

const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/u;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');

/** Matches `<prefix>-<stamp>.<ext>` exactly; the stamp is group 1, the extension group 2. */
function namePattern(prefix: string, ext?: string): RegExp {
  const exts = ext !== undefined ? [ext] : [...BACKUP_EXTENSIONS];
  return new RegExp(`^${escapeRegExp(prefix)}-(\\d{8}T\\d{6}Z)\\.(${exts.map(escapeRegExp).join('|')})$`, 'u');
}

function stampTime(stamp: string): Date | undefined {
  const m = STAMP.exec(stamp);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export const sidecarPath = (file: string) => `${file}.sha256`;

/** The hash recorded in a `.sha256` sidecar, or undefined when there is none (or it is unreadable). */
export async function readSidecar(file: string): Promise<string | undefined> {
  let content: string;
  try {
    content = await readFile(sidecarPath(file), 'utf8');
  } catch {
    return undefined;
  }
  const hash = /^([0-9a-f]{64})\b/u.exec(content.trim())?.[1];
  return hash;
}

/** Writes `<file>.sha256` (sha256sum format) through a temporary name, so the sidecar is whole or absent. */
export async function writeSidecar(file: string, sha256: string): Promise<void> {
  const target = sidecarPath(file);
  const temp = path.join(path.dirname(file), `.${path.basename(target)}.tmp-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(temp, `${sha256}  ${path.basename(file)}\n`, { flag: 'wx', flush: true });
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Gives a finished temporary file its final name without ever replacing an existing file: a hard
 * link fails with EEXIST when the name is taken, then the temporary name is removed. File systems
 * without hard links fall back to check-then-rename. Returns false (and keeps `temp`) when the
 * name is taken.
 */
export async function publish(temp: string, final: string): Promise<boolean> {
  try {
    await link(temp, final);
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw error;
    if (await stat(final).then(() => true, () => false)) return false;
    await rename(temp, final);
    await syncDir(path.dirname(final));
    return true;
  }
  await unlink(temp);
  await syncDir(path.dirname(final));
  return true;
}

export interface BackupFile {
  path: string;
  name: string;
  /** The time in the name (UTC), or the file's mtime for a name without one; orders backups. */
  takenAt: Date;
  sizeBytes: number;
  mtime: Date;
  /** `bot`: `<prefix>-<stamp>.<ext>`; `safety`: `<prefix>-safety-<stamp>.<ext>` (taken before a restore); `named`: a name the step declares. */
  kind: 'bot' | 'safety' | 'named';
  /** For a symbolic link (e.g. latest.db.gz): the name of the file it points to, in the same directory. */
  linkTo?: string;
  /** `verified`: the sidecar matches the content; `unchecked`: listed without hashing. */
  sidecar: 'verified' | 'mismatch' | 'missing' | 'unchecked';
  /** True when the `.sha256` sidecar exists and matches the content. */
  verified: boolean;
  /** The content's SHA-256 when it was computed. */
  sha256?: string;
}

export interface ListOptions {
  /** Only backups with this extension (e.g. "db.gz"); default: any of BACKUP_EXTENSIONS. */
  ext?: string;
  /** Hash each listed file and compare with its sidecar (default true; costs a read of each file). */
  verify?: boolean;
  /** Names the step declares besides the bot's own (the manuals' scripts' backups, latest.* links). */
  names?: readonly BackupName[];
  /** Also list `<prefix>-safety-<stamp>` files, the copies taken before restores (default false). */
  safety?: boolean;
  signal?: AbortSignal;
}

type Found = Omit<BackupFile, 'sidecar' | 'verified'>;

const safetyPattern = (prefix: string, ext?: string) => namePattern(`${prefix}-safety`, ext);

/**
 * Backups in `dir`, newest first, without hashing: regular files named `<prefix>-<stamp>.<ext>`,
 * with `safety` also `<prefix>-safety-<stamp>.<ext>`, and files or symbolic links matching a
 * declared name. A link is listed only when it resolves to a regular file in the same directory
 * (a link leading elsewhere could make a restore read any file on the host).
 */
async function backupsIn(dir: string, prefix: string, options: Pick<ListOptions, 'ext' | 'names' | 'safety'> = {}): Promise<Found[]> {
  const bot = namePattern(prefix, options.ext);
  const safety = options.safety === true ? safetyPattern(prefix, options.ext) : undefined;
  const declared = (options.names ?? []).map(compileName);
  let realDir: string | undefined;
  const found: Found[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const file = path.join(dir, entry.name);
    let kind: BackupFile['kind'] | undefined;
    let takenAt: Date | undefined;
    let useMtime = false;
    if (entry.isFile()) {
      const stamp = bot.exec(entry.name)?.[1];
      const safe = stamp === undefined ? safety?.exec(entry.name)?.[1] : undefined;
      if (stamp !== undefined) [kind, takenAt] = ['bot', stampTime(stamp)];
      else if (safe !== undefined) [kind, takenAt] = ['safety', stampTime(safe)];
    }
    if (kind === undefined || takenAt === undefined) {
      const hit = declared.map((d) => d.match(entry.name)).find((m) => m !== null);
      if (!hit) continue;
      kind = 'named';
      takenAt = hit.takenAt;
      useMtime = takenAt === undefined;
    }
    let linkTo: string | undefined;
    if (entry.isSymbolicLink()) {
      realDir ??= await realpath(dir);
      const real = await realpath(file).catch(() => undefined);
      if (real === undefined || path.dirname(real) !== realDir) continue;
      linkTo = path.basename(real);
    }
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) continue;
    found.push({ path: file, name: entry.name, takenAt: useMtime || takenAt === undefined ? info.mtime : takenAt, sizeBytes: info.size, mtime: info.mtime, kind, ...(linkTo !== undefined ? { linkTo } : {}) });
  }
  // Links first (latest.db.gz is the manual's own choice), then newest first.
  return found.sort((a, b) => Number(b.linkTo !== undefined) - Number(a.linkTo !== undefined) || b.takenAt.getTime() - a.takenAt.getTime() || b.name.localeCompare(a.name));
}

/** Hashes a backup and compares it with its sidecar. */
export async function checkSidecar(file: string, signal: AbortSignal = new AbortController().signal): Promise<{ sidecar: 'verified' | 'mismatch' | 'missing'; sha256: string }> {
  const [recorded, actual] = await Promise.all([readSidecar(file), sha256File(file, signal)]);
  const sidecar = recorded === undefined ? 'missing' : recorded === actual.sha256 ? 'verified' : 'mismatch';
  return { sidecar, sha256: actual.sha256 };
}

/**
 * The newest `limit` backups of `prefix` in `dir` (newest first): path, size, mtime, and whether a
 * `.sha256` sidecar exists and matches. For the chat restore picker.
 */
export async function listBackups(dir: string, prefix: string, limit = 10, options: ListOptions = {}): Promise<BackupFile[]> {
  const files = (await backupsIn(dir, prefix, options)).slice(0, Math.max(0, limit));
  if (options.verify === false) return files.map((f) => ({ ...f, sidecar: 'unchecked', verified: false }));
  const listed: BackupFile[] = [];
  for (const file of files) {
    const { sidecar, sha256 } = await checkSidecar(file.path, options.signal);
    listed.push({ ...file, sidecar, verified: sidecar === 'verified', sha256 });
  }
  return listed;
}

/**
 * The newest backup whose sidecar matches its content; newer ones that fail (no sidecar, a
 * mismatch) are returned in `skipped` so the step can say why it did not take them.
 */
export async function latestVerifiedBackup(
  dir: string,
  prefix: string,
  ext: string,
  signal: AbortSignal,
): Promise<{ backup: (BackupFile & { sha256: string }) | undefined; skipped: Array<{ name: string; sidecar: 'missing' | 'mismatch' }> }> {
  const skipped: Array<{ name: string; sidecar: 'missing' | 'mismatch' }> = [];
  for (const file of await backupsIn(dir, prefix, { ext })) {
    const { sidecar, sha256 } = await checkSidecar(file.path, signal);
    if (sidecar === 'verified') return { backup: { ...file, sidecar, verified: true, sha256 }, skipped };
    skipped.push({ name: file.name, sidecar });
  }
  return { backup: undefined, skipped };
}

const DAY_MS = 86_400_000;

/**
 * Whether `find -mtime +days` matches a file modified at `mtime`: find counts whole days of age,
 * dropping the fraction, so +30 means at least 31 full days (31 × 24 h) before `now`.
 */
export const olderThanFindDays = (mtime: Date, days: number, now: Date) => now.getTime() - mtime.getTime() > (days + 1) * DAY_MS;

/**
 * What `find dir -name <glob>` visits: every entry below `dir` (symbolic links are not followed,
 * their own mtime counts) whose name matches, except directories, which are never deleted here.
 */
async function findByName(dir: string, glob: string): Promise<Array<{ path: string; name: string; mtime: Date }>> {
  const re = globRegExp(glob);
  const out: Array<{ path: string; name: string; mtime: Date }> = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const file = path.join(d, entry.name);
      if (entry.isDirectory()) {
        await walk(file);
        continue;
      }
      if (!re.test(entry.name)) continue;
      const info = await lstat(file).catch(() => undefined);
      if (info !== undefined) out.push({ path: file, name: path.relative(dir, file), mtime: info.mtime });
    }
  };
  await walk(dir);
  return out.sort((a, b) => b.mtime.getTime() - a.mtime.getTime() || b.name.localeCompare(a.name));
}

/** Where the retention of a backup step looks, and which of the files there belong to it. */
export interface RetentionScope {
  dir: string;
  prefix: string;
  ext: string;
  names?: readonly BackupName[] | undefined;
}

/**
 * Deletes the backups of a step that no keep rule keeps. With `by: name` (the default) these are
 * its `<prefix>-<stamp>.<ext>` files and its declared names, aged by the time in the name (or the
 * mtime for a name without one); a backup stays when it is among the newest `files` or younger
 * than `days` (either rule is enough, like restic's --keep-last / --keep-within). With `by: mtime`
 * and a `match` glob, exactly what `find dir -name <match> -mtime +<days> -delete` deletes
 * (recursively, links by their own mtime), except safety backups and what `files` keeps. Safety
 * backups (`<prefix>-safety-<stamp>.<ext>`, taken before restores) expire after `safetyDays`, the
 * newest one never. `protect` (the backup just written) is never deleted; a deleted file's
 * `.sha256` sidecar goes with it.
 */
export async function applyRetention(scope: RetentionScope, keep: KeepRule, protect: string, now: Date): Promise<{ deleted: string[]; kept: number; problems: string[] }> {
  const { dir, prefix, ext } = scope;
  const deleted: string[] = [];
  const problems: string[] = [];
  let kept = 0;
  const remove = async (file: string, name: string) => {
    try {
      await rm(file);
      await rm(sidecarPath(file), { force: true });
      deleted.push(name);
    } catch (error) {
      problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const safetyRe = safetyPattern(prefix);

  if (keep.by === 'mtime') {
    const files = keep.match !== undefined ? (await findByName(dir, keep.match)).filter((f) => !safetyRe.test(path.basename(f.path))) : (await backupsIn(dir, prefix, { ext, names: scope.names })).map((f) => ({ path: f.path, name: f.name, mtime: f.mtime }));
    for (const [index, file] of files.entries()) {
      const keptByCount = keep.files !== undefined && index < keep.files;
      const keptByAge = keep.days !== undefined && !olderThanFindDays(file.mtime, keep.days, now);
      if (file.path === protect || keptByCount || keptByAge) kept++;
      else await remove(file.path, file.name);
    }
  } else {
    const files = await backupsIn(dir, prefix, { ext, names: scope.names });
    const cutoff = keep.days !== undefined ? now.getTime() - keep.days * DAY_MS : undefined;
    for (const [index, file] of files.entries()) {
      if (file.linkTo !== undefined) {
        kept++;
        continue;
      }
      const keptByCount = keep.files !== undefined && index < keep.files;
      const keptByAge = cutoff !== undefined && file.takenAt.getTime() >= cutoff;
      if (file.path === protect || keptByCount || keptByAge) kept++;
      else await remove(file.path, file.name);
    }
  }

  const safety = await expireSafetyBackups(dir, prefix, ext, keep.safetyDays, protect, now);
  // `kept` counts the step's own backups; safety backups that stay are not among them.
  return { deleted: [...deleted, ...safety.deleted], kept, problems: [...problems, ...safety.problems] };
}

/**
 * Deletes safety backups (`<prefix>-safety-<stamp>.<ext>` in `dir`) older than `days` by the time
 * in their names; the newest one is always kept (it may be the only way back from the last
 * restore), and so is `protect`.
 */
export async function expireSafetyBackups(dir: string, prefix: string, ext: string, days: number, protect: string, now: Date): Promise<{ deleted: string[]; kept: number; problems: string[] }> {
  const deleted: string[] = [];
  const problems: string[] = [];
  let kept = 0;
  const safeties = (await backupsIn(dir, prefix, { ext, safety: true })).filter((f) => f.kind === 'safety');
  const cutoff = now.getTime() - days * DAY_MS;
  for (const [index, file] of safeties.entries()) {
    if (index === 0 || file.path === protect || file.takenAt.getTime() >= cutoff) {
      kept++;
      continue;
    }
    try {
      await rm(file.path);
      await rm(sidecarPath(file.path), { force: true });
      deleted.push(file.name);
    } catch (error) {
      problems.push(`${file.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { deleted, kept, problems };
}
