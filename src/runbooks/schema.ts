import { z } from 'zod';
import { quoteValue } from './param-value.js';
import { templateNames } from './template.js';
import { typedAction } from './actions/registry.js';
import { TYPED_ACTION_NAMES, type TypedActionName } from './actions/typed-names.js';
import { runOnSchema, runOnTemplates } from './run-on.js';
import { DEFAULT_APPROVAL, ENV_NAME, PARAM_NAME, RUNBOOK_NAME, STEP_ID, commonStepFields, execStepSchema, httpStepSchema, paramSpecSchema } from './step-schema.js';

export { paramSpecSchema } from './step-schema.js';

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

const minutes = z.number().positive().max(24 * 60);
const phaseSteps = z.array(z.string().regex(STEP_ID)).min(1);
const timeTargetsSchema = z.strictObject({
  /** From the incident opening until the first execute step is requested. */
  decide: z.strictObject({ minutes }),
  /** From that request until every requested execute step has finished. */
  execute: z.strictObject({ minutes, steps: phaseSteps }),
  /** From then until every requested verify step has finished. */
  verify: z.strictObject({ minutes, steps: phaseSteps }),
  /** From the incident opening until verification ends. */
  total: z.strictObject({ minutes }),
});

const labelMatchSchema = z.record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)]));

const runbookBaseSchema = z.strictObject({
  name: z.string().regex(RUNBOOK_NAME, `runbook names must match ${RUNBOOK_NAME.source}`),
  description: z.string().optional(),
  /** label → value or any-of values; every listed label must match. `{}` matches every alert. */
  match: labelMatchSchema,
  /**
   * Other label sets that select the runbook as well (any one of them, each read like `match`):
   * alert rules that identify the service by their scrape `job` label (`up{job="gitcortex"}`) rather
   * than a `service` label still reach it.
   */
  alsoMatch: z.array(labelMatchSchema).max(10).default([]),
  /**
   * Time targets of a procedure (a rollback's decide < 15 min, execute < 30, verify < 15, total
   * < 1 h), shown as a clock per phase on the card and in the timeline (src/core/time-targets.ts).
   */
  timeTargets: timeTargetsSchema.optional(),
  params: z.record(z.string().regex(PARAM_NAME, `param names must match ${PARAM_NAME.source}`), paramSpecSchema).default({}),
  /** Where every step runs unless the step says otherwise; absent: in the bot. */
  runOn: runOnSchema.optional(),
  steps: z.array(stepSchema).min(1),
});

/** Fields that decide where programs run; templated only from params with defaults. */
const LOCATION_KEYS = new Set(['cwd', 'projectDir', 'file']);

/** A whole runbook manifest (one YAML file). */
export const runbookSchema = runbookBaseSchema
  .superRefine((runbook, ctx) => {
    checkStepReferences(runbook, ctx);
    checkRunOn(runbook, ctx);
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
  })
  // Each step carries where it runs, so a step handed to a step runner is complete on its own.
  .transform((runbook) => ({ ...runbook, steps: runbook.steps.map((step) => (step.runOn || !runbook.runOn ? step : { ...step, runOn: runbook.runOn })) }));

/** `runOn` may use only declared params that come from labels or defaults (never a value chosen in chat). */
function checkRunOn(runbook: z.output<typeof runbookBaseSchema>, ctx: z.RefinementCtx): void {
  const places = [
    { path: ['runOn'], runOn: runbook.runOn },
    ...runbook.steps.map((step, index) => ({ path: ['steps', index, 'runOn'], runOn: step.runOn })),
  ];
  for (const { path, runOn } of places) {
    if (!runOn) continue;
    for (const name of runOnTemplates(runOn).flatMap(templateNames)) {
      const spec = Object.hasOwn(runbook.params, name) ? runbook.params[name] : undefined;
      if (!spec) ctx.addIssue({ code: 'custom', path, message: `runOn uses unknown param ${quoteValue(name)}` });
      else if (spec.chosen) ctx.addIssue({ code: 'custom', path, message: `runOn may not use "${name}": a value chosen in chat must never decide where a step runs` });
    }
  }
}

/** `pick` and `checkpoint` name params and steps of the same runbook; they must exist and fit. */
function checkStepReferences(runbook: z.output<typeof runbookBaseSchema>, ctx: z.RefinementCtx): void {
  const steps = new Map(runbook.steps.map((s) => [s.id, s]));
  const chosenParam = (name: string, path: (string | number)[]) => {
    const spec = runbook.params[name];
    if (!spec?.chosen) ctx.addIssue({ code: 'custom', path, message: `"${name}" must be a declared param with chosen: true` });
  };
  for (const phase of ['execute', 'verify'] as const) {
    runbook.timeTargets?.[phase].steps.forEach((id, i) => {
      if (!steps.has(id)) ctx.addIssue({ code: 'custom', path: ['timeTargets', phase, 'steps', i], message: `no step "${id}" in this runbook` });
    });
  }
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
