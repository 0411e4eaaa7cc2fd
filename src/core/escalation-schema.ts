import { z } from 'zod';
import type { Mention, Severity } from './card.js';
import type { Incident } from './domain.js';
import { durationSchema } from './duration.js';
import { labelsMatch, labelMatchSchema } from './label-match.js';

/**
 * When an unacknowledged incident is escalated, and whom it calls (ESCALATION_FILE). The defaults
 * follow the generic service runbook's response times: critical within 5 to 15 minutes (escalated
 * at 5 minutes, then every 10), warning within 30 to 60 minutes (at 30, then every 30); info and
 * none are not escalated.
 */
const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;
const SLACK_GROUP = /^S[A-Z0-9]{2,}$/;
const SNOWFLAKE = /^\d{5,25}$/;

const slackTarget = z.union([
  z.strictObject({ user: z.string().regex(SLACK_USER, 'a Slack user id looks like U0123ABCD'), name: z.string().min(1).optional() }),
  z.strictObject({ group: z.string().regex(SLACK_GROUP, 'a Slack user group id looks like S0123ABCD'), name: z.string().min(1).optional() }),
]);
const discordTarget = z.union([
  z.strictObject({ user: z.string().regex(SNOWFLAKE, 'a Discord user id is a number (snowflake)'), name: z.string().min(1).optional() }),
  z.strictObject({ role: z.string().regex(SNOWFLAKE, 'a Discord role id is a number (snowflake)'), name: z.string().min(1).optional() }),
]);

/** Whom to call, per platform. Written in YAML as ids: `{ user: U0123 }`, `{ group: S0456 }` (Slack), `{ user: '123…' }`, `{ role: '456…' }` (Discord). */
export const escalationTargetsSchema = z.strictObject({
  slack: z.array(slackTarget).default([]),
  discord: z.array(discordTarget).default([]),
});

/** after: first escalation this long after the incident opened; every: again at this interval until acked. null: never. */
const timing = z.strictObject({ after: durationSchema, every: durationSchema }).nullable();

export const escalationSchema = z.strictObject({
  severities: z
    .strictObject({
      critical: timing.optional(),
      warning: timing.optional(),
      info: timing.optional(),
      none: timing.optional(),
    })
    .default({}),
  /** Whom every escalation calls unless a rule says otherwise; none: the thread is re-announced only. */
  targets: escalationTargetsSchema.prefault({}),
  /** Per alert labels (e.g. alertname); the first rule whose `match` fits wins over the severity's timing and the targets. */
  rules: z
    .array(
      z.strictObject({
        match: labelMatchSchema,
        after: durationSchema.optional(),
        every: durationSchema.optional(),
        /** false: incidents this rule matches are never escalated. */
        escalate: z.boolean().default(true),
        targets: escalationTargetsSchema.optional(),
      }),
    )
    .default([]),
});

export type EscalationConfig = z.output<typeof escalationSchema>;
export type EscalationTargets = z.output<typeof escalationTargetsSchema>;

const MINUTE = 60_000;
export const DEFAULT_TIMING: Record<Severity, { after: number; every: number } | null> = {
  critical: { after: 5 * MINUTE, every: 10 * MINUTE },
  warning: { after: 30 * MINUTE, every: 30 * MINUTE },
  info: null,
  none: null,
};

/** The built-in escalation when no file is given: default timings, nobody mentioned. */
export const defaultEscalation = (): EscalationConfig => escalationSchema.parse({});

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
