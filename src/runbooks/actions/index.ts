import { withSecretValues } from '../../domain/redact.js';
import type { RunbookStep } from '../schema.js';
import { pinProblem } from '../chosen-file.js';
import { formatArgv, renderArgv, renderCwd, runExec } from './exec.js';
import { httpTimeoutSeconds, runHttp } from './http.js';
import { describeTypedStep, describeTypedStepSaid, runTypedStep } from './run-typed.js';
import type { ResultMessage } from '../../domain/result-message.js';
import { renderTemplate } from '../template.js';
import type { ActionContext, StepResult } from './types.js';
import { TYPED_ACTION_NAMES } from './typed-names.js';

/** Every action a step may name. */
export const ACTION_NAMES = ['exec', 'http', ...TYPED_ACTION_NAMES] as const satisfies readonly RunbookStep['action'][];

// Compile-time check that the list above is complete: adding an action to the schema without
// listing it here fails the build.
const _everyActionListed: [Exclude<RunbookStep['action'], (typeof ACTION_NAMES)[number]>] extends [never] ? true : never = true;

/**
 * Runs one step with already-resolved params. Never rejects: the caller is an approval flow that
 * must always record an outcome, so even an unexpected error becomes a `failed` result.
 */
export async function runStep(step: RunbookStep, params: Record<string, string>, context: ActionContext): Promise<StepResult> {
  // What the step is given from the bot's environment is redacted, exactly, from all it reports.
  const passed = 'env' in step ? step.env.map((name) => (Object.hasOwn(context.env, name) ? context.env[name] : undefined)) : [];
  const ctx: ActionContext = { ...context, redact: withSecretValues(context.redact, passed) };
  try {
    // A restore checks its pinned backup itself, in the same read as its sidecar check.
    if (ctx.pins !== undefined && ctx.pins.length > 0 && step.action !== 'restore') {
      const problem = await pinProblem(ctx.pins, ctx.signal);
      if (problem !== undefined) return { status: 'failed', summary: ctx.redact(problem), durationMs: 0, outputTail: '' };
    }
    switch (step.action) {
      case 'exec':
        return await runExec(step, params, ctx);
      case 'http':
        return await runHttp(step, params, ctx);
      default:
        return await runTypedStep(step, params, ctx);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { status: 'failed', summary: ctx.redact(`step could not run: ${message}`), durationMs: 0, outputTail: '' };
  }
}

/**
 * What the step would do, for dry runs and approval prompts, e.g.
 * "will run `systemctl restart gitcortex` (timeout 60s)" or "will GET http://…/health expecting 200".
 * Throws (`RunbookError`) if a template names a param missing from `params`.
 */
export function describeStep(step: RunbookStep, params: Record<string, string>): string {
  switch (step.action) {
    case 'exec': {
      const cwd = renderCwd(step, params);
      const where = cwd !== undefined ? ` in ${cwd}` : '';
      return `will run \`${formatArgv(renderArgv(step, params))}\`${where} (timeout ${step.timeoutSeconds}s)`;
    }
    case 'http': {
      const body = step.with.bodyContains !== undefined ? ` and a body containing ${JSON.stringify(step.with.bodyContains)}` : '';
      const url = renderTemplate(step.with.url, params);
      return `will ${step.with.method} ${url} expecting ${step.with.expectStatus.join(' or ')}${body} (timeout ${httpTimeoutSeconds(step)}s)`;
    }
    default:
      return describeTypedStep(step, params);
  }
}

/**
 * What a step will do as a code and its values (without the timeout), for the bot to say in its
 * language; undefined where the English description is all there is (an exec step's is read by
 * the core's own pattern).
 */
export function describeStepSaid(step: RunbookStep, params: Record<string, string>): ResultMessage | undefined {
  switch (step.action) {
    case 'exec':
      return undefined;
    case 'http': {
      const base = { method: step.with.method, url: renderTemplate(step.with.url, params), expected: step.with.expectStatus.join(' / ') };
      return step.with.bodyContains !== undefined
        ? { code: 'describe.http.body', params: { ...base, wanted: JSON.stringify(step.with.bodyContains) } }
        : { code: 'describe.http', params: base };
    }
    default:
      return describeTypedStepSaid(step, params);
  }
}

export type { ActionContext, StepResult } from './types.js';
