import { randomBytes } from 'node:crypto';
import { link, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KeepRule } from './common.js';
import { sha256File, syncDir } from './files.js';

/*
 * Backup files on disk: `<prefix>-<YYYYMMDDTHHMMSSZ>.<ext>` with a `<name>.sha256` sidecar in
 * sha256sum format. A final name is only ever given to a verified file (temporaries start with a
 * dot and never match the pattern), so anything matching the pattern is a finished backup, and one
 * whose sidecar matches its content is a verified one.
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
  /** The time in the name (UTC), which orders backups. */
  takenAt: Date;
  sizeBytes: number;
  mtime: Date;
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
  signal?: AbortSignal;
}

/** Backups named `<prefix>-<stamp>.<ext>` in `dir`, newest first, without hashing. */
async function backupsIn(dir: string, prefix: string, ext?: string): Promise<Omit<BackupFile, 'sidecar' | 'verified'>[]> {
  const pattern = namePattern(prefix, ext);
  const found: Omit<BackupFile, 'sidecar' | 'verified'>[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const stamp = pattern.exec(entry.name)?.[1];
    const takenAt = stamp !== undefined ? stampTime(stamp) : undefined;
    if (takenAt === undefined) continue;
    const file = path.join(dir, entry.name);
    const info = await stat(file).catch(() => undefined);
    if (info === undefined) continue;
    found.push({ path: file, name: entry.name, takenAt, sizeBytes: info.size, mtime: info.mtime });
  }
  return found.sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime() || b.name.localeCompare(a.name));
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
  const files = (await backupsIn(dir, prefix, options.ext)).slice(0, Math.max(0, limit));
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
): Promise<{ backup: (BackupFile & { sha256: string }) | undefined; skipped: string[] }> {
  const skipped: string[] = [];
  for (const file of await backupsIn(dir, prefix, ext)) {
    const { sidecar, sha256 } = await checkSidecar(file.path, signal);
    if (sidecar === 'verified') return { backup: { ...file, sidecar, verified: true, sha256 }, skipped };
    skipped.push(`${file.name} (${sidecar === 'missing' ? 'no .sha256 sidecar' : 'sha256 does not match its sidecar'})`);
  }
  return { backup: undefined, skipped };
}

/**
 * Deletes backups of `prefix`/`ext` in `dir` that no keep rule keeps: a backup stays when it is
 * among the newest `files` or younger than `days` (either rule is enough, like restic's
 * --keep-last / --keep-within). `protect` (the backup just written) is never deleted.
 */
export async function applyRetention(
  dir: string,
  prefix: string,
  ext: string,
  keep: KeepRule,
  protect: string,
  now: Date,
): Promise<{ deleted: string[]; kept: number; problems: string[] }> {
  const files = await backupsIn(dir, prefix, ext);
  const cutoff = keep.days !== undefined ? now.getTime() - keep.days * 86_400_000 : undefined;
  const deleted: string[] = [];
  const problems: string[] = [];
  let kept = 0;
  for (const [index, file] of files.entries()) {
    const keptByCount = keep.files !== undefined && index < keep.files;
    const keptByAge = cutoff !== undefined && file.takenAt.getTime() >= cutoff;
    if (file.path === protect || keptByCount || keptByAge) {
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
