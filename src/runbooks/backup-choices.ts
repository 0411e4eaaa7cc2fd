import { formatBytes } from '../domain/format.js';
import type { ResultMessage } from '../domain/result-message.js';
import { listBackups, type BackupFile } from './actions/data/backup-files.js';
import type { BackupName } from './actions/data/naming.js';
import { renderTemplate } from './template.js';
import type { RunbookStep } from './schema.js';

export interface BackupChoice {
  path: string;
  /** Short button label: which file (for other than the bot's own names), time, size, and whether its checksum matched. */
  label: string;
  /** The label as codes and values (which backup, then its checksum), for the bot to say in its language. */
  said?: ResultMessage[];
}

export interface ChoiceOptions {
  /** Names the step declares besides the bot's own (the manuals' backups, latest.* links). */
  names?: readonly BackupName[];
  /** Also offer the safety backups taken before restores (to undo one). */
  safety?: boolean;
}

const when = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** The label as codes: the bot says them in its language, times in its time zone. */
function labelSaid(f: BackupFile): ResultMessage[] {
  const check: ResultMessage = { code: f.verified ? 'choice.verified' : f.sidecar === 'mismatch' ? 'choice.mismatch' : f.kind === 'named' ? 'choice.noSidecar' : 'choice.unverified', params: {} };
  const sizeBytes = f.sizeBytes;
  const takenAt = f.takenAt.toISOString();
  if (f.linkTo !== undefined) return [{ code: 'choice.link', params: { name: f.name, linkTo: f.linkTo, mtimeAt: f.mtime.toISOString(), sizeBytes } }, check];
  if (f.kind === 'safety') return [{ code: 'choice.safety', params: { takenAt, sizeBytes } }, check];
  if (f.kind === 'named') return [{ code: 'choice.named', params: { name: f.name, takenAt, sizeBytes } }, check];
  return [{ code: 'choice.backup', params: { takenAt, sizeBytes } }, check];
}

function label(f: BackupFile): string {
  const check = f.verified ? 'sha256 ok' : f.sidecar === 'mismatch' ? 'CHECKSUM MISMATCH' : f.kind === 'named' ? 'no sidecar' : 'unverified';
  const rest = `${formatBytes(f.sizeBytes)}, ${check}`;
  if (f.linkTo !== undefined) return `${f.name} → ${f.linkTo} (${when(f.mtime)}), ${rest}`;
  if (f.kind === 'safety') return `safety copy before a restore, ${when(f.takenAt)}, ${rest}`;
  if (f.kind === 'named') return `${f.name}, ${when(f.takenAt)}, ${rest}`;
  return `${when(f.takenAt)}, ${rest}`;
}

/**
 * The newest backups of `prefix` in `dir` for a restore picker, newest first (a declared link such
 * as latest.db.gz first of all, labelled with the file it points to). Offered: files named as the
 * backup action names them, the step's declared names, and with `safety` the safety copies; never
 * temporaries. Each is hashed against its `.sha256` sidecar so the label says whether it is
 * intact. A missing directory has no backups (the picker then says so).
 */
export async function listBackupChoices(dir: string, prefix: string, limit: number, options: ChoiceOptions = {}): Promise<BackupChoice[]> {
  try {
    const files = await listBackups(dir, prefix, limit, { names: options.names ?? [], safety: options.safety ?? false });
    return files.map((f) => ({ path: f.path, label: label(f), said: labelSaid(f) }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The choices of a step's `pick:`, rendered with the step's params. */
export function listPickChoices(step: RunbookStep, params: Record<string, string>): Promise<BackupChoice[]> {
  const pick = step.pick;
  if (!pick) return Promise.reject(new Error(`step ${step.id} has no picker`));
  const names = pick.names.map((n) => ({ ...n, name: renderTemplate(n.name, params) }));
  return listBackupChoices(renderTemplate(pick.dir, params), renderTemplate(pick.prefix, params), pick.limit, { names, safety: pick.safety });
}
