import { formatBytes } from '../domain/format.js';
import { listBackups } from './actions/data/backup-files.js';

export interface BackupChoice {
  path: string;
  /** Short button label: time taken, size, and whether its checksum matched. */
  label: string;
}

/**
 * The newest backups of `prefix` in `dir` for a restore picker, newest first. Only files named
 * as the backup action names them are offered (not safety copies or temporaries); each is hashed
 * against its `.sha256` sidecar so the label says whether it is intact. A missing directory has
 * no backups (the picker then says so).
 */
export async function listBackupChoices(dir: string, prefix: string, limit: number): Promise<BackupChoice[]> {
  try {
    const files = await listBackups(dir, prefix, limit);
    return files.map((f) => ({
      path: f.path,
      label: `${f.takenAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${formatBytes(f.sizeBytes)}${f.verified ? ', sha256 ok' : f.sidecar === 'mismatch' ? ', CHECKSUM MISMATCH' : ', unverified'}`,
    }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
