import type { Logger } from 'pino';
import { redactData, type Redactor } from '../domain/redact.js';
import { localStepRunner, type Runbook, type StepProcess } from '../runbooks/index.js';
import { MAX_POLL_WAIT_MS, type Job } from '../runners/protocol.js';
import { BotClient } from './bot-client.js';
import type { RunnerConfig } from './config.js';
import { stopLeftoversOf } from './leftovers.js';
import { Outbox, type Delivery } from './outbox.js';
import { Backoff, Outage, Waker } from './retry.js';
import { ArtefactLedger, AuditFile, JobFiles, type FinalEvent, type JobState } from './state.js';
import { vetJob } from './vetting.js';
import { answerQuery, runLocalStep, wireResult } from './work.js';

/*
 * The runner: polls the bot for jobs (each poll is its heartbeat, so it goes on while jobs run),
 * runs each vetted job at once beside the others, and reports what happened. A job is held from the
 * moment it is handed out until the bot has acknowledged its outcome, and listed as `running` in
 * every poll meanwhile, so the bot never takes a job whose result is on its way for a lost one.
 */

export interface AgentOptions {
  config: RunnerConfig;
  log: Logger;
  redact: Redactor;
  /** The environment steps may take variables from (their manifest's `env:` allowlist). */
  env: NodeJS.ProcessEnv;
  version: string;
  runbooks: readonly Runbook[];
}

interface Held {
  job: Job;
  state: JobState;
  controller: AbortController;
  /** Settles when the job's work is over (its outcome recorded), not when the bot took it. */
  done: Promise<void>;
}

