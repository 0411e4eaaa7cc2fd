import type { Logger } from 'pino';
import { appendAudit } from './audit.js';
import { SCHEDULER_ACTOR, type JobOutcome } from './jobs.js';
import type { Leadership } from './ports/leadership.js';
import type { ScheduledJob } from '../settings/schedules.js';
import type { Store, StoreTx } from './ports/store.js';
import type { Clock } from './ports/clock.js';
import { t } from './i18n/index.js';

/** One job's cron timing, as the cron library provides it (src/core/cron.ts). */
export interface CronTimer {
  /** Starts calling `fire` at each slot (the scheduled time, whole minutes in the job's time zone). */
  start(fire: (slot: Date) => void): void;
  stop(): Promise<void>;
  /** Whether `date` (a whole minute) is a slot of the expression in the job's time zone. */
  matches(date: Date): boolean;
}

export interface SchedulerOptions {
  store: Store;
  jobs: readonly ScheduledJob[];
  timer: (job: ScheduledJob) => CronTimer;
  run: (job: ScheduledJob, signal: AbortSignal) => Promise<JobOutcome>;
  leadership: Leadership;
  clock: Clock;
  log: Logger;
  /** Called after messages were queued for chat. */
  onQueued: () => void;
}

const MINUTE = 60_000;
/** How far back missed slots are looked for (minute by minute); older ones are summed up as "since". */
const LOOKBACK_MINUTES = 40 * 24 * 60;
const MAX_LISTED = 5;

/**
 * Runs scheduled jobs on the leader. Everything that must survive a restart or a change of leader
 * is in the store (job_runs): the last slot handled and whether a run is in progress. So:
 * - a slot runs once, even with several replicas (the claim is a conditional update);
 * - a job never overlaps itself: a slot that comes while the previous run is still going is
 *   skipped, and the skip is audited (`schedule.skipped`) and logged;
 * - a slot that passed while the bot was down (or nobody led) is reported in the job's channels
 *   when the bot starts or the job next fires, and is not run late: a backup at 11:00 instead of
 *   02:00 might hit peak traffic, so a person decides.
 */
export class Scheduler {
  private readonly timers = new Map<string, CronTimer>();
  private readonly inFlight = new Map<string, { done: Promise<void>; abort: AbortController }>();
  private stopped = true;
  /** Whether this process has done the start-up recovery as leader (at start, or when it first leads). */
  private recovered = false;

  constructor(private readonly o: SchedulerOptions) {}

  async start(): Promise<void> {
    this.stopped = false;
    for (const job of this.o.jobs) this.timers.set(job.name, this.o.timer(job));
    if (this.o.leadership.isLeader()) await this.recover(this.o.clock());
    for (const job of this.o.jobs) this.timers.get(job.name)?.start((slot) => void this.fire(job, slot));
  }

