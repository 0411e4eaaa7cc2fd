/**
 * What the process tests need of a spawned child (the bot or a runner agent): started from the
 * repository's TypeScript in a process group of its own, its stdout and stderr as they arrive, its
 * exit, and waits for a log line or the exit that fail with the output's tail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** tsx's loader by path, so that a child starts from any working directory. */
const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** `node` running `src/<entry>` through tsx, as the npm scripts run it: the program, then its arguments. */
export const nodeOnSource = (entry: string): [string, string[]] => [process.execPath, ['--import', TSX_LOADER, path.join(REPO_ROOT, 'src', entry)]];

/** The start of a child's minimal environment: PATH must find `node` for exec steps even when the test runner's does not. */
export function baseEnv(): Record<string, string> {
  return {
    PATH: [path.dirname(process.execPath), process.env.PATH ?? ''].filter(Boolean).join(path.delimiter),
    HOME: process.env.HOME ?? os.tmpdir(),
  };
}

/**
 * Spawns `program` with exactly `env`, in a process group of its own (so that kill -9 of the child
 * alone leaves the groups of the steps it started, as a crash would, and a test can still signal
 * the whole group), and watches it.
 */
export function spawnWatched(name: string, [program, args]: [string, string[]], o: { env: Record<string, string>; cwd?: string }) {
  const child = spawn(program, args, { cwd: o.cwd ?? REPO_ROOT, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const watched = watchChild(child, name);
  /** What a handle on the child shows alike for the bot and a runner. */
  const handle = {
    child,
    env: o.env,
    stdout: watched.stdout,
    stderr: watched.stderr,
    logRecords: watched.logRecords,
    waitForLog: (pattern: RegExp, timeoutMs = 15_000) => watched.waitForLog(pattern, timeoutMs),
    exited: watched.exited,
  };
  return { child, watched, handle };
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildOutput {
  stdout: () => string;
  stderr: () => string;
  exited: () => ExitStatus | undefined;
  /** Resolves once the child has exited and its output is fully read. */
  exit: Promise<ExitStatus>;
  /** The tail of both streams, for error messages. */
  describe: () => string;
  /** stdout lines that are JSON log records (pino); a partial line still being written is left out. */
  logRecords: () => Array<Record<string, unknown>>;
  /** Resolves with the first stdout/stderr line matching `pattern` (already printed or still to come). */
  waitForLog: (pattern: RegExp, timeoutMs: number) => Promise<string>;
  waitForExit: (timeoutMs: number) => Promise<ExitStatus>;
}

/** Watches `child` (spawned with piped stdout and stderr); `name` says which process in errors. */
export function watchChild(child: ChildProcess, name: string): ChildOutput {
  let out = '';
  let err = '';
  const watchers = new Set<() => void>();
  const notify = () => {
    for (const w of [...watchers]) w();
  };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    notify();
  });
  let exited: ExitStatus | undefined;
  const exit = new Promise<ExitStatus>((resolve) => {
    // 'close' (not 'exit'): stdout and stderr are fully read by then.
    child.once('close', (code, signal) => {
      exited = { code, signal };
      notify();
      resolve(exited);
    });
  });
  const describe = () => `\n--- stdout ---\n${out.slice(-4000)}\n--- stderr ---\n${err.slice(-4000)}`;

  const waitForLog = (pattern: RegExp, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const what = `a log line matching ${String(pattern)}`;
      const attempt = () => {
        const line = `${out}\n${err}`.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) {
          cleanup();
          resolve(line);
        } else if (exited) {
          cleanup();
          reject(new Error(`${name} exited (${JSON.stringify(exited)}) before ${what}${describe()}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        watchers.delete(attempt);
      };
      watchers.add(attempt);
      attempt();
    });

  const waitForExit = async (timeoutMs: number) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name} did not exit within ${timeoutMs} ms${describe()}`)), timeoutMs);
    });
    try {
      return await Promise.race([exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  const logRecords = () =>
    out.split('\n').flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });

  return { stdout: () => out, stderr: () => err, exited: () => exited, exit, describe, logRecords, waitForLog, waitForExit };
}
