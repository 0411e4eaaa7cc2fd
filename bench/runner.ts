/**
 * The runner agent as production runs it: the built JavaScript (`node dist/src/runner.js`) in its
 * own process, its logs going to a file, connected to a bench bot over loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../test/support/bot-process.js';
import { sleep } from './stats.js';

export const RUNNER_JS = path.join(REPO_ROOT, 'dist', 'src', 'runner.js');

export interface BenchRunner {
  pid: number;
  /** SIGTERM, then waits for the exit (SIGKILL after 15 s). */
  stop(): Promise<void>;
}

export interface RunnerStartOptions {
  /** Its folder: `state/`, `runner.log`. */
  dir: string;
  botUrl: string;
  name: string;
  token: string;
  runbooksDir: string;
  timeoutMs?: number;
}

/** Starts the built runner and waits until it has polled the bot once; throws with its log if it does not. */
export async function startRunner(o: RunnerStartOptions): Promise<BenchRunner> {
  const logFile = path.join(o.dir, 'runner.log');
  const log = fs.openSync(logFile, 'a');
  const env: Record<string, string> = {
    PATH: [path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter),
    HOME: process.env.HOME ?? os.tmpdir(),
    BOT_URL: o.botUrl,
    RUNNER_NAME: o.name,
    RUNNER_TOKEN: o.token,
    RUNBOOKS_DIR: o.runbooksDir,
    RUNNER_STATE_DIR: path.join(o.dir, 'state'),
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
  };
  const child: ChildProcess = spawn(process.execPath, [RUNNER_JS], { cwd: REPO_ROOT, env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  while (!fs.readFileSync(logFile, 'utf8').includes('connected to the bot')) {
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill('SIGKILL');
      throw new Error(`the runner did not connect to the bot${exited ? ' (it exited)' : ''}:\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`);
    }
    await sleep(20);
  }
  return {
    pid: child.pid ?? -1,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(killer);
    },
  };
}
