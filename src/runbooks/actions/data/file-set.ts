import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { ActionError, check, fsProblem, pathProblem, prefixPart, refusal, sizeValue, summary, utcStamp } from './common.js';
import type { Job } from './job.js';
import type { BackupEngine, RestoreEngine } from './engine.js';
import { lstatOrUndefined, scanLines, statOrUndefined, syncDir } from './files.js';

/*
 * Loose files of one directory as a tar.gz, as the OpenTruss manual's config backup makes it:
 * `tar czf config-backup-<date>.tar.gz .env.production nginx/nginx.conf docker-compose.yml` run in
 * the project directory, so the archive holds those relative paths and `tar xzf FILE` in that
 * directory restores it. The bot writes the same layout (`tar -czf <tmp> -C <base> -- <files>`)
 * and restores the manual's archives.
 *
 * Restore takes only the declared files from the archive (an entry outside them is refused, so an
 * archive cannot write elsewhere); each is extracted beside the base directory, then every file
 * present is kept as `<file>.before-restore-<time>` and the restored one renamed into its place.
 * A declared file the archive lacks is left as it is and named in the result.
 */

export interface FileSetTarget {
  /** The directory the files are relative to (the manual's working directory). */
  base: string;
  /** Relative paths under `base`, e.g. .env.production, nginx/nginx.conf. */
  files: readonly string[];
}

const RELATIVE = /^[A-Za-z0-9_.][A-Za-z0-9._-]*(\/[A-Za-z0-9_.][A-Za-z0-9._-]*)*$/u;

function validate(t: FileSetTarget): void {
  check(pathProblem(t.base, 'base'));
  for (const file of t.files) {
    if (!RELATIVE.test(file) || file.split('/').some((part) => part === '.' || part === '..')) {
      throw new ActionError(`file ${JSON.stringify(file)} must be a path relative to ${t.base} of letters, digits, ".", "_" and "-", without . or .. parts (e.g. nginx/nginx.conf)`);
    }
  }
  if (new Set(t.files).size !== t.files.length) throw new ActionError('files lists a path twice');
}

const describeFiles = (t: FileSetTarget) => `files ${t.files.join(', ')} in ${t.base}`;

/** Files of a directory as the results say them in any language, in the shell's brace notation: "/srv/app/{.env,nginx/nginx.conf}". */
const filesIn = (base: string, files: readonly string[]) => path.join(path.resolve(base), files.length === 1 ? (files[0] ?? '') : `{${files.join(',')}}`);

/** Which declared files exist now (regular files; a directory or other kind is refused). */
async function present(t: FileSetTarget): Promise<string[]> {
  const found: string[] = [];
  for (const file of t.files) {
    const full = path.join(t.base, file);
    let info;
    try {
      info = await statOrUndefined(full);
    } catch (error) {
      throw new ActionError(`${full}: ${fsProblem(error)}`);
    }
    if (info === undefined) continue;
    if (!info.isFile()) throw new ActionError(`${full} is not a regular file`);
    found.push(file);
  }
  return found;
}

/**
 * The archive's entries (`tar -tzf`, into a listing file): each name without ./ and trailing
 * slashes, mapped to the name as stored (`tar czf F ./x` stores ./x, and extracting needs that).
 */
async function listEntries(job: Job, archive: string, scratchDir: string): Promise<Map<string, string>> {
  const listing = job.tempPath(scratchDir, path.basename(archive), 'list');
  await job.program(['tar', '-tzf', archive, `--index-file=${listing}`], { what: `tar -tzf of ${path.basename(archive)}` });
  const entries = new Map<string, string>();
  await scanLines(listing, job.signal, (line) => {
    const entry = line.replace(/^(\.\/)+/u, '').replace(/\/+$/u, '');
    if (entry !== '' && entry !== '.') entries.set(entry, line);
  });
  if (entries.size === 0) throw new ActionError(`${archive} lists no entries`);
  return entries;
}

