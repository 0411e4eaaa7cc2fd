import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { jobSchema, runnerEventSchema, type Job, type RunnerEvent } from '../runners/protocol.js';

/*
 * What the runner keeps on its host, in RUNNER_STATE_DIR:
 *   jobs/<id>.json   one file per job it holds: written (and fsync'd) before the job starts, updated
 *                    with each process group before that program runs, then with the outcome; removed
 *                    only once the bot has acknowledged the outcome. A file without an outcome after a
 *                    restart is a job the runner was running when it died.
 *   artefacts.json   the files its steps produced (backups, snapshots), which the bot may ask it to inspect.
 *   audit.jsonl      one line per thing it did, with who asked for it.
 */

const stepProcessSchema = z.object({ pid: z.int(), pgid: z.int(), startedAt: z.string(), host: z.string() });

/** An outcome the bot must acknowledge before the job is forgotten. */
export type FinalEvent = Extract<RunnerEvent, { type: 'result' | 'answer' | 'refused' | 'interrupted' }>;
const FINAL_TYPES: ReadonlySet<RunnerEvent['type']> = new Set(['result', 'answer', 'refused', 'interrupted']);
export const isFinal = (event: RunnerEvent): event is FinalEvent => FINAL_TYPES.has(event.type);

export const jobStateSchema = z.object({
  job: jobSchema,
  receivedAt: z.string(),
  startedAt: z.string().optional(),
  processes: z.array(stepProcessSchema).default([]),
  final: runnerEventSchema.refine(isFinal, 'not an outcome').optional(),
  finishedAt: z.string().optional(),
});
export type JobState = Omit<z.output<typeof jobStateSchema>, 'final'> & { final?: FinalEvent | undefined };

/** Writes a file so that after a crash it is either the old or the new content, never a torn one. */
export async function writeDurably(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await fs.open(temp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
  const dir = await fs.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export class JobFiles {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'jobs');
  }

  private file(id: number): string {
    return path.join(this.dir, `${id}.json`);
  }

  async save(state: JobState): Promise<void> {
    await writeDurably(this.file(state.job.id), `${JSON.stringify(state)}\n`);
  }

  async remove(id: number): Promise<void> {
    await fs.rm(this.file(id), { force: true });
  }

  /**
   * Every job file left by an earlier process. Temporary files of an interrupted write are removed;
   * an unreadable file is set aside (renamed `.unreadable`) and reported, never silently dropped.
   */
  async load(onUnreadable: (file: string, why: string) => void): Promise<JobState[]> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const states: JobState[] = [];
    for (const name of (await fs.readdir(this.dir)).sort()) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) {
        await fs.rm(file, { force: true });
        continue;
      }
      if (!/^\d+\.json$/.test(name)) continue;
      try {
        const parsed = jobStateSchema.safeParse(JSON.parse(await fs.readFile(file, 'utf8')));
        if (!parsed.success) throw new Error(z.prettifyError(parsed.error));
        states.push(parsed.data);
      } catch (error) {
        await fs.rename(file, `${file}.unreadable`);
        onUnreadable(file, error instanceof Error ? error.message : String(error));
      }
    }
    return states;
  }
}

/** The most recent artefacts remembered; enough for every "Roll back" a thread still offers. */
const ARTEFACTS_KEPT = 500;

/**
 * The files this runner's steps produced. `inspect` answers for such a file wherever it is (a
 * checkpoint snapshot beside a database); for any other path only inside a picker's directory.
 */
export class ArtefactLedger {
  private readonly file: string;
  private paths: string[] = [];
  private writing: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'artefacts.json');
  }

  async load(): Promise<void> {
    try {
      this.paths = z.array(z.string()).parse(JSON.parse(await fs.readFile(this.file, 'utf8')));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${this.file} cannot be read: ${(error as Error).message}`);
    }
  }

  has(file: string): boolean {
    return this.paths.includes(file);
  }

  /** Remembers the paths (durably, before the result that names them is sent). */
  add(files: readonly string[]): Promise<void> {
    if (files.length === 0) return this.writing;
    this.paths = [...this.paths.filter((p) => !files.includes(p)), ...files].slice(-ARTEFACTS_KEPT);
    const text = `${JSON.stringify(this.paths)}\n`;
    this.writing = this.writing.catch(() => undefined).then(() => writeDurably(this.file, text));
    return this.writing;
  }
}

/** RUNNER_STATE_DIR/audit.jsonl: appended, never rewritten. */
export class AuditFile {
  readonly file: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'audit.jsonl');
  }

  /** Resolves once every line appended so far is written. */
  flushed(): Promise<void> {
    return this.writing.catch(() => undefined);
  }

  append(record: Record<string, unknown>): Promise<void> {
    const line = `${JSON.stringify({ at: new Date().toISOString(), ...record })}\n`;
    this.writing = this.writing.catch(() => undefined).then(() => fs.appendFile(this.file, line, { mode: 0o600 }));
    return this.writing;
  }
}

export type { Job };
