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
 *
 * Under sustained writes no checkpoint ever copies everything, since commits add frames while it
 * copies: the WAL then grew by every page written (1.5 GB in a 20 s burst of webhooks), and
 * commits slowed as it did. So once the WAL passes `walLimitBytes`, the thread asks the main
 * connection to `hold` its commits (the event loop goes on), copies the few frames written since
 * its last pass, and lets them go; the next commit starts the WAL again. A hold ends after
 * MAX_HOLD_MS whatever happens in the thread. While another connection keeps a snapshot open
 * (a backup, an audit export), the WAL cannot start again, and the holds back off.
 */
export interface WalCheckpointerOptions {
  everyMs: number;
  walLimitBytes: number;
  /** Holds back the main connection's commits until the returned function is called (GroupCommit.hold). */
  hold: () => Promise<() => void>;
  onFailure: (error: Error) => void;
}

/** The longest the main connection's commits are held for one checkpoint (it takes a few ms). */
const MAX_HOLD_MS = 200;
/** After a hold that could not copy everything (a reader's old snapshot), the wait before the next: doubling, up to max. */
const HOLD_BACKOFF_MS = { first: 1000, max: 30_000 };

export class WalCheckpointer {
  private readonly worker: Worker;
  private stopped = false;
  private release: (() => void) | undefined;

  constructor(file: string, o: WalCheckpointerOptions) {
    // The worker is plain JavaScript given as text, so it runs the same from sources and from the
    // build; it loads the same better-sqlite3 as this module.
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, everyMs: o.everyMs, walLimitBytes: o.walLimitBytes } });
    this.worker.unref();
    const fail = (error: Error) => {
      this.letGo();
      if (this.stopped) return;
      this.stopped = true;
      o.onFailure(error);
    };
    // An error thrown in the thread can arrive as a plain object (SQLite's error class does not cross).
    this.worker.on('error', (error: unknown) => fail(error instanceof Error ? error : new Error(`WAL checkpoint thread failed: ${describe(error)}`)));
    this.worker.on('message', (m: { error?: string; hold?: true; release?: true }) => {
      if (m.error) fail(new Error(`WAL checkpoint failed: ${m.error}`));
      if (m.hold) void this.holdCommits(o.hold);
      if (m.release) this.letGo();
    });
    this.worker.on('exit', (code) => fail(new Error(`the WAL checkpoint thread exited (code ${code})`)));
  }

  private async holdCommits(hold: () => Promise<() => void>): Promise<void> {
    if (this.stopped || this.release) return;
    const release = await hold();
    const timer = setTimeout(() => this.letGo(), MAX_HOLD_MS);
    this.release = () => {
      clearTimeout(timer);
      release();
    };
    if (this.stopped) return this.letGo();
    this.worker.postMessage('held');
  }

  private letGo(): void {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  /** Ends the thread after its current checkpoint; the database is then closed by its owner. */
  async stop(): Promise<void> {
    this.letGo();
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
const pageSize = db.pragma('page_size', { simple: true });
let asked = false;
// The WAL's length in frames at the previous pass: when it has not changed, that pass copied
// everything and the next commit starts the WAL again by itself.
let lastLog = -1;
// A reader that keeps an old snapshot (a backup, an export) stops a held pass from copying
// everything, and holding again would not help until it ends: wait, longer each time. (A reader
// whose snapshot is the latest lets the pass finish but keeps SQLite from starting the WAL
// again; its snapshot is old by the next hold, which then backs off.)
let backoffMs = ${HOLD_BACKOFF_MS.first};
let noHoldBefore = 0;
function checkpoint() {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    const grew = result.log !== lastLog;
    lastLog = result.log;
    return { ...result, overLimit: grew && result.log * pageSize > workerData.walLimitBytes };
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
    return undefined;
  }
}
const timer = setInterval(() => {
  if (asked || !checkpoint()?.overLimit || Date.now() < noHoldBefore) return;
  // Once more first: this pass only copies what came during the last, so the held one, which
  // the main connection waits for, has even less to copy.
  checkpoint();
  asked = true;
  parentPort.postMessage({ hold: true });
}, workerData.everyMs);
parentPort.on('message', (message) => {
  if (message === 'held') {
    // Nothing writes now: this pass copies the rest, and the next commit starts the WAL again.
    const result = checkpoint();
    asked = false;
    parentPort.postMessage({ release: true });
    if (result && result.checkpointed < result.log) {
      noHoldBefore = Date.now() + backoffMs;
      backoffMs = Math.min(backoffMs * 2, ${HOLD_BACKOFF_MS.max});
    } else if (result) {
      backoffMs = ${HOLD_BACKOFF_MS.first};
    }
    return;
  }
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;
