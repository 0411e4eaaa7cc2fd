/**
 * A live SQLite database for tests of the data actions: a separate process that holds one
 * connection in WAL mode, as an application server does, and inserts a row every few milliseconds
 * for as long as it runs, each in its own transaction. SIGTERM closes the connection and ends it
 * (the application stopped), which is what a restore needs first.
 *
 *   const writer = await startSqliteWriter('/srv/app/data/app.db');
 *   ...
 *   await writer.stop();
 */
import { spawn } from 'node:child_process';
import { REPO_ROOT } from './bot-process.js';

/** The writer itself: CommonJS for `node -e`, better-sqlite3 found from the repository's node_modules. */
const WRITER = `
const Database = require('better-sqlite3');
const [file, every] = process.argv.slice(1);
const db = new Database(file);
db.pragma('journal_mode = WAL');
// A checkpoint or a backup may hold the write lock for a moment: wait for it, as a server would.
db.pragma('busy_timeout = 10000');
db.exec('CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, at TEXT NOT NULL, body TEXT NOT NULL)');
const insert = db.prepare('INSERT INTO events (at, body) VALUES (?, ?)');
let n = 0;
const timer = setInterval(() => { insert.run(new Date().toISOString(), 'event ' + (++n) + ' ' + 'x'.repeat(200)); }, Number(every));
process.stdout.write('writing\\n');
process.on('SIGTERM', () => { clearInterval(timer); db.close(); process.exit(0); });
`;

export interface SqliteWriter {
  pid: number;
  /** SIGTERM (the connection is closed), then waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL if it still runs. */
  dispose(): Promise<void>;
}

/** Starts the writer on `file` (created with its table if missing) and waits until it writes. */
export async function startSqliteWriter(file: string, everyMs = 10): Promise<SqliteWriter> {
  const child = spawn(process.execPath, ['-e', WRITER, file, String(everyMs)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('close', () => ((exited = true), resolve())));
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('writing') && resolve());
    void exit.then(() => reject(new Error(`the SQLite writer exited before it began writing: ${err}`)));
  });
  return {
    pid: child.pid ?? -1,
    async stop() {
      if (!exited) child.kill('SIGTERM');
      await exit;
      if (child.exitCode !== 0) throw new Error(`the SQLite writer did not stop cleanly (exit ${child.exitCode}): ${err}`);
    },
    async dispose() {
      if (!exited) child.kill('SIGKILL');
      await exit;
    },
  };
}
