import { z } from 'zod';
import { parseSilenceDuration } from '../duration.js';
import { MAX_NOTE_LENGTH } from '../resolve.js';
import { t } from '../i18n/index.js';

/**
 * The slash commands, validated. Every platform hands in the same `CommandInput` (Slack from the
 * command's text, Discord from the interaction's options), so there is one validation and one set
 * of messages. Strict objects: an option a subcommand does not take is an error, not ignored.
 */
export type OptionValue = string | number | boolean;

export interface CommandInput {
  /** `incident` or `runbook` (without the slash). */
  name: string;
  subcommand: string | undefined;
  options: Record<string, OptionValue>;
}

const incidentId = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const text = String(value).trim().replace(/^#/, '');
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1) {
    ctx.addIssue({ code: 'custom', message: t('parse.incidentId', { value: String(value).slice(0, 20) }) });
    return z.NEVER;
  }
  return Number(text);
});

const runbookName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a runbook name is lower-case letters, digits and dashes, e.g. gitcortex');
const stepId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'a step id is lower-case letters, digits, - and _, e.g. health');

const duration = z.string().transform((text, ctx) => {
  const parsed = parseSilenceDuration(text);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.reason });
    return z.NEVER;
  }
  return parsed.ms;
});

const MAX_PARAMS = 10;

/** `key=value` pairs separated by spaces; values are checked against the runbook's patterns later. */
const params = z
  .string()
  .max(1000)
  .transform((text, ctx) => {
    const out: Record<string, string> = {};
    for (const pair of text.split(/\s+/).filter(Boolean)) {
      const m = /^([a-z_][a-z0-9_]{0,39})=(.+)$/i.exec(pair);
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `"${pair.slice(0, 40)}" is not a param=value pair` });
        return z.NEVER;
      }
      const [, key = '', value = ''] = m;
      if (Object.hasOwn(out, key)) {
        ctx.addIssue({ code: 'custom', message: `param "${key}" is given twice` });
        return z.NEVER;
      }
      out[key] = value;
    }
    if (Object.keys(out).length > MAX_PARAMS) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_PARAMS} params` });
      return z.NEVER;
    }
    return out;
  });

const stepOptions = { name: runbookName, step: stepId, params: params.optional(), incident: incidentId.optional() };

export const commandSchemas = {
  'incident list': z.strictObject({}),
  'incident show': z.strictObject({ id: incidentId }),
  'incident ack': z.strictObject({ id: incidentId }),
  'incident resolve': z.strictObject({ id: incidentId, note: z.string().max(MAX_NOTE_LENGTH, `the note is at most ${MAX_NOTE_LENGTH} characters`).optional() }),
  'incident timeline': z.strictObject({ id: incidentId }),
  'incident silence': z.strictObject({ id: incidentId, duration }),
  'runbook list': z.strictObject({}),
  'runbook show': z.strictObject({ name: runbookName }),
  /** `confirm`: run a changing step on a resolved incident, where the step or policy allows it (afterResolve). */
  'runbook run': z.strictObject({ ...stepOptions, confirm: z.boolean().optional() }),
  'runbook dry-run': z.strictObject(stepOptions),
  'runbook runners': z.strictObject({}),
} as const;

export type CommandKey = keyof typeof commandSchemas;

export type Command = { [K in CommandKey]: { key: K; args: z.infer<(typeof commandSchemas)[K]> } }[CommandKey];

/** How each subcommand is typed, for usage messages (Discord shows the same options as fields). */
export const USAGE: Record<CommandKey, { args: string; what: string }> = {
  'incident list': { args: '', what: 'the open incidents, newest first' },
  'incident show': { args: '<id>', what: 'one incident: status, owner, alerts, steps' },
  'incident ack': { args: '<id>', what: 'acknowledge: you own it' },
  'incident resolve': { args: '<id> [note]', what: 'resolve by hand, with an optional note' },
  'incident timeline': { args: '<id>', what: 'everything that happened, with time to acknowledge and resolve' },
  'incident silence': { args: '<id> <duration>', what: "silence the group's alerts in Alertmanager (30m, 2h, 1d; at most 7d)" },
  'runbook list': { args: '', what: 'the runbooks and their steps' },
  'runbook show': { args: '<name>', what: 'one runbook: params, steps, approvals' },
  'runbook run': { args: '<name> <step> [param=value…] [--incident <id>] [--confirm]', what: 'request a step (changing steps still need approval; --confirm: on a resolved incident, where allowed)' },
  'runbook dry-run': { args: '<name> <step> [param=value…] [--incident <id>]', what: 'show exactly what a step would run, without running it' },
  'runbook runners': { args: '', what: 'the runners steps can run on: labels, last heartbeat, connected or not' },
};

export const COMMAND_NAMES = ['incident', 'runbook'] as const;

export function isCommandKey(key: string): key is CommandKey {
  return Object.hasOwn(commandSchemas, key);
}
