/**
 * Looking at processes the way the tests that kill them need: through /proc (Linux), since a pid
 * that exited but was never reaped still answers `kill -0`.
 */
import fs from 'node:fs';

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
