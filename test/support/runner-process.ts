/**
 * The runner agent as a child process, started the way `npm run runner:dev` starts it (`node
 * --import tsx src/runner.ts`), in its own process group, with a minimal environment: its bot URL,
 * name, token, runbooks and state directory. For tests of what only a process shows: signals,
 * kill -9 and restart, exit codes, logs.
 *
 *   const runner = spawnRunner({ dir, botUrl: bot.url, runbooksDir });
 *   await runner.waitForLog(/connected to the bot/);
 *   runner.kill('SIGTERM');
 *   await runner.waitForExit();
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { baseEnv, nodeOnSource, spawnWatched, type ExitStatus } from './child-output.js';

export const RUNNER_TEST_TOKEN = 'runner-test-token-0123456789abcdef';

export interface RunnerProcess {
  child: ChildProcess;
  env: Record<string, string>;
  stdout(): string;
  stderr(): string;
  /** stdout lines that are JSON log records (pino). */
  logRecords(): Array<Record<string, unknown>>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  waitForExit(timeoutMs?: number): Promise<ExitStatus>;
  kill(signal: NodeJS.Signals): void;
  exited(): ExitStatus | undefined;
  /** SIGKILL to the runner's process group if it still runs, then waits for the exit. */
  dispose(): Promise<void>;
}

export interface SpawnRunnerOptions {
  botUrl: string;
  runbooksDir: string;
  stateDir: string;
  name?: string;
  /** Variables on top of the defaults; may override them (an empty value unsets one). */
  env?: Record<string, string>;
  /**
   * Runs the runner in a mount namespace of its own (`unshare`, root only) where `source` is
   * bind-mounted at `target`: a host of its own for the paths its runbooks name, which no other
   * process sees. `target` must exist (an empty directory) on this host.
   */
  bindMount?: { source: string; target: string };
}

/** The runner's command line: node on src/runner.ts, or that inside `unshare` with the bind mount first. */
function commandLine(o: SpawnRunnerOptions): [string, string[]] {
  const node = nodeOnSource('runner.ts');
  if (!o.bindMount) return node;
  // unshare execs the shell, which execs node: the runner keeps the pid the test knows.
  const script = 'mount --bind "$0" "$1" && shift && exec "$@"';
  return ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, o.bindMount.source, o.bindMount.target, node[0], ...node[1]]];
}

export function spawnRunner(o: SpawnRunnerOptions): RunnerProcess {
  const env: Record<string, string> = {
    ...baseEnv(),
    BOT_URL: o.botUrl,
    RUNNER_NAME: o.name ?? 'host-1',
    RUNNER_TOKEN: RUNNER_TEST_TOKEN,
    RUNNER_LABELS: 'host=host-1',
    RUNBOOKS_DIR: o.runbooksDir,
    RUNNER_STATE_DIR: o.stateDir,
    LOG_LEVEL: 'debug',
    LOG_FORMAT: 'json',
    ...o.env,
  };
  const { child, watched, handle } = spawnWatched('runner', commandLine(o), { env });

  const runner: RunnerProcess = {
    ...handle,
    waitForExit: (timeoutMs = 30_000) => watched.waitForExit(timeoutMs),
    kill(signal) {
      if (!watched.exited()) child.kill(signal);
    },
    async dispose() {
      if (!watched.exited() && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone already
        }
        await watched.exit;
      }
    },
  };
  return runner;
}

/** The lines of the runner's audit file, parsed. */
export function auditLines(stateDir: string): Array<Record<string, unknown>> {
  const file = path.join(stateDir, 'audit.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The job files the runner holds (ids), see src/runner/state.ts. */
export function jobFiles(stateDir: string): number[] {
  const dir = path.join(stateDir, 'jobs');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d+\.json$/.test(f))
    .map((f) => Number(f.replace('.json', '')))
    .sort((a, b) => a - b);
}
