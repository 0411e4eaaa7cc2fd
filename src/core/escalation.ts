import type { Logger } from 'pino';
import type { Incident } from './domain.js';
import type { EscalationConfig, EscalationTargets } from '../settings/escalation.js';
import type { Mention, Severity } from './card.js';
import { labelsMatch } from './label-match.js';
import { recordEvent } from './events.js';
import type { Leadership } from './ports/leadership.js';
import { formatDuration } from './time.js';
import { WorkerLoop } from './worker-loop.js';
import type { Store, StoreTx } from './ports/store.js';
import type { Clock } from './ports/clock.js';
import { t } from './i18n/index.js';

const MINUTE = 60_000;
export const DEFAULT_TIMING: Record<Severity, { after: number; every: number } | null> = {
  critical: { after: 5 * MINUTE, every: 10 * MINUTE },
  warning: { after: 30 * MINUTE, every: 30 * MINUTE },
  info: null,
  none: null,
};

export interface EscalationPlan {
  after: number;
  every: number;
  mentions: Mention[];
}

export function mentionsOf(targets: EscalationTargets): Mention[] {
  const named = (name: string | undefined) => (name !== undefined ? { name } : {});
  return [
    ...targets.slack.map((t): Mention => ('user' in t ? { platform: 'slack', kind: 'user', id: t.user, ...named(t.name) } : { platform: 'slack', kind: 'group', id: t.group, ...named(t.name) })),
    ...targets.discord.map((t): Mention => ('user' in t ? { platform: 'discord', kind: 'user', id: t.user, ...named(t.name) } : { platform: 'discord', kind: 'role', id: t.role, ...named(t.name) })),
  ];
}

/** How this incident escalates, from its common labels and severity; undefined when it never does. */
export function escalationPlan(config: EscalationConfig, incident: Pick<Incident, 'severity' | 'commonLabels'>): EscalationPlan | undefined {
  const rule = config.rules.find((r) => labelsMatch(r.match, incident.commonLabels));
  if (rule && !rule.escalate) return undefined;
  const configured = config.severities[incident.severity];
  const base = configured === undefined ? DEFAULT_TIMING[incident.severity] : configured;
  const after = rule?.after ?? base?.after;
  const every = rule?.every ?? base?.every ?? after;
  if (after === undefined || every === undefined) return undefined;
  return { after, every, mentions: mentionsOf(rule?.targets ?? config.targets) };
}

/** The escalation level due at `now` (0: none yet): level 1 at `after`, level n at `after + (n-1)·every`. */
export function dueLevel(plan: Pick<EscalationPlan, 'after' | 'every'>, openedAt: string, now: string): number {
  const elapsed = Date.parse(now) - Date.parse(openedAt);
  return elapsed < plan.after ? 0 : Math.floor((elapsed - plan.after) / plan.every) + 1;
}

export interface EscalationWorkerOptions {
  store: Store;
  config: EscalationConfig;
  leadership: Leadership;
  clock: Clock;
  log: Logger;
  /** Called after escalations were queued for chat. */
  onQueued: () => void;
  pollMs?: number;
}

/** More open incidents than this are checked over several ticks (newest first). */
const BATCH = 500;

/**
 * Escalates one incident if a level is due: claims the step (level `from` → `to`) with a
 * conditional update, so that of two workers (or two replicas after a leadership change) exactly
 * one posts it; then audits it and re-announces it in the thread with the plan's mentions. A bot
 * that was down for several intervals jumps to the current level once, rather than posting every
 * missed level in a burst.
 */
export async function escalateIfDue(tx: StoreTx, config: EscalationConfig, incidentId: number, now: string): Promise<boolean> {
  const incident = await tx.getIncident(incidentId);
  if (!incident || incident.status !== 'firing' || incident.acknowledgement) return false;
  const plan = escalationPlan(config, incident);
  if (!plan) return false;
  const from = incident.escalation?.level ?? 0;
  const to = dueLevel(plan, incident.createdAt, now);
  if (to <= from) return false;
  if (!(await tx.advanceEscalation(incident.id, from, to, now))) return false;
  await recordEvent(tx, escalationEvent(incident, plan, to, now), { refreshCard: true, mentions: plan.mentions });
  return true;
}

function escalationEvent(incident: Incident, plan: EscalationPlan, level: number, now: string) {
  const openFor = Date.parse(now) - Date.parse(incident.createdAt);
  const calling = plan.mentions.length > 0 ? t('thread.escalated.calling') : '';
  return {
    at: now,
    incidentId: incident.id,
    actor: 'system',
    kind: 'incident.escalated',
    text: t('thread.escalated', { level, severity: incident.severity, openFor: formatDuration(openFor), after: formatDuration(plan.after), calling, ack: t('card.button.ack'), every: formatDuration(plan.every) }),
    data: { level, openForMs: openFor, afterMs: plan.after, everyMs: plan.every, mentions: plan.mentions.map((m) => `${m.platform}:${m.kind}:${m.id}`) },
  };
}

/**
 * Checks open incidents for due escalations every `pollMs`. It runs only on the leader; all its
 * state (the level reached and when) lives on the incident, so a new leader carries on where the
 * old one stopped.
 */
export class EscalationWorker {
  private readonly loop: WorkerLoop;

  constructor(private readonly o: EscalationWorkerOptions) {
    this.loop = new WorkerLoop(() => this.tick(), o.pollMs ?? 30_000, (error) => o.log.error({ err: error }, 'escalation tick failed'));
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One check now (tests, and a nudge after start-up). */
  runOnce(): Promise<void> {
    return this.loop.runOnce();
  }

  private async tick(): Promise<void> {
    if (!this.o.leadership.isLeader()) return;
    const open = await this.o.store.transaction((tx) => tx.listIncidents({ status: 'firing', limit: BATCH }));
    let escalated = 0;
    for (const incident of open) {
      if (incident.acknowledgement) continue;
      const now = this.o.clock().toISOString();
      if (await this.o.store.transaction((tx) => escalateIfDue(tx, this.o.config, incident.id, now))) escalated += 1;
    }
    if (escalated > 0) {
      this.o.log.info({ escalated }, 'escalated unacknowledged incidents');
      this.o.onQueued();
    }
  }
}
