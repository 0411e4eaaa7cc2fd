import { z } from 'zod';
import { durationSchema } from '../core/duration.js';
import { labelMatchSchema } from '../core/label-match.js';
import { loadYamlFile } from './yaml-file.js';

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

/** The built-in escalation when no file is given: default timings, nobody mentioned. */
export const defaultEscalation = (): EscalationConfig => escalationSchema.parse({});

/** Escalation of unacknowledged incidents, from ESCALATION_FILE; none: the built-in timings, nobody mentioned. */
export async function loadEscalation(file: string | undefined): Promise<EscalationConfig> {
  return file === undefined ? defaultEscalation() : loadYamlFile(file, escalationSchema, 'escalation');
}
