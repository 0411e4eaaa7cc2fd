/*
 * The store's part for runners: who is connected (each poll is a heartbeat) and the jobs handed to
 * them. A job is claimed once (queued → running) and finished once (→ done, refused, interrupted or
 * cancelled), each a conditional update, so however many replicas race, a job runs once and its
 * outcome is taken once.
 */

export type RunnerJobState = 'queued' | 'running' | 'done' | 'refused' | 'interrupted' | 'cancelled';
export type RunnerJobKind = 'run' | 'list' | 'inspect' | 'expire';

export interface RunnerRecord {
  name: string;
  labels: Record<string, string>;
  version: string;
  /** The replica its latest poll reached. */
  replica: string;
  /** When its current connection began (its first poll after being silent). */
  connectedAt: string;
  seenAt: string;
}

export interface RunnerJob {
  id: number;
  runner: string;
  runId: number | null;
  kind: RunnerJobKind;
  /** The job as sent to the runner (protocol `Job` without its id), JSON. */
  payload: string;
  state: RunnerJobState;
  cancelRequested: boolean;
  createdAt: string;
  claimedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** The latest output tail the runner sent while it ran. */
  output: string | null;
  /** The result or answer, JSON; null until finished. */
  result: string | null;
  /** Why it was refused, interrupted or cancelled. */
  detail: string | null;
}

export interface RunnerJobsTx {
  /** Records a poll: the runner is connected as of `at` (a new connection when last seen before `staleBefore`). */
  touchRunner(r: { name: string; labels: Record<string, string>; version: string; replica: string; at: string; staleBefore: string }): Promise<void>;
  listRunners(): Promise<RunnerRecord[]>;
  getRunner(name: string): Promise<RunnerRecord | undefined>;
  addRunnerJob(job: { runner: string; runId: number | null; kind: RunnerJobKind; payload: string; at: string }): Promise<number>;
  /** Hands out the runner's queued jobs: each moves to running here, once. */
  claimRunnerJobs(runner: string, at: string, limit: number): Promise<RunnerJob[]>;
  getRunnerJob(id: number): Promise<RunnerJob | undefined>;
  /** Jobs not yet finished, of one runner or of all. */
  openRunnerJobs(runner: string | null, limit: number): Promise<RunnerJob[]>;
  /** The newest job of a step run, finished or not. */
  latestJobOfRun(runId: number): Promise<RunnerJob | undefined>;
  /** Makes replica `to` the one waiting for a running step, if `from` still is; false when another took it first. */
  adoptStepRun(runId: number, from: string | null, to: string): Promise<boolean>;
  /** Gives up waiting for a running step (this replica stops): it is anyone's to take over at once. */
  releaseStepRun(runId: number, from: string): Promise<boolean>;
  markRunnerJobStarted(id: number, at: string): Promise<boolean>;
  noteRunnerJobOutput(id: number, output: string): Promise<boolean>;
  requestRunnerJobCancel(id: number): Promise<boolean>;
  /** Ends a job in one of `from`; false when it was in none of them (someone else ended it). */
  finishRunnerJob(id: number, from: readonly RunnerJobState[], to: Exclude<RunnerJobState, 'queued' | 'running'>, at: string, outcome: { result?: string; detail?: string }): Promise<boolean>;
}
