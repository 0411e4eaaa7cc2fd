import type { ExecStepFields as ExecStep } from '../step-schema.js';
import { renderTemplate } from '../template.js';
import { applyExpectations, keepPatterns } from './checks.js';
import { formatDuration, fullOutput, shownOutput } from './output.js';
import { runInGroup } from './process-group.js';
import type { ActionContext, StepResult } from './types.js';

/** Output kept in memory per stream; a command printing more than this is stopped and fails. */
const MAX_BUFFER = 8 * 1024 * 1024;

/**
 * The argv a step will run. The program is taken verbatim (the loader refuses templates in it,
 * and it is not rendered here either); each argument is rendered on its own, so a param value is
 * always exactly one argument whatever spaces, quotes or `;` it contains.
 */
export function renderArgv(step: ExecStep, params: Record<string, string>): [program: string, ...args: string[]] {
  const [program = '', ...args] = step.run;
  return [program, ...args.map((arg) => renderTemplate(arg, params))];
}

/**
 * The complete environment of the process: PATH (to find the program), the allowlisted names
 * present in the bot's environment, then the step's own `setEnv`. Nothing else of the bot's
 * environment (tokens, database URLs) reaches the command.
 */
export function buildEnv(step: ExecStep, params: Record<string, string>, source: NodeJS.ProcessEnv): Record<string, string> {
  const env = new Map<string, string>();
  for (const name of ['PATH', ...step.env]) {
    // hasOwn, so a name like "constructor" cannot pick up an inherited property.
    const value = Object.hasOwn(source, name) ? source[name] : undefined;
    if (typeof value === 'string') env.set(name, value);
  }
  for (const [name, template] of Object.entries(step.setEnv)) env.set(name, renderTemplate(template, params));
  // fromEntries defines own properties, so even a variable named "__proto__" is just a variable.
  return Object.fromEntries(env);
}

/** The working directory, rendered (the loader allows only default-valued params in it). */
export function renderCwd(step: ExecStep, params: Record<string, string>): string | undefined {
  return step.cwd === undefined ? undefined : renderTemplate(step.cwd, params);
}

/** Runs an exec step: argv only, no shell, minimal environment, bounded time and output, in a process group of its own. */
export async function runExec(step: ExecStep, params: Record<string, string>, ctx: ActionContext): Promise<StepResult> {
  const result = await runExecProcess(step, params, ctx);
  return result.status === 'succeeded' || result.exitCode !== undefined ? applyExpectations(result, result.output ?? result.outputTail, step.expect) : result;
}

async function runExecProcess(step: ExecStep, params: Record<string, string>, ctx: ActionContext): Promise<StepResult> {
  const [program, ...args] = renderArgv(step, params);
  const cwd = renderCwd(step, params);
  const result = await runInGroup(program, args, {
    cwd,
    env: buildEnv(step, params, ctx.env),
    timeoutMs: step.timeoutSeconds * 1000,
    signal: ctx.signal,
    maxBuffer: MAX_BUFFER,
    onSpawn: ctx.onSpawn,
  });

  const durationMs = result.durationMs;
  const took = formatDuration(durationMs);
  const full = fullOutput(result.all, ctx.redact);
  const shown = shownOutput(full, keepPatterns(step.keep));
  // The full output is kept only when the thread shows less of it.
  const base = { durationMs, outputTail: shown, ...(shown === full ? {} : { output: full }) };
  const exitCode = result.exitCode;
  const withExit = exitCode === undefined ? {} : { exitCode };

  if (result.timedOut) return { ...base, ...withExit, status: 'timed_out', summary: `timed out after ${step.timeoutSeconds}s`, said: { code: 'timedOut', params: { seconds: step.timeoutSeconds } } };
  if (result.isCanceled) return { ...base, ...withExit, status: 'failed', summary: `cancelled after ${took}`, said: { code: 'cancelled', params: { tookMs: durationMs } } };
  if (result.isMaxBuffer) {
    return { ...base, ...withExit, status: 'failed', summary: `stopped after ${took}: output exceeded ${MAX_BUFFER / 1024 / 1024} MiB`, said: { code: 'exec.outputTooLarge', params: { tookMs: durationMs, mib: MAX_BUFFER / 1024 / 1024 } } };
  }
  if (exitCode === undefined && result.signal === undefined) {
    return { ...base, status: 'failed', summary: ctx.redact(startFailure(program, cwd, result)) };
  }
  if (exitCode === undefined) return { ...base, status: 'failed', summary: `killed by ${result.signal} after ${took}`, said: { code: 'exec.killed', params: { signal: String(result.signal), tookMs: durationMs } } };
  return { ...base, exitCode, status: exitCode === 0 ? 'succeeded' : 'failed', summary: `exit ${exitCode} in ${took}` };
}

/** Why the process never started, e.g. `could not start "systemctl": ENOENT`. */
function startFailure(program: string, cwd: string | undefined, result: { code?: string; originalMessage?: string }): string {
  const reason = result.code ?? result.originalMessage ?? 'unknown error';
  // execa checks cwd itself; node would report a bad cwd as ENOENT too, which reads like a missing program.
  const cwdHint = cwd !== undefined && result.originalMessage?.includes('"cwd" option is invalid') ? ` (cwd ${JSON.stringify(cwd)} is not usable)` : '';
  return `could not start ${JSON.stringify(program)}: ${reason}${cwdHint}`;
}

/** Display form of an argv, quoted like a shell would need it; for reading only, never executed. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/u.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(' ');
}
