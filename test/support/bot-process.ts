/**
 * The real bot as a child process, started the way production starts it (`node --import tsx
 * src/main.ts`), with a minimal environment, its own temp folder (SQLite file, runbooks) and a free
 * port. For tests of what only a process shows: exit codes, stderr, signals, logs, crash recovery.
 *
 *   const bot = await startBotProcess({ runbooks: { 'a.yaml': yaml }, env: { ALERTMANAGER_WEBHOOK_TOKEN: 't' } });
 *   await fetch(`${bot.url}/healthz`);
 *   bot.kill('SIGTERM');
 *   await bot.waitForExit();
 */
import type { ChildProcess } from 'node:child_process';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { baseEnv, nodeOnSource, spawnWatched, type ExitStatus } from './child-output.js';

export { REPO_ROOT } from './child-output.js';
export type { ExitStatus };

export interface BotProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` (the port is chosen before start; the bot may still fail to bind it). */
  url: string;
  port: number;
  /** The bot's temp folder: `bot.db`, `runbooks/`, and whatever steps write. */
  dir: string;
  dbPath: string;
  runbooksDir: string;
  /** The environment the child was given (exactly). */
  env: Record<string, string>;
  stdout(): string;
  stderr(): string;
  /** stdout lines that are JSON log records (pino). */
  logRecords(): Array<Record<string, unknown>>;
  /** Resolves with the first stdout/stderr line matching `pattern` (already printed or still to come). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  waitForExit(timeoutMs?: number): Promise<ExitStatus>;
  /** Polls `GET /healthz` until it answers 200; fails early if the process exits. */
  waitForReady(timeoutMs?: number): Promise<void>;
  /**
   * Sends a signal to the bot, or with `group` to everything it started as well, as a container
   * runtime stopping the container would: its process group, and the process groups of the steps
   * it runs (each step runs in a group of its own).
   */
  kill(signal: NodeJS.Signals, opts?: { group?: boolean }): void;
  exited(): ExitStatus | undefined;
  /** Kills the process group if still alive and waits for the exit. Keeps the folder unless `removeDir`. */
  dispose(opts?: { removeDir?: boolean }): Promise<void>;
}

export interface SpawnBotOptions {
  /** Variables on top of the defaults (PORT, HOST, LOG_LEVEL, DATABASE_URL, RUNBOOKS_DIR); may override them. */
  env?: Record<string, string>;
  /** File name → YAML; `{{DIR}}` becomes the bot's folder. Ignored when `dir` is an existing bot folder. */
  runbooks?: Record<string, string>;
  /** Reuse a folder (database and runbooks) of an earlier bot process, e.g. to restart after a crash. */
  dir?: string;
  /** The working directory (default: the repository), e.g. to test what the bot reads from it. */
  cwd?: string;
  /** The port (default: a free one), e.g. to restart a bot where its clients expect it. */
  port?: number;
}

/** A port that was free a moment ago on 127.0.0.1 (the bot cannot report PORT=0 back, so we pick). */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Creates a bot folder with a `runbooks/` subfolder holding the given manifests. */
export async function makeBotDir(runbooks: Record<string, string> = {}): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'chatops-bot-proc-'));
  const runbooksDir = path.join(dir, 'runbooks');
  await fs.mkdir(runbooksDir);
  for (const [name, yaml] of Object.entries(runbooks)) await fs.writeFile(path.join(runbooksDir, name), yaml.replaceAll('{{DIR}}', dir));
  return dir;
}

/** The process groups of `pid` and of every process descending from it (read from /proc). */
function descendantGroups(pid: number): number[] {
  const parentOf = new Map<number, { ppid: number; pgid: number }>();
  for (const entry of fsSync.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fsSync.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), { ppid: Number(fields[1]), pgid: Number(fields[2]) });
    } catch {
      // exited meanwhile
    }
  }
  const groups = new Set<number>([pid]);
  const tree = new Set<number>([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [p, { ppid, pgid }] of parentOf) {
      if (tree.has(p) || !tree.has(ppid)) continue;
      tree.add(p);
      groups.add(pgid);
      grew = true;
    }
  }
  return [...groups];
}

/** Signals the process group of `pid` and those of all its descendants. */
function killTree(pid: number, signal: NodeJS.Signals): void {
  for (const pgid of descendantGroups(pid)) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // already gone
    }
  }
}

/** Starts the bot process without waiting for it to be ready (use for start-up failures). */
export async function spawnBot(opts: SpawnBotOptions = {}): Promise<BotProcess> {
  const dir = opts.dir ?? (await makeBotDir(opts.runbooks));
  const runbooksDir = path.join(dir, 'runbooks');
  const dbPath = path.join(dir, 'bot.db');
  const port = opts.port ?? (await freePort());
  const env: Record<string, string> = {
    ...baseEnv(),
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DATABASE_URL: `sqlite:${dbPath}`,
    RUNBOOKS_DIR: runbooksDir,
    ...opts.env,
  };
  const { child, watched, handle } = spawnWatched('bot', nodeOnSource('main.ts'), { env, cwd: opts.cwd });

  const bot: BotProcess = {
    ...handle,
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    dbPath,
    runbooksDir,
    waitForExit: (timeoutMs = 20_000) => watched.waitForExit(timeoutMs),
    async waitForReady(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const exit = watched.exited();
        if (exit) throw new Error(`bot exited (${JSON.stringify(exit)}) before it was ready${watched.describe()}`);
        try {
          const res = await fetch(`${bot.url}/healthz`, { signal: AbortSignal.timeout(1000) });
          await res.arrayBuffer();
          if (res.status === 200) return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`bot not ready within ${timeoutMs} ms${watched.describe()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    kill(signal, killOpts = {}) {
      if (watched.exited() || child.pid === undefined) return;
      if (killOpts.group) killTree(child.pid, signal);
      else child.kill(signal);
    },
    async dispose(disposeOpts = {}) {
      if (!watched.exited() && child.pid !== undefined) {
        killTree(child.pid, 'SIGKILL');
        await watched.exit;
      }
      if (disposeOpts.removeDir) await fs.rm(dir, { recursive: true, force: true });
    },
  };
  return bot;
}

/** Starts the bot process and waits until `/healthz` answers. */
export async function startBotProcess(opts: SpawnBotOptions = {}): Promise<BotProcess> {
  const bot = await spawnBot(opts);
  try {
    await bot.waitForReady();
  } catch (error) {
    await bot.dispose();
    throw error;
  }
  return bot;
}

/**
 * A bot folder for bots started one after another on it, as a restart after a crash finds it
 * (database, runbooks, what steps wrote); `dispose` stops every one of them and removes the folder.
 */
export async function botFolder(runbooks: Record<string, string>) {
  const dir = await makeBotDir(runbooks);
  const bots: BotProcess[] = [];
  return {
    dir,
    /** Starts a bot on the folder and waits until it is ready. */
    start: async (env: Record<string, string>): Promise<BotProcess> => {
      const bot = await startBotProcess({ dir, env });
      bots.push(bot);
      return bot;
    },
    dispose: async () => {
      for (const b of bots) await b.dispose();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** POSTs an Alertmanager notification to the bot. */
export async function postWebhook(
  url: string,
  body: string | object,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/webhooks/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { raw: text };
  }
  return { status: res.status, json };
}

/** Polls `check` until it returns something other than undefined/false/null. */
export async function pollUntil<T>(check: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
