/**
 * The bot as production runs it: the built JavaScript (`node dist/src/main.js`) in its own process,
 * with logs going to a file (as to a log collector), and what the bench reads from outside:
 * readiness, resident memory, a garbage collection through the inspector.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'undici';
import { REPO_ROOT, freePort } from '../test/support/bot-process.js';
import { sleep } from './stats.js';

export const MAIN_JS = path.join(REPO_ROOT, 'dist', 'src', 'main.js');

export interface BenchBot {
  url: string;
  pid: number;
  dir: string;
  dbPath: string;
  /** Spawn to the first `/readyz` 200, in ms. */
  startupMs: number;
  stderr(): string;
  /** VmRSS of the process, in MB. */
  rssMB(): number;
  /** VmHWM (peak RSS) of the process, in MB. */
  peakRssMB(): number;
  /** Forces a full garbage collection (only when started with `inspect`). */
  collectGarbage(): Promise<void>;
  /** SIGTERM, then waits for the exit (SIGKILL after 15 s). */
  stop(): Promise<void>;
}

export class BotStartError extends Error {}

const madeDirs: string[] = [];

/** A bot folder (with an empty `runbooks/`) in the temp dir, removed by removeDirs(). */
export async function makeDir(prefix: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `chatops-bench-${prefix}-`));
  await fsp.mkdir(path.join(dir, 'runbooks'));
  madeDirs.push(dir);
  return dir;
}

/** Removes every folder makeDir() made (the bots are stopped by then). */
export async function removeDirs(): Promise<void> {
  await Promise.all(madeDirs.splice(0).map((dir) => fsp.rm(dir, { recursive: true, force: true })));
}

/** A memory figure of a live process from /proc (VmRSS: resident now, VmHWM: the peak), in MB (10^6 bytes, as the targets). */
export function procStatusMB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return (Number(/(\d+)/.exec(line ?? '')?.[1] ?? Number.NaN) * 1024) / 1e6;
}

export interface StartOptions {
  /** The bot's folder (SQLite file `bot.db`, logs); reuse one to start on a populated database. */
  dir: string;
  env: Record<string, string>;
  /** Start with the inspector on a free port, so the bench can force a GC. */
  inspect?: boolean;
  /** Extra node flags (e.g. `--cpu-prof`). */
  nodeFlags?: string[];
  timeoutMs?: number;
}

/** Starts the built bot and waits for `/readyz`; throws BotStartError (with its stderr) if it exits first. */
export async function startBot(o: StartOptions): Promise<BenchBot> {
  const port = await freePort();
  const dbPath = path.join(o.dir, 'bot.db');
  const env: Record<string, string> = {
    PATH: [path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter),
    HOME: process.env.HOME ?? os.tmpdir(),
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DATABASE_URL: `sqlite:${dbPath}`,
    RUNBOOKS_DIR: path.join(o.dir, 'runbooks'),
    ...o.env,
  };
  const log = fs.openSync(path.join(o.dir, 'bot.log'), 'a');
  const flags = [...(o.inspect ? ['--inspect=127.0.0.1:0'] : []), ...(o.nodeFlags ?? [])];
  const spawnedAt = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...flags, MAIN_JS], { cwd: REPO_ROOT, env, stdio: ['ignore', log, 'pipe'] });
  fs.closeSync(log);
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  let startupMs = Number.NaN;
  while (Number.isNaN(startupMs)) {
    if (exited) {
      await sleep(50); // the rest of stderr
      throw new BotStartError(err.trim() || 'the bot exited before it was ready');
    }
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) startupMs = performance.now() - spawnedAt;
    } catch {
      // not listening yet
    }
    if (Number.isNaN(startupMs)) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new BotStartError(`not ready within ${o.timeoutMs ?? 30_000} ms\n${err}`);
      }
      await sleep(5);
    }
  }

  const pid = child.pid ?? -1;
  return {
    url,
    pid,
    dir: o.dir,
    dbPath,
    startupMs,
    stderr: () => err,
    rssMB: () => procStatusMB(pid, 'VmRSS'),
    peakRssMB: () => procStatusMB(pid, 'VmHWM'),
    async collectGarbage() {
      const ws = /ws:\/\/\S+/.exec(err)?.[0];
      if (!ws) throw new Error('the bot was not started with the inspector');
      await inspectorCall(ws, 'HeapProfiler.collectGarbage');
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(killer);
    },
  };
}

/** One DevTools protocol call over the inspector's WebSocket. */
async function inspectorCall(wsUrl: string, method: string): Promise<void> {
  const socket = new WebSocket(wsUrl);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => socket.send(JSON.stringify({ id: 1, method })));
    socket.addEventListener('message', (event) => {
      if (String(event.data).includes('"id":1')) {
        socket.close();
        resolve();
      }
    });
    socket.addEventListener('error', () => reject(new Error(`inspector call ${method} failed`)));
  });
}

/** The ceiling: a bare Node HTTP server that reads and JSON-parses each body, then answers 200. */
export function startBareServer(): Promise<ReferenceServer> {
  return startReferenceServer('bare-server.ts', {});
}

/**
 * The yardstick for durability (see durable-server.ts): validates each notification and appends it
 * to a SQLite inbox in `dir`, answering once the WAL is synced.
 */
export function startDurableServer(dir: string, token: string): Promise<ReferenceServer> {
  return startReferenceServer('durable-server.ts', { DB_FILE: path.join(dir, 'durable.db'), WEBHOOK_TOKEN: token });
}

export interface ReferenceServer {
  url: string;
  stop(): Promise<void>;
}

/** One of the bench's own servers (bench/<script>, run with tsx), listening on a free port. */
async function startReferenceServer(script: string, env: Record<string, string>): Promise<ReferenceServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bench', script)], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (s: string) => s.includes('listening') && resolve());
    child.once('exit', (code) => reject(new Error(`${script} exited (${code})`)));
  });
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exit;
    },
  };
}
