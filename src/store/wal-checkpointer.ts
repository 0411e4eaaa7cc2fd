import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Checkpoints a WAL database from a worker thread, on a connection of its own, so that copying the
 * WAL into the database and syncing both never stalls the event loop. SQLite otherwise checkpoints
 * inside the COMMIT that crosses 1,000 WAL pages, on the committing (main) thread: under load that
 * was two thirds of the time spent committing.
 *
 * PASSIVE checkpoints never wait for, nor block, the main connection; SQLite restarts the WAL from
 * its top at the next write after one has copied everything. If the worker fails, the main
 * connection is told to checkpoint itself again (`onFailure`), so the WAL never grows unbounded.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private stopped = false;

  constructor(file: string, everyMs: number, onFailure: (error: Error) => void) {
    // The worker is plain JavaScript given as text, so it runs the same from sources and from the
    // build; it loads the same better-sqlite3 as this module.
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, everyMs } });
    this.worker.unref();
    const fail = (error: Error) => {
      if (this.stopped) return;
      this.stopped = true;
      onFailure(error);
    };
    // An error thrown in the thread can arrive as a plain object (SQLite's error class does not cross).
    this.worker.on('error', (error: unknown) => fail(error instanceof Error ? error : new Error(`WAL checkpoint thread failed: ${describe(error)}`)));
    this.worker.on('message', (m: { error?: string }) => {
      if (m.error) fail(new Error(`WAL checkpoint failed: ${m.error}`));
    });
    this.worker.on('exit', (code) => fail(new Error(`the WAL checkpoint thread exited (code ${code})`)));
  }

  /** Ends the thread after its current checkpoint; the database is then closed by its owner. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    // Unreferenced, the thread would not keep the process alive long enough to hear it end.
    this.worker.ref();
    this.worker.postMessage('stop');
    await exited;
  }
}

function describe(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message);
  return String(error);
}

const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
let db;
try {
  db = new Database(workerData.file, { fileMustExist: true });
} catch (error) {
  parentPort.postMessage({ error: 'cannot open ' + workerData.file + ': ' + String(error && error.message || error) });
  process.exit(1);
}
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
}, workerData.everyMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;
