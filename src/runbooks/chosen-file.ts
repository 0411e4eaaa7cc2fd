import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkSidecar } from './actions/data/backup-files.js';
import { fsProblem } from './actions/data/common.js';
import { sha256File } from './actions/data/files.js';

/*
 * The file behind a value chosen in chat (a backup from a picker, the snapshot of a "Roll back"
 * button), as it is when the step is requested: where it really is, its size, time and hash. The
 * hash is recorded with the request so that the file run later is the file approvers saw.
 */

export interface ChosenFile {
  path: string;
  sizeBytes: number;
  /** Last modification time (ISO 8601). */
  mtime: string;
  sha256: string;
  /** Whether its `.sha256` sidecar exists and matches the content. */
  sidecar: 'verified' | 'mismatch' | 'missing';
}

export type Inspection = { ok: true; file: ChosenFile } | { ok: false; reason: string };

/**
 * Looks at `file` for a request: it must be a regular file and, when `within` is given, its real
 * path (every symlink followed, the directory's own included) must stay inside `within`'s real path.
 */
export async function inspectChosenFile(file: string, within?: string): Promise<Inspection> {
  let real: string;
  try {
    real = await realpath(file);
  } catch (error) {
    return { ok: false, reason: `${JSON.stringify(file)} ${fsProblem(error)}` };
  }
  if (within !== undefined) {
    let realDir: string;
    try {
      realDir = await realpath(within);
    } catch (error) {
      return { ok: false, reason: `the picker's directory ${within} ${fsProblem(error)}` };
    }
    const rel = path.relative(realDir, real);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      return { ok: false, reason: `${JSON.stringify(file)} resolves to ${real}, outside the picker's directory ${within}` };
    }
  }
  const info = await stat(real).catch(() => undefined);
  if (!info?.isFile()) return { ok: false, reason: `${JSON.stringify(file)} is not a regular file` };
  try {
    const { sidecar, sha256 } = await checkSidecar(real);
    return { ok: true, file: { path: file, sizeBytes: info.size, mtime: info.mtime.toISOString(), sha256, sidecar } };
  } catch (error) {
    return { ok: false, reason: `${JSON.stringify(file)} cannot be read: ${fsProblem(error)}` };
  }
}

/** A file a step was approved to use, with the hash it had when the step was requested. */
export interface FilePin {
  path: string;
  sha256: string;
}

/**
 * Why a pinned file may no longer be used (it is gone, or its content changed since the request:
 * swapped between approval and run), or undefined when every pin still holds.
 */
export async function pinProblem(pins: readonly FilePin[], signal: AbortSignal): Promise<string | undefined> {
  for (const pin of pins) {
    let now: string;
    try {
      now = (await sha256File(pin.path, signal)).sha256;
    } catch (error) {
      if (signal.aborted) throw error;
      return `${pin.path} cannot be read any more (${fsProblem(error)}): refusing to run`;
    }
    if (now !== pin.sha256) return changedSinceRequest(pin.path, now, pin.sha256);
  }
  return undefined;
}

export const changedSinceRequest = (file: string, now: string, approved: string) =>
  `${file} has changed since it was requested (sha256 now ${now.slice(0, 16)}…, approved ${approved.slice(0, 16)}…): refusing to use it`;