export const fileSetBackup: BackupEngine<FileSetTarget> = {
  ext: 'tar.gz',
  what: describeFiles,
  subject: (t) => filesIn(t.base, t.files),
  method: () => 'tar -czf of the files relative to their directory, verified with tar -tzf',
  defaultPrefix: (t) => `files-${prefixPart(path.basename(t.base))}`,
  validate,
  besideLive: (t) => path.resolve(t.base),
  async absent(t) {
    return (await present(t)).length === 0;
  },
  async produce(t, out, job) {
    const files = await present(t);
    if (files.length === 0) throw refusal(`none of ${t.files.join(', ')} exists in ${t.base}`, 'data.files.none', { files: filesIn(t.base, t.files) });
    await job.program(['tar', '-czf', out, '-C', path.resolve(t.base), '--', ...files], { what: `tar of ${describeFiles(t)}` });
    const entries = await listEntries(job, out, path.dirname(out));
    const lost = files.filter((f) => !entries.has(f));
    if (lost.length > 0) throw new ActionError(`the archive does not list ${lost.join(', ')}`);
    const missing = t.files.filter((f) => !files.includes(f));
    const size = (await statOrUndefined(out))?.size ?? 0;
    return [
      { label: 'files', value: files.join(', ') },
      ...(missing.length > 0 ? [{ label: 'not found, so not in the archive', value: missing.join(', ') }] : []),
      { label: 'archive size', value: sizeValue(size) },
    ];
  },
};

interface Staged {
  staging: string;
  files: string[];
  backup: string;
}

export const fileSetRestore: RestoreEngine<FileSetTarget, Staged> = {
  method: () => 'extract the declared files beside them, keep each current file as <file>.before-restore-<time>, then move the restored ones in',
  async prepare(t, backup, job) {
    validate(t);
    const base = path.resolve(t.base);
    const info = await statOrUndefined(base).catch((error: unknown) => {
      throw new ActionError(`${base}: ${fsProblem(error)}`);
    });
    if (!info?.isDirectory()) throw new ActionError(`${base} is not a directory`);
    const entries = await listEntries(job, backup, base);
    // Directories on the way to a declared file (nginx/ for nginx/nginx.conf) are fine; anything else is not ours to write.
    const parents = new Set(t.files.flatMap((f) => f.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
    const foreign = [...entries.keys()].filter((e) => !t.files.includes(e) && !parents.has(e));
    if (foreign.length > 0) throw new ActionError(`${backup} holds entries other than ${t.files.join(', ')}: ${foreign.slice(0, 5).join(', ')}; nothing was restored`);
    const files = t.files.filter((f) => entries.has(f));
    if (files.length === 0) throw new ActionError(`${backup} holds none of ${t.files.join(', ')}`);
    const missing = t.files.filter((f) => !files.includes(f));
    if (missing.length > 0) job.fact('not in the archive (left as they are)', missing.join(', '));
    const staging = job.tempPath(base, 'files', 'restore');
    try {
      await mkdir(staging, { mode: 0o700 });
    } catch (error) {
      throw new ActionError(`creating ${staging}: ${fsProblem(error)}`);
    }
    await job.program(['tar', '-xzf', backup, '-C', staging, '--no-same-owner', '--', ...files.map((f) => entries.get(f) ?? f)], { what: `extracting ${backup}` });
    for (const file of files) {
      const extracted = await lstatOrUndefined(path.join(staging, file));
      if (!extracted?.isFile()) throw new ActionError(`${file} in ${backup} is not a regular file`);
    }
    job.fact('restored files', files.join(', '));
    return { staging, files, backup };
  },
  async apply(t, { staging, files, backup }, job) {
    const base = path.resolve(t.base);
    const stamp = utcStamp(new Date());
    const kept: string[] = [];
    for (const file of files) {
      const target = path.join(base, file);
      const aside = `${target}.before-restore-${stamp}`;
      try {
        await mkdir(path.dirname(target), { recursive: true });
        if ((await lstatOrUndefined(target)) !== undefined) {
          await rename(target, aside);
          kept.push(path.relative(base, aside));
        }
        await rename(path.join(staging, file), target);
        await syncDir(path.dirname(target));
      } catch (error) {
        // The files moved so far stay restored; the thread says which, and where the old ones are.
        const done = files.slice(0, files.indexOf(file));
        throw new ActionError(`restoring ${target}: ${fsProblem(error)}${done.length > 0 ? `; already restored: ${done.join(', ')}` : ''}${kept.length > 0 ? `; previous files kept as ${kept.join(', ')}` : ''}`);
      }
    }
    if (kept.length > 0) job.fact('previous files kept as', kept.join(', '));
    return summary(`restored ${files.join(', ')} in ${base} from ${backup}`, 'data.restored', { what: filesIn(base, files), backup });
  },
};
