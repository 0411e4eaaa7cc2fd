import { mkdir, readdir, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ActionError, check, fsProblem, pathProblem, prefixPart, refusal, sizeValue, summary, utcStamp } from './common.js';
import type { Job } from './job.js';
import type { BackupEngine, RestoreEngine } from './engine.js';
import { countLines, lstatOrUndefined, scanLines, statOrUndefined, syncDir } from './files.js';

/*
 * A directory as a tar.gz made by GNU tar: `tar -czf <tmp> -C <parent> -- <name>`, so the archive
 * holds one top-level entry, the directory itself. It is verified by listing it (`tar -tzf`, the
 * listing written to a file with --index-file so a huge tree cannot overflow an output buffer).
 * Restore extracts into a fresh directory beside the target and swaps: the current directory is
 * renamed to `<dir>.before-restore-<ts>` and the extracted one renamed into its place.
 */

export interface DirectoryTarget {
  path: string;
  /**
   * The directory's path inside the archive, e.g. `data` for the OpenTruss manual's
   * `tar czf … /data` of the Memgraph volume or `opt/gitcortex/config` for GitCortex's config
   * backup, so that the manual's `tar xzf FILE -C /` restores the bot's archives and the bot
   * restores the manual's. Default: the directory's own name.
   */
  member?: string | undefined;
}

const MEMBER = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/u;

function memberProblem(member: string | undefined): string | undefined {
  if (member === undefined) return undefined;
  return MEMBER.test(member) ? undefined : `member ${JSON.stringify(member)} must be a relative path of letters, digits, ".", "_" and "-" (e.g. data or opt/app/config)`;
}

const strip = (line: string) => line.replace(/^(\.\/)+/u, '').replace(/\/+$/u, '');

async function requireDirectory(dir: string, what: 'source directory' | 'parent directory'): Promise<void> {
  let info;
  try {
    info = await statOrUndefined(dir);
  } catch (error) {
    throw new ActionError(`${what} ${dir}: ${fsProblem(error)}`);
  }
  const code = what === 'source directory' ? 'data.dir.source' : 'data.dir.parent';
  if (info === undefined) throw refusal(`${what} ${dir} does not exist`, `${code}.missing`, { path: dir });
  if (!info.isDirectory()) throw refusal(`${what} ${dir} is not a directory`, `${code}.notDir`, { path: dir });
}

/** A directory as the results say it in any language: its path with a trailing slash. */
const directorySubject = (t: DirectoryTarget) => `${path.resolve(t.path)}/`;

/** `tar -tzf` into a listing file; returns the number of entries and the top-level names. */
async function listArchive(job: Job, archive: string, scratchDir: string): Promise<{ entries: number; top: Set<string>; names: Set<string> }> {
  const listing = job.tempPath(scratchDir, path.basename(archive), 'list');
  await job.program(['tar', '-tzf', archive, `--index-file=${listing}`], { what: `tar -tzf of ${path.basename(archive)}` });
  const top = new Set<string>();
  // Every directory an entry lies in (for a member path such as opt/gitcortex/config).
  const names = new Set<string>();
  await scanLines(listing, job.signal, (line) => {
    const parts = strip(line).split('/');
    const first = parts[0];
    if (first !== undefined && first !== '' && first !== '.') top.add(first);
    for (let i = 1; i <= Math.min(parts.length, 8); i++) names.add(parts.slice(0, i).join('/'));
  });
  const entries = await countLines(listing, job.signal, (line) => line !== '');
  if (entries === 0) throw new ActionError(`${archive} lists no entries`);
  return { entries, top, names };
}

