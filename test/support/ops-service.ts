import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/*
 * A throwaway supervised HTTP service for the operation actions' tests, made of real processes:
 *
 *   supervisor.mjs ──spawns──▶ child HTTP server on 127.0.0.1:<port>
 *        ▲ writes the child's pid to service.pid, and starts a new child when it exits
 *   restart.mjs <pidfile> ──SIGTERM──▶ child, waits until it is gone (the supervisor brings it back)
 *
 * The child answers every path (`/health` included) with JSON {status, release, pid, startedAt},
 * 200 — or 500 while the flag file exists, to simulate a service that comes back unhealthy. It exits
 * when its supervisor goes away (IPC disconnect), so a crashed test leaves nothing behind.
 */

/** The child server's code; `release` is what it reports (a release directory's version, or "inline"). */
export function serverSource(release: string): string {
  return `
const fs = require('node:fs');
const http = require('node:http');
const startedAt = new Date().toISOString();
const flag = process.env.FLAG_FILE;
const server = http.createServer((req, res) => {
  const unhealthy = flag !== undefined && flag !== '' && fs.existsSync(flag);
  res.writeHead(unhealthy ? 500 : 200, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify({ status: unhealthy ? 'unhealthy' : 'ok', release: ${JSON.stringify(release)}, pid: process.pid, startedAt }));
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
`;
}

/** A release's `server.mjs` (ES module) serving its version. */
export function releaseServerSource(release: string): string {
  return `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${serverSource(release)}`;
}

const SUPERVISOR = `
import { spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
const config = JSON.parse(process.argv[2]);
let child;
let stopping = false;
function start() {
  child = spawn(process.execPath, config.childArgs, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { PATH: process.env.PATH, PORT: String(config.port), FLAG_FILE: config.flagFile },
  });
  writeFileSync(config.pidFile + '.tmp', String(child.pid));
  renameSync(config.pidFile + '.tmp', config.pidFile);
  child.on('exit', () => {
    if (!stopping) setTimeout(start, config.restartDelayMs);
  });
}
function stop() {
  stopping = true;
  const done = () => process.exit(0);
  if (child && child.exitCode === null && child.signalCode === null) {
    child.once('exit', done);
    child.kill('SIGTERM');
    setTimeout(() => { child.kill('SIGKILL'); done(); }, 2000).unref();
  } else done();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The test process holds stdin open; if it dies, stdin ends and the service goes with it.
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
start();
`;

const RESTART = `
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
const pidFile = process.argv[2];
const pid = Number(readFileSync(pidFile, 'utf8'));
const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
process.kill(pid, 'SIGTERM');
const until = Date.now() + 5000;
while (alive()) {
  if (Date.now() > until) { console.error('child ' + pid + ' is still running after 5s'); process.exit(1); }
  await sleep(25);
}
console.log('stopped child ' + pid + '; the supervisor starts a new one');
`;

export interface ServiceAnswer {
  status: number;
  release: string;
  pid: number;
  body: string;
}

export interface SupervisedService {
  port: number;
  /** http://127.0.0.1:<port> */
  baseUrl: string;
  pidFile: string;
  /** While this file exists the child answers 500. */
  flagFile: string;
  /** The restart command for a `restart: { kind: command }` step: [node, restart.mjs, pidfile]. */
  restartArgv: [string, ...string[]];
  /** The child's pid from the pid file. */
  childPid(): Promise<number>;
  /** GET /health once. */
  get(): Promise<ServiceAnswer>;
  /** Waits until the child answers (any status), at most `ms`. */
  waitUp(ms?: number): Promise<ServiceAnswer>;
  stop(): Promise<void>;
}

const running = new Set<SupervisedService>();

/** A free TCP port on 127.0.0.1 (asked from the OS, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts the supervisor in `dir` (scripts and pid file are written there). `childArgs` are the
 * child's node arguments; the default is an inline server (`node -e`).
 */
export async function startSupervisedService(o: { dir: string; childArgs?: string[]; restartDelayMs?: number }): Promise<SupervisedService> {
  const port = await freePort();
  const supervisorPath = path.join(o.dir, 'supervisor.mjs');
  const restartPath = path.join(o.dir, 'restart.mjs');
  const pidFile = path.join(o.dir, 'service.pid');
  const flagFile = path.join(o.dir, 'unhealthy.flag');
  await writeFile(supervisorPath, SUPERVISOR);
  await writeFile(restartPath, RESTART);
  const config = { port, pidFile, flagFile, childArgs: o.childArgs ?? ['-e', serverSource('inline')], restartDelayMs: o.restartDelayMs ?? 400 };
  const supervisor = spawn(process.execPath, [supervisorPath, JSON.stringify(config)], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  supervisor.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const baseUrl = `http://127.0.0.1:${port}`;

  const childPid = async () => Number(await readFile(pidFile, 'utf8'));
  const get = async (): Promise<ServiceAnswer> => {
    const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
    const body = await response.text();
    const json = JSON.parse(body) as { release: string; pid: number };
    return { status: response.status, release: json.release, pid: json.pid, body };
  };
  const service: SupervisedService = {
    port,
    baseUrl,
    pidFile,
    flagFile,
    restartArgv: [process.execPath, restartPath, pidFile],
    childPid,
    get,
    async waitUp(ms = 10_000) {
      const until = Date.now() + ms;
      for (;;) {
        try {
          return await get();
        } catch (error) {
          if (Date.now() > until) throw new Error(`service on ${baseUrl} did not come up in ${ms} ms: ${String(error)}\n${stderr}`, { cause: error });
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    },
    async stop() {
      running.delete(service);
      // The child first (by its pid file), so nothing outlives the test even if the supervisor misbehaves.
      const pid = await childPid().catch(() => undefined);
      supervisor.kill('SIGTERM');
      if (!(await waitExit(supervisor, 3000))) supervisor.kill('SIGKILL');
      supervisor.stdin?.destroy();
      if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
    },
  };
  running.add(service);
  await service.waitUp();
  return service;
}

/** Stops every service still running (for afterAll, so a failed test leaves no process behind). */
export async function stopAllServices(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}
