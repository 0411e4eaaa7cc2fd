import { z } from 'zod';
import { patternProblem, valueProblem } from './param-value.js';
import { argvSchema } from './argv.js';
import { runOnSchema } from './run-on.js';
import { backupNameSchema } from './actions/data/naming.js';
import { checkFields } from './check-schema.js';

/*
 * The parts of the runbook manifest format that do not depend on the actions: names, params, the
 * fields every step has, and the `exec` and `http` steps, whose runners import their types from here
 * (schema.ts adds the typed actions, whose inputs the actions define).
 *
 * The runbook manifest format. Every object is strict: in a file that decides which commands run
 * and who must approve them, a misspelt key (`change: true`, `aproval:`) silently ignored would be
 * a safety bug, so unknown keys are errors.
 */

export const RUNBOOK_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const PARAM_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const STEP_ID = /^[a-z0-9][a-z0-9_-]{0,39}$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Approval used for a step that changes something but does not say who must approve it. */
export const DEFAULT_APPROVAL = { approvers: 1, selfApprove: false } as const;

export const noTemplate = (field: string) =>
  z
    .string()
    .min(1)
    .refine((text) => !text.includes('{{'), `${field} is not templated: it may not contain "{{"`);

/** One input of a runbook, taken from an alert label or a default and checked against `pattern`. */
export const paramSpecSchema = z
  .strictObject({
    fromLabel: z.string().min(1).optional(),
    default: z.string().optional(),
    pattern: z
      .string()
      .min(1)
      .superRefine((pattern, ctx) => {
        const problem = patternProblem(pattern);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${problem}` });
      }),
    description: z.string().optional(),
    /**
     * Chosen in chat when the step is requested (a backup from a picker, or the snapshot a "Roll
     * back" button is bound to) instead of coming from a label; still checked against `pattern`.
     */
    chosen: z.boolean().default(false),
  })
  .superRefine((spec, ctx) => {
    if (spec.chosen && (spec.fromLabel !== undefined || spec.default !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a chosen param takes no fromLabel or default: its value is chosen in chat' });
    }
    if (!spec.chosen && spec.fromLabel === undefined && spec.default === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a param needs fromLabel, default, or both (or chosen: true)' });
    }
    // A default that its own pattern rejects would only fail later, at incident time; catch it now.
    if (spec.default !== undefined && patternProblem(spec.pattern) === undefined) {
      const problem = valueProblem(spec.default, spec.pattern);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['default'], message: `default ${problem}` });
    }
  });

export const timeoutSeconds = z.int().min(1).max(3600);

const approvalSchema = z.strictObject({
  approvers: z.int().min(1).max(5).default(DEFAULT_APPROVAL.approvers),
  selfApprove: z.boolean().default(DEFAULT_APPROVAL.selfApprove),
});

/** A picker of recent backups shown in chat before the step is requested; the choice fills `param`. */
const pickSchema = z.strictObject({
  param: z.string().regex(PARAM_NAME),
  /** Directory holding the backups (templated). */
  dir: z.string().min(1),
  /** Only files whose name starts with this (templated). */
  prefix: z.string().default(''),
  limit: z.int().min(1).max(10).default(5),
  /** Other names offered too: the manual's own backups (`gitcortex_{time}.db.gz`) and links such as latest.db.gz. */
  names: z.array(backupNameSchema).max(10).default([]),
  /** Also offer the safety backups (`<prefix>-safety-<time>`) taken before restores, to undo one. */
  safety: z.boolean().default(false),
});

/**
 * A snapshot taken right before a changing step runs (the step `step` of the same runbook,
 * usually a backup); the thread then offers "Roll back", which requests `rollback` with the
 * snapshot's file in its chosen param `param`.
 */
const checkpointSchema = z.strictObject({
  step: z.string().regex(STEP_ID),
  rollback: z.string().regex(STEP_ID),
  param: z.string().regex(PARAM_NAME),
});

export const commonStepFields = {
  id: z.string().regex(STEP_ID, `step ids must match ${STEP_ID.source}`),
  pick: pickSchema.optional(),
  checkpoint: checkpointSchema.optional(),
  title: z.string().min(1).max(60),
  description: z.string().optional(),
  changes: z.boolean().default(false),
  danger: z.boolean().default(false),
  /** A changing step that may still be requested once its incident is resolved (the requester confirms). */
  afterResolve: z.boolean().optional(),
  timeoutSeconds: timeoutSeconds.default(60),
  /**
   * Shown as one of the card's few buttons even when the runbook has more steps than fit there
   * (the rest wait in the card's "More steps" menu).
   */
  primary: z.boolean().optional(),
  approval: approvalSchema.optional(),
  /**
   * `alert`: when the runbook's params differ across a grouped incident's firing alerts, one
   * approved request runs the step once for each of them (instead of asking which one).
   */
  forEach: z.literal('alert').optional(),
  /** Where the step runs when not in the bot (a runner); a step without one takes its runbook's. */
  runOn: runOnSchema.optional(),
};

export const execStepSchema = z.strictObject({
  ...commonStepFields,
  ...checkFields,
  action: z.literal('exec'),
  run: argvSchema,
  /** Working directory; may use params that have a default and no label (see LOCATION_KEYS). */
  cwd: z.string().min(1).optional(),
  /** Names of variables passed through from the bot's environment; everything else is withheld. */
  env: z.array(z.string().regex(ENV_NAME, `env var names must match ${ENV_NAME.source}`)).default([]),
  /** Fixed variables for this step; values are templated. */
  setEnv: z.record(z.string().regex(ENV_NAME, `env var names must match ${ENV_NAME.source}`), z.string()).default({}),
});

const httpStatus = z.int().min(100).max(599);

export const httpStepSchema = z.strictObject({
  ...commonStepFields,
  ...checkFields,
  action: z.literal('http'),
  with: z
    .strictObject({
      url: z.string().min(1),
      method: z.enum(['GET', 'POST', 'HEAD']).default('GET'),
      // Always a list after parsing, so executors and descriptions have one shape to handle.
      expectStatus: z
        .union([httpStatus, z.array(httpStatus).min(1)])
        .transform((status) => (Array.isArray(status) ? status : [status]))
        .default([200]),
      bodyContains: noTemplate('bodyContains').optional(),
      /** Overrides the step's timeoutSeconds for the request. */
      timeoutSeconds: timeoutSeconds.optional(),
    })
    .superRefine((request, ctx) => {
      // A HEAD answer has no body, so such a check could never pass.
      if (request.method === 'HEAD' && request.bodyContains !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['bodyContains'], message: 'bodyContains cannot be checked on a HEAD request' });
      }
    }),
});

export type ExecStepFields = z.output<typeof execStepSchema>;
export type HttpStepFields = z.output<typeof httpStepSchema>;
