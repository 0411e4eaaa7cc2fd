import type { ResultMessage } from '../../domain/result-message.js';
import type { TypedStep } from '../schema.js';
import { quoteValue } from '../param-value.js';
import { typedAction } from './registry.js';
import { renderInputs } from './render-inputs.js';
import type { ActionContext, StepResult } from './types.js';

/** PATH plus the allowlisted variables present in the bot's environment; nothing else reaches a program. */
export function programEnvironment(allowlist: readonly string[], source: NodeJS.ProcessEnv): Record<string, string> {
  const env = new Map<string, string>();
  for (const name of ['PATH', ...allowlist]) {
    const value = Object.hasOwn(source, name) ? source[name] : undefined;
    if (typeof value === 'string') env.set(name, value);
  }
  return Object.fromEntries(env);
}

function parseInputs(step: TypedStep, params: Record<string, string>) {
  const action = typedAction(step.action);
  const parsed = action.inputs.safeParse(renderInputs(step.with, params));
  return { action, parsed };
}

/** Renders the inputs, checks the rendered values against the action's schema, and runs it within the step's timeout. */
export async function runTypedStep(step: TypedStep, params: Record<string, string>, ctx: ActionContext): Promise<StepResult> {
  const { action, parsed } = parseInputs(step, params);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `with.${i.path.map(String).join('.')}: ${i.message}`).join('; ');
    return { status: 'failed', summary: ctx.redact(`invalid inputs for ${step.action}: ${problems}`), durationMs: 0, outputTail: '' };
  }
  const timeoutMs = step.timeoutSeconds * 1000;
  const started = performance.now();
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
  const result = await action.run(parsed.data, { ...ctx, signal, timeoutMs, programEnv: programEnvironment(step.env, ctx.env) });
  // An action that noticed the step's own deadline reports it as a timeout, whatever phase it was in.
  if (result.status === 'failed' && !ctx.signal.aborted && performance.now() - started >= timeoutMs) {
    const timedOut = { ...result, status: 'timed_out' as const, summary: `timed out after ${step.timeoutSeconds}s: ${result.summary}` };
    // Said in parts when the action said its result in parts (they take precedence over `said`).
    if (result.saidParts) return { ...timedOut, saidParts: [{ code: 'timedOut', params: { seconds: step.timeoutSeconds } }, ...result.saidParts] };
    return { ...timedOut, said: { code: 'timedOut.detail', params: { seconds: step.timeoutSeconds, detail: result.summary } } };
  }
  return result;
}

/** A typed step's description as a code and values (no timeout), when its action says one and its inputs are valid. */
export function describeTypedStepSaid(step: TypedStep, params: Record<string, string>): ResultMessage | undefined {
  const { action, parsed } = parseInputs(step, params);
  return parsed.success ? action.describeSaid?.(parsed.data) : undefined;
}

export function describeTypedStep(step: TypedStep, params: Record<string, string>): string {
  const { action, parsed } = parseInputs(step, params);
  if (!parsed.success) return `will run ${step.action} with invalid inputs (${quoteValue(parsed.error.issues[0]?.message ?? '', 80)})`;
  return `${action.describe(parsed.data)} (timeout ${step.timeoutSeconds}s)`;
}
