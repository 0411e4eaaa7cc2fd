import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadExeca } from './lazy-clients.js';

/**
 * A step's program runs in a process group of its own (a new session, so the group id is the
 * program's pid): the whole group is signalled on cancel and timeout, so a shell's background
 * children go too; and it is recorded before the program starts, so a bot killed with kill -9 can,
 * once restarted, find the group and stop it. Identifying processes reads /proc (Linux).
 */
export interface StepProcess {
  pid: number;
  pgid: number;
  /** `<boot id>:<start time in clock ticks since boot>` (/proc/<pid>/stat field 22): a reused pid has another. */
  startedAt: string;
  /** Where the pids mean something: the host name and the pid namespace. */
  host: string;
}

/** Called once the program's process exists and before it runs anything; a rejection stops it unstarted. */
export type OnSpawn = (process: StepProcess) => Promise<void>;

/** How long a group gets between SIGTERM and SIGKILL (the same as execa's default for one process). */
export const KILL_GRACE_MS = 5000;

/**
 * Holds the program back until the bot has recorded it: `sh` waits for a line on fd 3, then
 * replaces itself with the program (same pid, same start time), with the argv passed as positional
 * parameters, never parsed as shell text. If the bot dies first, fd 3 closes and nothing runs.
 */
const GATE = 'read -r _ <&3 || exit 125; exec 3<&-; exec "$@"';

/** Fields 3 onwards of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

let bootId: string | undefined;
function currentBoot(): string {
  try {
    bootId ??= fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    bootId = 'unknown-boot';
  }
  return bootId;
}

/** When a live (not zombie) process started, or undefined when there is none with this pid. */
export function processStart(pid: number): string | undefined {
  const fields = statFields(pid);
  // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
  if (!fields || fields[0] === 'Z' || fields[19] === undefined) return undefined;
  return `${currentBoot()}:${fields[19]}`;
}

let host: string | undefined;
/** This bot's host name and pid namespace: only processes recorded under the same value may be checked or killed. */
export function processHost(): string {
  if (host !== undefined) return host;
  let namespace = '';
  try {
    namespace = fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    // no /proc: the host name alone
  }
  host = namespace ? `${os.hostname()} ${namespace}` : os.hostname();
  return host;
}

/** Live (not zombie) processes of a group. */
function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields && fields[0] !== 'Z' && fields[2] === String(pgid)) members.push(Number(entry));
  }
  return members;
}

/**
 * The processes left of a recorded group. The leader, if alive, must have the recorded start time
 * (else its pid was reused and the group is gone); with the leader gone, a group of that id still
 * existing is the recorded one, since Linux does not hand out a pid while a group of that id exists.
 */
export function leftoverMembers(p: StepProcess): number[] {
  if (!p.startedAt.startsWith(`${currentBoot()}:`)) return [];
  const leaderStart = processStart(p.pid);
  if (leaderStart !== undefined && leaderStart !== p.startedAt) return [];
  return groupMembers(p.pgid);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** SIGTERM to the group, then SIGKILL to whatever is left after `graceMs`; resolves once none is left (or 2 s after the KILL). */
async function killGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (groupMembers(pgid).length === 0) return;
    await sleep(50);
  }
  signalGroup(pgid, 'SIGKILL');
  const until = Date.now() + 2000;
  while (groupMembers(pgid).length > 0 && Date.now() < until) await sleep(20);
}

/** Stops a recorded group left by an earlier bot process: 'gone' when nothing of it was left. */
export async function stopLeftoverGroup(p: StepProcess, graceMs = KILL_GRACE_MS): Promise<'killed' | 'gone'> {
  if (leftoverMembers(p).length === 0) return 'gone';
  await killGroup(p.pgid, graceMs);
  return 'killed';
}

/** The program's path as `exec` would find it (PATH for a bare name), or undefined when there is none. */
function findProgram(program: string, pathVar: string | undefined, cwd: string | undefined): string | undefined {
  const executable = (file: string) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  };
  if (program.includes('/')) return executable(path.resolve(cwd ?? '.', program)) ? program : undefined;
  for (const dir of (pathVar ?? '').split(':')) {
    const file = path.join(dir === '' ? '.' : dir, program);
    if (executable(path.resolve(cwd ?? '.', file))) return file;
  }
  return undefined;
}

export interface GroupRunOptions {
  cwd?: string | undefined;
  /** The complete environment (nothing is inherited). */
  env: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  input?: string | undefined;
  maxBuffer: number;
  /** Given: the program is recorded through it before it runs (see GATE). */
  onSpawn?: OnSpawn | undefined;
}

/** What the callers read of a run (execa's result fields, with timeouts and cancellations done here). */
export interface GroupRunResult {
  exitCode?: number | undefined;
  signal?: string | undefined;
  /** Why it could not start (e.g. ENOENT). */
  code?: string | undefined;
  originalMessage?: string | undefined;
  timedOut: boolean;
  isCanceled: boolean;
  isMaxBuffer: boolean;
  all: string;
  stdout: string;
  durationMs: number;
}

/** Runs one program (argv, no shell) in its own process group; cancel, timeout and too much output stop the whole group. */
export async function runInGroup(program: string, args: readonly string[], o: GroupRunOptions): Promise<GroupRunResult> {
  let file = program;
  let argv = args;
  if (o.onSpawn) {
    const found = findProgram(program, o.env.PATH, o.cwd);
    if (found === undefined) return { code: 'ENOENT', timedOut: false, isCanceled: false, isMaxBuffer: false, all: '', stdout: '', durationMs: 0 };
    file = '/bin/sh';
    argv = ['-c', GATE, 'step', found, ...args];
  }
  const { execa } = await loadExeca();
  const sub = execa(file, argv, {
    shell: false,
    cwd: o.cwd,
    extendEnv: false,
    env: o.env,
    reject: false,
    all: true,
    maxBuffer: o.maxBuffer,
    detached: true,
    ...(o.input !== undefined ? { input: o.input } : {}),
    stdio: [o.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(o.onSpawn ? (['pipe'] as const) : [])],
  });
  const pid = sub.pid;
  let timedOut = false;
  let stopping: Promise<void> | undefined;
  const stop = (why: 'timeout' | 'cancel') => {
    if (pid === undefined || stopping) return;
    timedOut = why === 'timeout';
    stopping = killGroup(pid, KILL_GRACE_MS);
  };
  const onAbort = () => stop('cancel');
  const timer = setTimeout(() => stop('timeout'), o.timeoutMs);
  o.signal.addEventListener('abort', onAbort, { once: true });
  if (o.signal.aborted) onAbort();
  try {
    if (o.onSpawn && pid !== undefined) {
      const gate = sub.stdio[3] as NodeJS.WritableStream;
      try {
        await o.onSpawn({ pid, pgid: pid, startedAt: processStart(pid) ?? 'unknown', host: processHost() });
      } catch (error) {
        // Closing the gate unopened: the program never runs.
        gate.end();
        await sub;
        throw error;
      }
      gate.end('\n');
    }
    const r = await sub;
    if (r.isMaxBuffer) stop('cancel');
    if (stopping) await stopping;
    return {
      exitCode: r.exitCode,
      signal: r.signal,
      code: r.code,
      originalMessage: r.originalMessage,
      timedOut,
      isCanceled: stopping !== undefined && !timedOut && !r.isMaxBuffer,
      isMaxBuffer: r.isMaxBuffer,
      all: typeof r.all === 'string' ? r.all : '',
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      durationMs: r.durationMs,
    };
  } finally {
    clearTimeout(timer);
    o.signal.removeEventListener('abort', onAbort);
  }
}