  /** Stops the timers; running jobs get `graceMs` to finish, then are aborted (and recorded as failed). */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.timers.values()].map((t) => t.stop()));
    const all = () => Promise.all([...this.inFlight.values()].map((r) => r.done));
    const timedOut = await Promise.race([all().then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
    if (timedOut) {
      for (const r of this.inFlight.values()) r.abort.abort(new Error('bot shutting down'));
      await all();
    }
  }

  /** The run of a slot now (the cron timer calls it; tests call it directly). Resolves when the run is over. */
  async fire(job: ScheduledJob, slot: Date): Promise<void> {
    if (this.stopped || !this.o.leadership.isLeader()) return;
    try {
      // A replica that becomes leader after start-up recovers first: a run left in progress by the
      // previous leader would otherwise block the job for ever.
      if (!this.recovered) await this.recover(slot);
      await this.fireSlot(job, slot);
    } catch (error) {
      this.o.log.error({ err: error, job: job.name }, 'scheduled job failed to start');
    }
  }

  /**
   * At start-up on the leader (or when this replica first leads): runs left "in progress" by a
   * crash or by the previous leader are closed and reported (not re-run), jobs seen for the first
   * time start from now, and slots missed while down are reported: those before `until`, which is
   * now at start-up, and the slot being fired when a replica first leads (the cron timer fires a
   * little after its slot, and that slot is about to run, not missed).
   */
  private async recover(until: Date): Promise<void> {
    this.recovered = true;
    const now = this.o.clock();
    const queued = await this.o.store.transaction(async (tx) => {
      const known = new Map((await tx.listJobRuns()).map((r) => [r.job, r]));
      let posted = false;
      for (const job of this.o.jobs) {
        const state = known.get(job.name);
        if (!state) {
          // Just before `until`, so that the slot being fired (if any) is still to be claimed.
          await tx.initJobRun(job.name, new Date(until.getTime() - 1).toISOString());
          continue;
        }
        if (state.runningSince !== null) {
          await tx.finishJobRun(job.name, now.toISOString(), 'interrupted');
          await this.record(tx, job, now, 'schedule.interrupted', t('job.interrupted', { title: title(job), started: this.local(job, new Date(state.runningSince)) }), {
            startedAt: state.runningSince,
          });
          posted = true;
        }
        posted = (await this.reportMissed(tx, job, state.lastSlot, until)) || posted;
      }
      return posted;
    });
    if (queued) this.o.onQueued();
  }

  private async fireSlot(job: ScheduledJob, slot: Date): Promise<void> {
    const now = this.o.clock();
    const claim = await this.o.store.transaction(async (tx) => {
      const state = (await tx.listJobRuns()).find((r) => r.job === job.name);
      // A leader that took over (or this one after a pause) reports what nobody ran before this slot.
      if (state) await this.reportMissed(tx, job, state.lastSlot, slot);
      const result = await tx.claimJobRun(job.name, slot.toISOString(), now.toISOString());
      if (result === 'overlap') {
        await this.record(tx, job, now, 'schedule.skipped', t('job.skipped', { title: title(job), slot: this.local(job, slot), started: state?.runningSince ? this.local(job, new Date(state.runningSince)) : t('job.skipped.earlier') }), { slot: slot.toISOString() }, false);
      }
      if (result === 'claimed') await this.record(tx, job, now, 'schedule.started', t('job.started', { title: title(job), slot: this.local(job, slot) }), { slot: slot.toISOString() }, false);
      return result;
    });
    this.o.onQueued();
    if (claim === 'overlap') this.o.log.warn({ job: job.name, slot: slot.toISOString() }, 'scheduled job skipped: its previous run is still going');
    if (claim !== 'claimed') return;
    const abort = new AbortController();
    const done = this.execute(job, slot, abort.signal).finally(() => this.inFlight.delete(`${job.name}@${slot.toISOString()}`));
    this.inFlight.set(`${job.name}@${slot.toISOString()}`, { done, abort });
    await done;
  }

  private async execute(job: ScheduledJob, slot: Date, signal: AbortSignal): Promise<void> {
    const outcome = await this.o.run(job, signal);
    const now = this.o.clock();
    await this.o.store.transaction(async (tx) => {
      await tx.finishJobRun(job.name, now.toISOString(), outcome.status);
      await this.record(tx, job, now, 'schedule.finished', outcome.text, { ...outcome.data, slot: slot.toISOString(), status: outcome.status });
    });
    this.o.log.info({ job: job.name, status: outcome.status }, 'scheduled job finished');
    this.o.onQueued();
  }

  /** Reports the slots after `lastSlot` and before `before` that nobody ran, once (the last slot moves past them). */
  private async reportMissed(tx: StoreTx, job: ScheduledJob, lastSlot: string, before: Date): Promise<boolean> {
    if (lastSlot === '') return false;
    const timer = this.timers.get(job.name);
    if (!timer) return false;
    const missed = missedSlots(timer, new Date(lastSlot), before);
    const last = missed.at(-1);
    if (!last) return false;
    if (!(await tx.advanceJobSlot(job.name, lastSlot, last.toISOString()))) return false;
    const listed = missed.slice(-MAX_LISTED).map((d) => this.local(job, d));
    const more = missed.length > MAX_LISTED ? t('job.missed.more', { n: missed.length - MAX_LISTED }) : '';
    await this.record(
      tx,
      job,
      this.o.clock(),
      'schedule.missed',
      t('job.missed', { title: title(job), slots: listed.join(t('list.separator')), more }),
      { missed: missed.map((d) => d.toISOString()) },
    );
    this.o.log.warn({ job: job.name, missed: missed.length }, 'scheduled job missed slots while the bot was down');
    return true;
  }

  /** Audits a job event (no incident: the chain of events without one) and, unless `post` is false, posts it to the job's channels. */
  private async record(tx: StoreTx, job: ScheduledJob, at: Date, kind: string, text: string, data: Record<string, unknown>, post = true): Promise<void> {
    const iso = at.toISOString();
    await appendAudit(tx, { at: iso, incidentId: null, actor: SCHEDULER_ACTOR, kind, text, data: { job: job.name, ...data } });
    if (!post) return;
    for (const d of job.post) await tx.enqueueOutbox({ platform: d.platform, channel: d.channel, incidentId: null, kind: 'post', payload: { text }, at: iso });
  }

  /** "2026-11-22 02:00 Europe/Paris": a slot as the job's operator thinks of it. */
  private local(job: ScheduledJob, date: Date): string {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat('en-GB', { timeZone: job.timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
        .formatToParts(date)
        .map((p) => [p.type, p.value]),
    );
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${job.timezone}`;
  }
}

const title = (job: ScheduledJob) => job.title ?? job.name;

/** The slots strictly after `after` and strictly before `before`, minute by minute, within the look-back window. */
export function missedSlots(timer: Pick<CronTimer, 'matches'>, after: Date, before: Date): Date[] {
  const start = Math.max(Math.floor(after.getTime() / MINUTE) + 1, Math.ceil(before.getTime() / MINUTE) - LOOKBACK_MINUTES);
  const slots: Date[] = [];
  for (let m = start; m * MINUTE < before.getTime(); m += 1) {
    const date = new Date(m * MINUTE);
    if (timer.matches(date)) slots.push(date);
  }
  return slots;
}
