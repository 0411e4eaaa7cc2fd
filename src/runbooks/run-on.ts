import { z } from 'zod';
import { compileAnchoredPattern, patternProblem, quoteValue } from './param-value.js';
import { renderTemplate } from './template.js';

/*
 * Where a step runs: in the bot (no `runOn`), or on a runner that connected to the bot, chosen by
 * name or by the labels it advertised. Values are templates over the runbook's params, so an alert's
 * `instance` can pick its host's runner; `extract` (a regular expression with one capture group)
 * takes the part of each rendered value that names it, such as `gitcortex-1` of `gitcortex-1:9100`.
 */

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_.-]{0,62}$/;

const runOnObject = z
  .strictObject({
    /** The runner's name (templated). */
    runner: z.string().min(1).optional(),
    /** Labels the runner must advertise, each value templated; exactly one connected runner may match. */
    labels: z.record(z.string().regex(LABEL_NAME, `runner label names must match ${LABEL_NAME.source}`), z.string().min(1)).optional(),
    /** Applied to each rendered value: the whole value must match; its first capture group (if any) is kept. */
    extract: z
      .string()
      .min(1)
      .superRefine((pattern, ctx) => {
        const problem = patternProblem(pattern);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${problem}` });
      })
      .optional(),
  })
  .refine((place) => place.runner !== undefined || (place.labels !== undefined && Object.keys(place.labels).length > 0), {
    message: 'runOn needs a runner name or at least one label',
  });

/** `runOn: gitcortex-1`, `runOn: "{{host}}"`, or `runOn: { runner | labels, extract? }`. */
export const runOnSchema = z.union([z.string().min(1), runOnObject]).transform((value): RunOn => (typeof value === 'string' ? { runner: value } : value));

export interface RunOn {
  runner?: string | undefined;
  labels?: Record<string, string> | undefined;
  extract?: string | undefined;
}

/** The templates of a `runOn`, for load-time checks of the params they use. */
export function runOnTemplates(runOn: RunOn): string[] {
  return [...(runOn.runner !== undefined ? [runOn.runner] : []), ...Object.values(runOn.labels ?? {})];
}

/** A runner chosen for one step: by name, by labels, or both. */
export interface RunnerTarget {
  runner?: string;
  labels?: Record<string, string>;
}

/** Renders a step's `runOn` with its params; a string is the reason it names no runner. */
export function resolveRunOn(runOn: RunOn, params: Record<string, string>): RunnerTarget | string {
  const extract = runOn.extract !== undefined ? compileAnchoredPattern(runOn.extract) : undefined;
  const value = (template: string, what: string): string => {
    const rendered = renderTemplate(template, params);
    if (!extract) return rendered;
    const match = extract.exec(rendered);
    if (!match) throw new Error(`${what} ${quoteValue(rendered)} does not match ${runOn.extract}`);
    return match[1] ?? match[0];
  };
  try {
    const target: RunnerTarget = {};
    if (runOn.runner !== undefined) target.runner = value(runOn.runner, 'the runner name');
    if (runOn.labels) target.labels = Object.fromEntries(Object.entries(runOn.labels).map(([k, t]) => [k, value(t, `label ${k}`)]));
    if (target.runner === '' || Object.values(target.labels ?? {}).some((v) => v === '')) return 'runOn rendered to an empty value';
    return target;
  } catch (error) {
    return `cannot tell which runner runs it: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** "runner gitcortex-1" / "a runner labelled host=a, service=b": for messages. */
export function describeTarget(target: RunnerTarget): string {
  const labels = Object.entries(target.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');
  if (target.runner !== undefined) return labels ? `runner ${target.runner} (labelled ${labels})` : `runner ${target.runner}`;
  return `a runner labelled ${labels}`;
}
