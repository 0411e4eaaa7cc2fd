import { z } from 'zod';
import { patternProblem, quoteValue, valueProblem } from './param-value.js';
import { templateNames } from './template.js';

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
  })
  .superRefine((spec, ctx) => {
    if (spec.fromLabel === undefined && spec.default === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a param needs fromLabel, default, or both' });
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

const commonStepFields = {
  id: z.string().regex(STEP_ID, `step ids must match ${STEP_ID.source}`),
  title: z.string().min(1).max(60),
  description: z.string().optional(),
  changes: z.boolean().default(false),
  danger: z.boolean().default(false),
  timeoutSeconds: timeoutSeconds.default(60),
  approval: approvalSchema.optional(),
};

const execStepSchema = z.strictObject({
  ...commonStepFields,
  action: z.literal('exec'),
  /** argv, never a shell line: each element is rendered on its own and passed as one argument. */
  run: z
    .array(z.string())
    .min(1)
    .superRefine((argv, ctx) => {
      const program = argv[0] ?? '';
      if (program === '') ctx.addIssue({ code: 'custom', path: [0], message: 'the program (run[0]) may not be empty' });
      // The program is fixed by the manifest author; alert labels may only fill in its arguments.
      if (program.includes('{{')) {
        ctx.addIssue({
          code: 'custom',
          path: [0],
          message: 'the program (run[0]) may not contain a {{template}}: a label must never change which program runs',
        });
      }
    }),
  cwd: noTemplate('cwd').optional(),
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

/** One step of a runbook: an `exec` (argv, no shell) or an `http` check. */
export const stepSchema = z
  .discriminatedUnion('action', [execStepSchema, httpStepSchema])
  // Changing something always needs approval; a read-only step needs it only if it asks for it.
  .transform((step) => ({ ...step, approval: step.approval ?? (step.changes ? { ...DEFAULT_APPROVAL } : undefined) }));

/** A whole runbook manifest (one YAML file). */
export const runbookSchema = z
  .strictObject({
    name: z.string().regex(RUNBOOK_NAME, `runbook names must match ${RUNBOOK_NAME.source}`),
    description: z.string().optional(),
    /** label → value or any-of values; every listed label must match. `{}` matches every alert. */
    match: z.record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)])),
    params: z.record(z.string().regex(PARAM_NAME, `param names must match ${PARAM_NAME.source}`), paramSpecSchema).default({}),
    steps: z.array(stepSchema).min(1),
  })
  .superRefine((runbook, ctx) => {
    const firstUse = new Map<string, number>();
    runbook.steps.forEach((step, index) => {
      const earlier = firstUse.get(step.id);
      if (earlier === undefined) firstUse.set(step.id, index);
      else ctx.addIssue({ code: 'custom', path: ['steps', index, 'id'], message: `duplicate step id "${step.id}" (also steps.${earlier})` });

      for (const { path, template } of templatedFields(step)) {
        for (const name of templateNames(template)) {
          if (Object.hasOwn(runbook.params, name)) continue;
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

/**
 * The fields of a step that are rendered with params; executors render exactly these. Listed here
 * so that load-time checking knows every place a `{{name}}` can appear.
 */
function templatedFields(step: RunbookStep): { path: (string | number)[]; template: string }[] {
  switch (step.action) {
    case 'exec':
      return [
        ...step.run.slice(1).map((template, i) => ({ path: ['run', i + 1], template })),
        ...Object.entries(step.setEnv).map(([name, template]) => ({ path: ['setEnv', name], template })),
      ];
    case 'http':
      return [{ path: ['with', 'url'], template: step.with.url }];
  }
}

/** A validated runbook, with defaults applied. */
export type Runbook = z.infer<typeof runbookSchema>;
/** A validated step; `approval` is set whenever the step needs approval. */
export type RunbookStep = z.infer<typeof stepSchema>;
/** A step that runs a program (argv, no shell). */
export type ExecStep = Extract<RunbookStep, { action: 'exec' }>;
/** A step that makes one HTTP request and checks the answer. */
export type HttpStep = Extract<RunbookStep, { action: 'http' }>;
/** How one param gets its value. */
export type ParamSpec = z.infer<typeof paramSpecSchema>;