export const directoryBackup: BackupEngine<DirectoryTarget> = {
  ext: 'tar.gz',
  what: (t) => `directory ${t.path}`,
  subject: directorySubject,
  method: () => 'tar -czf, verified with tar -tzf',
  defaultPrefix: (t) => `dir-${prefixPart(path.basename(t.path))}`,
  validate: (t) => {
    check(pathProblem(t.path, 'directory'));
    check(memberProblem(t.member));
  },
  besideLive: (t) => path.dirname(path.resolve(t.path)),
  async absent(t) {
    return (await lstatOrUndefined(t.path)) === undefined;
  },
  async produce(t, out, job) {
    await requireDirectory(t.path, 'source directory');
    const source = path.resolve(t.path);
    // With a member other than the directory's name, its entries are renamed as they are written
    // (`./x` → `<member>/x`; symlink targets are left alone): the archive then has the manual's layout.
    const argv: [string, ...string[]] =
      t.member === undefined || t.member === path.basename(source)
        ? ['tar', '-czf', out, '-C', path.dirname(source), '--', path.basename(source)]
        : ['tar', '-czf', out, '-C', source, `--transform=s,^\\.,${t.member},S`, '--', '.'];
    const run = await job.program(argv, {
      what: `tar of ${source}`,
      allowFailure: true,
    });
    // GNU tar exits 1 when a file changed while it was read: the archive is whole, that file may be torn.
    if (!run.ok && !(run.exitCode === 1 && /file changed as we read it|file removed before we read it/u.test(run.output))) {
      // tar's first complaint names the cause ("Cannot write: No space left on device"); its last line only says it gave up.
      const first = run.output.trim().split('\n')[0] ?? '';
      throw new ActionError(`tar of ${source}: ${run.failure ?? 'failed'}${first !== '' && !run.timedOut ? `: ${first}` : ''}`, run.timedOut);
    }
    const facts = run.ok ? [] : [{ label: 'warning', value: `files changed while being archived: ${run.output.trim().split('\n').slice(0, 3).join('; ')}` }];
    const { entries } = await listArchive(job, out, path.dirname(out));
    const size = (await statOrUndefined(out))?.size ?? 0;
    return [...facts, { label: 'entries', value: String(entries) }, { label: 'archive size', value: sizeValue(size) }];
  },
};

interface Extracted {
  extracted: string;
  backup: string;
}

export const directoryRestore: RestoreEngine<DirectoryTarget, Extracted> = {
  method: () => 'extract beside the directory, then swap (previous directory kept)',
  async prepare(t, backup, job) {
    check(pathProblem(t.path, 'target'));
    const target = path.resolve(t.path);
    const parent = path.dirname(target);
    await requireDirectory(parent, 'parent directory');
    check(memberProblem(t.member));
    const { entries, top, names } = await listArchive(job, backup, os.tmpdir());
    // The archive's layout: the member path (the manual's), else one top-level directory (the bot's older archives).
    let name: string;
    if (t.member !== undefined && names.has(t.member)) {
      name = t.member;
    } else {
      if (top.size !== 1) throw new ActionError(`${backup} holds neither ${t.member ?? 'a member'} nor exactly one top-level directory (found ${[...top].slice(0, 5).join(', ') || 'none'})`);
      [name = ''] = [...top];
    }
    job.fact('archive layout', `${name}/…`);
    const staging = job.tempPath(parent, path.basename(target), 'restore');
    try {
      await mkdir(staging, { mode: 0o700 });
    } catch (error) {
      throw new ActionError(`creating ${staging}: ${fsProblem(error)}`);
    }
    await job.program(['tar', '-xzf', backup, '-C', staging], { what: `extracting ${backup}` });
    const extracted = path.join(staging, name);
    const info = await lstatOrUndefined(extracted);
    if (!info?.isDirectory()) throw new ActionError(`${backup} does not hold a directory (its top-level entry ${name} is not one)`);
    job.fact('restored entries', String(entries));
    return { extracted, backup };
  },
  async apply(t, { extracted, backup }, job) {
    const target = path.resolve(t.path);
    const aside = `${target}.before-restore-${utcStamp(new Date())}`;
    const existed = (await lstatOrUndefined(target)) !== undefined;
    try {
      if (existed) await rename(target, aside);
    } catch (error) {
      throw new ActionError(`moving ${target} aside: ${fsProblem(error)}`);
    }
    try {
      await rename(extracted, target);
    } catch (error) {
      // Put the current directory back: a failed swap leaves things as they were.
      if (existed) await rename(aside, target).catch(() => undefined);
      throw new ActionError(`moving the restored directory into place: ${fsProblem(error)}`);
    }
    await syncDir(path.dirname(target));
    if (existed) job.fact('previous directory kept as', aside);
    const left = await readdir(path.dirname(extracted)).catch(() => []);
    if (left.length > 0) job.fact('warning', `unexpected entries left in the staging directory: ${left.join(', ')}`);
    return summary(`restored directory ${target} from ${backup}`, 'data.restored', { what: directorySubject(t), backup });
  },
};
