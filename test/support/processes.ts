/**
 * Looking at processes the way the tests that kill them need: through /proc (Linux), since a pid
 * that exited but was never reaped still answers `kill -0`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pollUntil } from './bot-process.js';

/** Alive, and not a zombie waiting for a parent that will never reap it. */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** A pid a step or a service wrote to a file. */
export const readPid = (file: string): number => Number(fs.readFileSync(file, 'utf8').trim());

/** The pid written to `file` by a step (a whole line), once it is there. */
export async function pidIn(file: string, what = `${path.basename(file)} to be written`): Promise<number> {
  await pollUntil(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').endsWith('\n'), 15_000, what);
  return readPid(file);
}
