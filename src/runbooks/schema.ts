import { z } from 'zod';
import { patternProblem, quoteValue, valueProblem } from './param-value.js';
import { templateNames } from './template.js';
import { argvSchema } from './argv.js';
import { typedAction } from './actions/registry.js';
import { TYPED_ACTION_NAMES, type TypedActionName } from './actions/typed-names.js';

/*
 * The runbook manifest format. Every object is strict: in a file that decides which commands run
 * and who must approve them, a misspelt key (`change: true`, `aproval:`) silently ignored would be
 * a safety bug, so unknown keys are errors.
 */

const RUNBOOK_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const PARAM_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const STEP_ID = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Approval used for a step that changes something but does not say who must approve it. */
const DEFAULT_APPROVAL = { approvers: 1, selfApprove: false } as const;

const noTemplate = (field: string) =>
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

const timeoutSeconds = z.int().min(1).max(3600);

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

const commonStepFields = {
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
  approval: approvalSchema.optional(),
};

const execStepSchema = z.strictObject({
  ...commonStepFields,
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

const httpStepSchema = z.strictObject({
  ...commonStepFields,
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

/**
 * A typed action (restart, checkpoint, backup, …) with its inputs under `with:`. The inputs are
 * checked against the action's own schema here, with templates still in place; the rendered
 * values are checked again when the step runs.
 */
const typedStepSchema = z
  .strictObject({
    ...commonStepFields,
    action: z.enum(TYPED_ACTION_NAMES),
    with: z.record(z.string(), z.unknown()).default({}),
    /** Names of variables passed through from the bot's environment to the programs the action runs. */
    env: z.array(z.string().regex(ENV_NAME, `env var names must match ${ENV_NAME.source}`)).default([]),
  })
  .superRefine((step, ctx) => {
    const result = typedAction(step.action).inputs.safeParse(step.with);
    if (result.success) return;
    for (const issue of result.error.issues) {
      ctx.addIssue({ code: 'custom', path: ['with', ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message: issue.message });
    }
  });

/** One step of a runbook: an `exec` (argv, no shell), an `http` check, or a typed action. */
export const stepSchema = z
  .discriminatedUnion('action', [execStepSchema, httpStepSchema, typedStepSchema])
  // Changing something always needs approval; a read-only step needs it only if it asks for it.
  .transform((step) => ({ ...step, approval: step.approval ?? (step.changes ? { ...DEFAULT_APPROVAL } : undefined) }));

const runbookBaseSchema = z.strictObject({
  name: z.string().regex(RUNBOOK_NAME, `runbook names must match ${RUNBOOK_NAME.source}`),
  description: z.string().optional(),
  /** label → value or any-of values; every listed label must match. `{}` matches every alert. */
  match: z.record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)])),
  params: z.record(z.string().regex(PARAM_NAME, `param names must match ${PARAM_NAME.source}`), paramSpecSchema).default({}),
  steps: z.array(stepSchema).min(1),
});

/** Fields that decide where programs run; templated only from params with defaults. */
const LOCATION_KEYS = new Set(['cwd', 'projectDir', 'file']);

/** A whole runbook manifest (one YAML file). */
export const runbookSchema = runbookBaseSchema.superRefine((runbook, ctx) => {
    checkStepReferences(runbook, ctx);
    const firstUse = new Map<string, number>();
    runbook.steps.forEach((step, index) => {
      const earlier = firstUse.get(step.id);
      if (earlier === undefined) firstUse.set(step.id, index);
      else ctx.addIssue({ code: 'custom', path: ['steps', index, 'id'], message: `duplicate step id "${step.id}" (also steps.${earlier})` });

      for (const { path, template } of templatedFields(step)) {
        for (const name of templateNames(template)) {
          const spec = Object.hasOwn(runbook.params, name) ? runbook.params[name] : undefined;
          if (spec && LOCATION_KEYS.has(String(path[path.length - 1])) && (spec.fromLabel !== undefined || spec.chosen)) {
            ctx.addIssue({
              code: 'custom',
              path: ['steps', index, ...path],
              message: `${String(path[path.length - 1])} may only use params with a default, not "${name}" (from a label or chosen): a relative program resolves against it, and an alert must never change which program runs`,
            });
          }
          if (spec) continue;
          const declared = Object.keys(runbook.params).join(', ') || 'none';
          ctx.addIssue({
            code: 'custom',
            path: ['steps', index, ...path],
            message: `step "${step.id}" uses unknown param ${quoteValue(name)} (declared params: ${declared})`,
          });
        }
      }
    });
  });

/** `pick` and `checkpoint` name params and steps of the same runbook; they must exist and fit. */
function checkStepReferences(runbook: z.output<typeof runbookBaseSchema>, ctx: z.RefinementCtx): void {
  const steps = new Map(runbook.steps.map((s) => [s.id, s]));
  const chosenParam = (name: string, path: (string | number)[]) => {
    const spec = runbook.params[name];
    if (!spec?.chosen) ctx.addIssue({ code: 'custom', path, message: `"${name}" must be a declared param with chosen: true` });
  };
  runbook.steps.forEach((step, index) => {
    if (step.pick) {
      chosenParam(step.pick.param, ['steps', index, 'pick', 'param']);
      for (const name of [...templateNames(step.pick.dir), ...templateNames(step.pick.prefix)]) {
        if (!Object.hasOwn(runbook.params, name)) ctx.addIssue({ code: 'custom', path: ['steps', index, 'pick'], message: `pick uses unknown param "${name}"` });
      }
    }
    const cp = step.checkpoint;
    if (!cp) return;
    if (!step.changes) ctx.addIssue({ code: 'custom', path: ['steps', index, 'checkpoint'], message: 'only a step with changes: true takes a pre-change checkpoint' });
    const snapshot = steps.get(cp.step);
    if (!snapshot || snapshot === step) ctx.addIssue({ code: 'custom', path: ['steps', index, 'checkpoint', 'step'], message: `no other step "${cp.step}" in this runbook` });
    else if (snapshot.changes) ctx.addIssue({ code: 'custom', path: ['steps', index, 'checkpoint', 'step'], message: `checkpoint step "${cp.step}" must not itself need approval (changes: false): it runs as part of the approved step` });
    const rollback = steps.get(cp.rollback);
    if (!rollback) ctx.addIssue({ code: 'custom', path: ['steps', index, 'checkpoint', 'rollback'], message: `no step "${cp.rollback}" in this runbook` });
    chosenParam(cp.param, ['steps', index, 'checkpoint', 'param']);
  });
}

/**
 * The fields of a step that are rendered with params; executors render exactly these. Listed here
 * so that load-time checking knows every place a `{{name}}` can appear.
 */
export function templatedFields(step: RunbookStep): { path: (string | number)[]; template: string }[] {
  switch (step.action) {
    case 'exec':
      return [
        ...step.run.slice(1).map((template, i) => ({ path: ['run', i + 1], template })),
        ...(step.cwd !== undefined ? [{ path: ['cwd'], template: step.cwd }] : []),
        ...Object.entries(step.setEnv).map(([name, template]) => ({ path: ['setEnv', name], template })),
      ];
    case 'http':
      return [{ path: ['with', 'url'], template: step.with.url }];
    default:
      return stringLeaves(step.with, ['with']);
  }
}

/** The params a step's templates use (what must have a value before it can run). */
export function stepParamNames(step: RunbookStep): string[] {
  return [...new Set(templatedFields(step).flatMap(({ template }) => templateNames(template)))];
}

/** Every string inside a value, with its path: the templated fields of a typed action's inputs. */
export function stringLeaves(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; template: string }[] {
  if (typeof value === 'string') return [{ path, template: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringLeaves(v, [...path, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => stringLeaves(v, [...path, k]));
  return [];
}

/** A validated runbook, with defaults applied. */
export type Runbook = z.infer<typeof runbookSchema>;
/** A validated step; `approval` is set whenever the step needs approval. */
export type RunbookStep = z.infer<typeof stepSchema>;
/** A step that runs a program (argv, no shell). */
export type ExecStep = Extract<RunbookStep, { action: 'exec' }>;
/** A step that makes one HTTP request and checks the answer. */
export type HttpStep = Extract<RunbookStep, { action: 'http' }>;
/** A step that runs one of the shipped typed actions. */
export type TypedStep = Extract<RunbookStep, { action: TypedActionName }>;
/** How one param gets its value. */
export type ParamSpec = z.infer<typeof paramSpecSchema>;