/** Ids of jobs already done, remembered so that a job handed out twice is never run twice. */
const DONE_REMEMBERED = 10_000;
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export class RunnerAgent {
  private readonly held = new Map<number, Held>();
  private readonly doneIds = new Set<number>();
  private readonly client: BotClient;
  private readonly outage: Outage;
  private readonly outbox: Outbox;
  private readonly jobFiles: JobFiles;
  private readonly artefacts: ArtefactLedger;
  private readonly audit: AuditFile;
  private readonly pollWaker = new Waker();
  private readonly stopPolling = new AbortController();
  private runbooks: readonly Runbook[];
  private heartbeatMs: number | undefined;
  private polling: Promise<void> | undefined;

  constructor(private readonly o: AgentOptions) {
    const { config } = o;
    this.runbooks = o.runbooks;
    this.client = new BotClient({ url: config.botUrl, name: config.name, token: config.token, version: o.version });
    this.outage = new Outage(o.log, config.botUrl);
    this.outbox = new Outbox(this.client, this.outage, o.log);
    this.jobFiles = new JobFiles(config.stateDir);
    this.artefacts = new ArtefactLedger(config.stateDir);
    this.audit = new AuditFile(config.stateDir);
  }

  /** Job ids held now: running, or with an outcome the bot has not acknowledged. */
  heldIds(): number[] {
    return [...this.held.keys()];
  }

  /** Picks up what an earlier process left, then starts polling and reporting. */
  async start(): Promise<void> {
    await this.artefacts.load();
    const leftovers = await this.jobFiles.load((file, why) => this.o.log.error({ file, why }, 'a job file cannot be read; it was set aside'));
    for (const state of leftovers) await this.recover(state);
    this.outbox.start();
    this.polling = this.pollLoop();
  }

  /** SIGHUP: this host's manifests again; an invalid set keeps the one loaded before. */
  replaceRunbooks(runbooks: readonly Runbook[]): void {
    this.runbooks = runbooks;
  }

  private record(job: Job, event: string, data: Record<string, unknown> = {}): void {
    const entry = redactData({ jobId: job.id, kind: job.kind, runbook: job.runbook, step: job.step, event, ...data }, this.o.redact) as Record<string, unknown>;
    this.audit.append(entry).catch((error: unknown) => this.o.log.error({ err: error, file: this.audit.file }, 'cannot append to the audit file'));
  }

  private async recover(state: JobState): Promise<void> {
    const { job } = state;
    const entry: Held = { job, state, controller: new AbortController(), done: Promise.resolve() };
    this.held.set(job.id, entry);
    if (state.final) {
      this.o.log.info({ jobId: job.id, event: state.final.type }, 'sending an outcome the bot had not acknowledged before the restart');
      this.queueFinal(entry, state.final);
      return;
    }
    const reason = await stopLeftoversOf(state, { host: localStepRunner.host(), stop: (p) => localStepRunner.stopLeftover(p) });
    this.o.log.warn({ jobId: job.id, runbook: job.runbook, step: job.step, processes: state.processes.map((p) => p.pgid) }, reason);
    await this.finish(entry, { jobId: job.id, type: 'interrupted', reason: clip(reason, 2000) });
  }

  private async pollLoop(): Promise<void> {
    const backoff = new Backoff();
    const signal = this.stopPolling.signal;
    while (!signal.aborted) {
      // The first poll returns at once with the heartbeat the bot expects; later ones wait for work.
      const waitMs = this.heartbeatMs === undefined ? 0 : Math.min(MAX_POLL_WAIT_MS, Math.max(1000, Math.floor(this.heartbeatMs / 2)));
      try {
        const answer = await this.client.poll({ labels: this.o.config.labels, version: this.o.version, running: this.heldIds().slice(0, 1000), waitMs }, signal);
        if (this.heartbeatMs === undefined) this.o.log.info({ bot: this.o.config.botUrl, runner: this.o.config.name, labels: this.o.config.labels }, 'connected to the bot');
        this.heartbeatMs = answer.heartbeatMs;
        this.outage.succeeded();
        this.outbox.nudge();
        backoff.reset();
        for (const id of answer.cancel) this.cancel(id);
        for (const job of answer.jobs) this.accept(job);
      } catch (error) {
        if (signal.aborted) break;
        this.outage.failed('poll', error);
        await this.pollWaker.sleep(backoff.next(), signal);
      }
    }
  }

  private cancel(id: number): void {
    const entry = this.held.get(id);
    if (!entry || entry.state.final || entry.controller.signal.aborted) return;
    this.o.log.warn({ jobId: id, runbook: entry.job.runbook, step: entry.job.step }, 'the bot cancelled a running job; stopping it');
    this.record(entry.job, 'cancelled');
    entry.controller.abort();
  }

  private accept(job: Job): void {
    if (this.held.has(job.id) || this.doneIds.has(job.id)) {
      this.o.log.warn({ jobId: job.id }, 'the bot handed out a job this runner already has; it is not run again');
      return;
    }
    const { evidence } = job;
    this.o.log.info({ jobId: job.id, kind: job.kind, runbook: job.runbook, step: job.step, params: job.params, ...evidence }, 'job received');
    this.record(job, 'received', { params: job.params, evidence });
    const entry: Held = { job, state: { job, receivedAt: new Date().toISOString(), processes: [] }, controller: new AbortController(), done: Promise.resolve() };
    this.held.set(job.id, entry);
    entry.done = this.execute(entry).catch((error: unknown) => this.o.log.error({ err: error, jobId: job.id }, 'a job failed unexpectedly'));
  }

  private async execute(entry: Held): Promise<void> {
    const { job } = entry;
    const vetted = vetJob(this.runbooks, job, { name: this.o.config.name, labels: this.o.config.labels }, (file) => this.artefacts.has(file));
    if (!vetted.ok) {
      this.o.log.warn({ jobId: job.id, runbook: job.runbook, step: job.step, reason: vetted.reason }, 'job refused');
      return this.finish(entry, { jobId: job.id, type: 'refused', reason: clip(vetted.reason, 2000) });
    }
    // Recorded before anything runs: a runner that dies from here on reports the job as interrupted.
    entry.state.startedAt = new Date().toISOString();
    try {
      await this.jobFiles.save(entry.state);
    } catch (error) {
      const reason = `the runner cannot record the job in ${this.jobFiles.dir}: ${(error as Error).message}`;
      this.o.log.error({ jobId: job.id }, reason);
      return this.finish(entry, { jobId: job.id, type: 'refused', reason: clip(reason, 2000) });
    }
    if (job.kind !== 'run') {
      const outcome = await answerQuery(vetted.step, job, { produced: (file) => this.artefacts.has(file), now: () => new Date() }).catch((error: unknown) => ({
        refused: `could not answer: ${error instanceof Error ? error.message : String(error)}`,
      }));
      if ('refused' in outcome) this.o.log.warn({ jobId: job.id, reason: outcome.refused }, 'query refused');
      return this.finish(entry, 'refused' in outcome ? { jobId: job.id, type: 'refused', reason: clip(outcome.refused, 2000) } : { jobId: job.id, type: 'answer', answer: outcome.answer });
    }
    this.outbox.push({ jobId: job.id, type: 'started' });
    this.record(job, 'started');
    const onSpawn = async (p: StepProcess) => {
      entry.state.processes.push(p);
      await this.jobFiles.save(entry.state);
      this.record(job, 'process', { pid: p.pid, pgid: p.pgid });
    };
    const ctx = { signal: entry.controller.signal, redact: this.o.redact, env: this.o.env, settings: { prometheusUrl: this.o.config.prometheusUrl, composeCommand: this.o.config.composeCommand }, onSpawn };
    const result = wireResult(await runLocalStep(vetted.step, job, ctx), this.o.redact);
    // Remembered before the result goes out: the bot may ask to inspect a snapshot right after it.
    await this.artefacts.add((result.artefacts ?? []).map((a) => a.path)).catch((error: unknown) => this.o.log.error({ err: error }, 'cannot record the artefacts'));
    this.o.log.info({ jobId: job.id, runbook: job.runbook, step: job.step, status: result.status, summary: result.summary, ...job.evidence }, 'step finished');
    await this.finish(entry, { jobId: job.id, type: 'result', result });
  }

  /** Records the outcome on disk (it survives a restart until the bot takes it) and queues it. */
  private async finish(entry: Held, outcome: FinalEvent): Promise<void> {
    // A reason can quote the job's params or a command's error: redacted like the results are.
    const final = outcome.type === 'refused' || outcome.type === 'interrupted' ? { ...outcome, reason: clip(this.o.redact(outcome.reason), 2000) } : outcome;
    entry.state.final = final;
    entry.state.finishedAt = new Date().toISOString();
    const what = final.type === 'result' ? { status: final.result.status, summary: final.result.summary } : final.type === 'answer' ? { answer: final.answer.kind } : { reason: final.reason };
    this.record(entry.job, final.type === 'result' ? 'finished' : final.type, { ...what, evidence: entry.job.evidence });
    try {
      await this.jobFiles.save(entry.state);
    } catch (error) {
      // Still sent now; only a restart before the bot takes it would lose it.
      this.o.log.error({ err: error, jobId: entry.job.id }, 'cannot record the outcome on disk');
    }
    this.queueFinal(entry, final);
  }

  private queueFinal(entry: Held, final: FinalEvent): void {
    this.outbox.push(final, async (delivery: Delivery) => {
      await this.jobFiles.remove(entry.job.id);
      this.held.delete(entry.job.id);
      this.doneIds.add(entry.job.id);
      if (this.doneIds.size > DONE_REMEMBERED) this.doneIds.delete(this.doneIds.values().next().value as number);
      this.record(entry.job, delivery.accepted ? 'delivered' : 'not accepted', { type: final.type, ...(delivery.accepted ? {} : { reason: delivery.reason }) });
    });
  }

  /**
   * Stops polling, lets running jobs finish for `graceMs`, then cancels what still runs (its
   * process groups are killed) and waits for those results; sends what it can within `sendMs`.
   * What the bot has not taken stays on disk for the next start.
   */
  async stop(graceMs: number, sendMs = 5000): Promise<void> {
    this.stopPolling.abort();
    await this.polling;
    const working = () => [...this.held.values()].filter((h) => !h.state.final);
    const settle = (ms: number) => Promise.race([Promise.all(working().map((h) => h.done)), new Promise((resolve) => setTimeout(resolve, ms).unref())]);
    if (working().length > 0) {
      this.o.log.info({ jobs: working().map((h) => h.job.id), graceMs }, 'waiting for running jobs to finish');
      await settle(graceMs);
    }
    for (const h of working()) {
      this.o.log.warn({ jobId: h.job.id, runbook: h.job.runbook, step: h.job.step }, 'stopping a job that did not finish in time');
      this.record(h.job, 'stopped at shutdown');
      h.controller.abort();
    }
    await Promise.all([...this.held.values()].map((h) => h.done));
    // A bot known to be away is not waited for: the outcomes are on disk for the next start.
    if (!this.outage.down) await Promise.race([this.outbox.drained(), new Promise((resolve) => setTimeout(resolve, sendMs).unref())]);
    await this.outbox.stop();
    await this.audit.flushed();
    if (this.outbox.size > 0) this.o.log.warn({ unsent: this.outbox.size }, 'the bot did not take every outcome; they are kept and sent at the next start');
  }
}
