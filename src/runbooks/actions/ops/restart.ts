import { z } from 'zod';
import { runProgram } from '../program.js';
import type { TypedActionContext } from '../typed-action.js';
import type { ResultMessage } from '../../../domain/result-message.js';
import {
  argvInput,
  factDuration,
  locationText,
  formatDuration,
  nameProblem,
  pollUntil,
  programPhase,
  refused,
  text,
  withinSeconds,
  type Attempt,
  type Budget,
  type Phase,
} from './common.js';
import { argvSaid, programProblemSaid, reasonLine, say, type Problem, programProblem, quoteArgv, lastLine } from './said.js';
import { composeBase, composeTargetProblem, describeTarget, projectDirProblem, readStates, resolveComposeCommand, stateValue, targetFacts, targetValue } from './compose-engine.js';
import { runningPhase } from './compose.js';
import { describeFollowUpVerify, followUpSaid, followUpVerifyInputs } from './verify-inputs.js';
import { verifyPhase } from './verify.js';

// Over 300 lines: the four kinds of restart (systemd, compose, kubernetes, command) share their
// phases and inputs, and splitting them would scatter one action's rules across files.

/*
 * restart: restarts a service, waits until its manager says it is up, then (with `verify:`) checks
 * that it is actually healthy; the verify result decides the step's outcome.
 */

type Argv = [string, ...string[]];

const followUp = { verify: followUpVerifyInputs.optional() };

const systemdRestart = z.strictObject({ kind: z.literal('systemd'), unit: text, withinSeconds: withinSeconds(30), ...followUp });
const composeRestart = z.strictObject({
  kind: z.literal('compose'),
  service: text,
  /** The compose project directory, the programs' working directory. Not templated, like an exec step's cwd. */
  projectDir: locationText,
  /** A compose file (`-f`), relative to projectDir; the default is compose's own lookup. */
  file: locationText.optional(),
  /** The project name (`-p`); the default is compose's own (the project directory's name). */
  project: text.optional(),
  /**
   * Rebuild the service's image and recreate its container (`up -d --build <service>`) instead of
   * restarting it: for a release switched by a symlink the service builds from, which a plain
   * restart would not pick up.
   */
  rebuild: z.boolean().default(false),
  withinSeconds: withinSeconds(30),
  ...followUp,
});
const kubernetesRestart = z.strictObject({
  kind: z.literal('kubernetes'),
  deployment: text,
  namespace: text,
  context: text.optional(),
  withinSeconds: withinSeconds(30),
  ...followUp,
});
const commandRestart = z.strictObject({ kind: z.literal('command'), run: argvInput, cwd: locationText.optional(), ...followUp });

/** The `restart` action's inputs (also the `restart:` of a rollback). */
export const restartInputs = z.discriminatedUnion('kind', [systemdRestart, composeRestart, kubernetesRestart, commandRestart]);

export type RestartInputs = z.output<typeof restartInputs>;

/**
 * The `restart` action's own inputs. A declared command has no built-in wait for "up" (systemd,
 * compose and Kubernetes restarts wait until active, running or rolled out), so a step restarting
 * by command must say how to verify it: a restart is always followed by a check. (Inside a
 * rollback, the rollback's own `verify:` follows the restart instead.)
 */
export const restartActionInputs = restartInputs.superRefine((inputs, ctx) => {
  if (inputs.kind === 'command' && inputs.verify === undefined) {
    ctx.addIssue({ code: 'custom', path: ['verify'], message: 'a restart by command needs verify: (http or sql) to check that the service came back' });
  }
});
export type SystemdRestart = z.output<typeof systemdRestart>;
export type ComposeRestart = z.output<typeof composeRestart>;
export type KubernetesRestart = z.output<typeof kubernetesRestart>;
export type CommandRestart = z.output<typeof commandRestart>;

// ---------------------------------------------------------------------------------------------
// argv builders: pure, so what would run can be tested without a daemon

export function systemdArgv(unit: string): { restart: Argv; isActive: Argv; status: Argv } {
  return {
    restart: ['systemctl', 'restart', unit],
    isActive: ['systemctl', 'is-active', unit],
    status: ['systemctl', 'status', '--no-pager', '--lines=20', unit],
  };
}

/** `docker compose [-p project] [-f file] restart <service>`, with the compose command in use. */
export function composeArgv(command: readonly string[], i: Pick<ComposeRestart, 'service' | 'file' | 'project'> & { rebuild?: boolean }): Argv {
  return [...composeBase(command, i), ...(i.rebuild ? ['up', '-d', '--build'] : ['restart']), i.service];
}

export function kubectlArgv(i: Pick<KubernetesRestart, 'deployment' | 'namespace' | 'context'>, timeoutSeconds: number): { restart: Argv; status: Argv } {
  const base: Argv = ['kubectl', ...(i.context !== undefined ? [`--context=${i.context}`] : [])];
  const target = [`deployment/${i.deployment}`, '-n', i.namespace];
  return {
    restart: [...base, 'rollout', 'restart', ...target],
    status: [...base, 'rollout', 'status', ...target, `--timeout=${timeoutSeconds}s`],
  };
}

export function commandArgv(i: Pick<CommandRestart, 'run'>): Argv {
  const [program = '', ...args] = i.run;
  return [program, ...args];
}

// ---------------------------------------------------------------------------------------------
// Checks on rendered values

const UNIT = /^[A-Za-z0-9:_.\\@-]+$/u;
const K8S_NAME = /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$/u;
const K8S_NAMESPACE = /^(?=.{1,63}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/u;
const K8S_CONTEXT = /^[A-Za-z0-9_.:@/-]+$/u;

export function restartProblem(i: RestartInputs): Problem | undefined {
  switch (i.kind) {
    case 'systemd':
      return nameProblem(i.unit, 'unit', UNIT, 'letters, digits and : _ . \\ @ -');
    case 'compose':
      return composeTargetProblem(i, i.service);
    case 'kubernetes':
      return (
        nameProblem(i.deployment, 'deployment', K8S_NAME, 'a Kubernetes object name') ??
        nameProblem(i.namespace, 'namespace', K8S_NAMESPACE, 'a Kubernetes namespace name') ??
        (i.context !== undefined ? nameProblem(i.context, 'context', K8S_CONTEXT, 'letters, digits and _ . : @ / -') : undefined)
      );
    case 'command':
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Descriptions

/** "restart systemd unit gitcortex and wait until active (30s)" */
export function restartClause(i: RestartInputs): string {
  switch (i.kind) {
    case 'systemd':
      return `restart systemd unit ${i.unit} and wait until active (${i.withinSeconds}s)`;
    case 'compose': {
      return `${i.rebuild ? 'rebuild and recreate' : 'restart'} compose service ${i.service} in ${describeTarget(i)} and wait until running (${i.withinSeconds}s)`;
    }
    case 'kubernetes': {
      const context = i.context !== undefined ? ` (context ${i.context})` : '';
      return `restart deployment/${i.deployment} in namespace ${i.namespace}${context} and wait for the rollout (${i.withinSeconds}s)`;
    }
    case 'command':
      return `run ${quoteArgv(i.run)}${i.cwd !== undefined ? ` in ${i.cwd}` : ''}`;
  }
}

/** "will restart systemd unit gitcortex and wait until active (30s), then verify that http://… answers 200 (within 30s)" */
export function describeRestart(i: RestartInputs): string {
  return `will ${restartClause(i)}${describeFollowUpVerify(i.verify)}`;
}

/** The restart's description as a code (the follow-up check in its values). */
export function describeRestartSaid(i: RestartInputs): ResultMessage {
  const then = followUpSaid(i.verify);
  switch (i.kind) {
    case 'systemd':
      return say('describe.restart.systemd', { unit: i.unit, within: i.withinSeconds, ...then });
    case 'compose':
      return say(i.rebuild ? 'describe.restart.compose.rebuild' : 'describe.restart.compose', { service: i.service, target: targetValue(i), within: i.withinSeconds, ...then });
    case 'kubernetes':
      return say('describe.restart.kubernetes', { deployment: i.deployment, namespace: i.namespace, inContext: i.context !== undefined ? 1 : 0, context: i.context ?? '', within: i.withinSeconds, ...then });
    case 'command':
      return say('describe.restart.command', { argv: quoteArgv(i.run), inDir: i.cwd !== undefined ? 1 : 0, dir: i.cwd ?? '', ...then });
  }
}

/** What a rollback's restart will restart, as a value: a unit, a service, a deployment, a command. */
export function restartValue(i: RestartInputs): string {
  switch (i.kind) {
    case 'systemd':
      return i.unit;
    case 'compose':
      return `${i.service} (${targetValue(i)})`;
    case 'kubernetes':
      return `deployment/${i.deployment} -n ${i.namespace}`;
    case 'command':
      return quoteArgv(i.run);
  }
}

// ---------------------------------------------------------------------------------------------
// Running

/** The restart phase, then the wait, then the verify when given; stops at the first failure. */
export async function restartPhases(i: RestartInputs, ctx: TypedActionContext, budget: Budget, verifyPrefix = 'verify '): Promise<Phase[]> {
  const problem = restartProblem(i);
  if (problem !== undefined) return [refused(problem)];
  const phases: Phase[] = [];
  for (const phase of await restartOnly(i, ctx, budget)) {
    phases.push(phase);
    if (!phase.ok) return phases;
  }
  if (i.verify !== undefined) phases.push(await verifyPhase(i.verify, ctx, budget, verifyPrefix));
  return phases;
}

function programOptions(ctx: TypedActionContext, budget: Budget, cwd?: string) {
  return { timeoutMs: Math.max(1, budget.remainingMs()), signal: ctx.signal, env: ctx.programEnv, cwd, onSpawn: ctx.onSpawn };
}

async function restartOnly(i: RestartInputs, ctx: TypedActionContext, budget: Budget): Promise<Phase[]> {
  switch (i.kind) {
    case 'systemd':
      return restartSystemd(i, ctx, budget);
    case 'compose':
      return restartCompose(i, ctx, budget);
    case 'kubernetes':
      return restartKubernetes(i, ctx, budget);
    case 'command': {
      const argv = commandArgv(i);
      const run = await runProgram(argv, programOptions(ctx, budget, i.cwd));
      const facts = [{ label: 'restart command', value: quoteArgv(argv) }];
      if (i.cwd !== undefined) facts.push({ label: 'restart directory', value: i.cwd });
      if (run.exitCode !== undefined) facts.push({ label: 'restart exit code', value: String(run.exitCode) });
      const said = { ok: 'restart.command', failed: 'restart.commandFailed', params: { argv: quoteArgv(argv) } } as const;
      return [programPhase(run, `restart command ${quoteArgv(argv)}`, said, facts)];
    }
  }
}

async function restartSystemd(i: SystemdRestart, ctx: TypedActionContext, budget: Budget): Promise<Phase[]> {
  const argv = systemdArgv(i.unit);
  const facts = [{ label: 'restarted unit', value: i.unit }];
  const restart = await runProgram(argv.restart, programOptions(ctx, budget));
  if (!restart.ok) return [programPhase(restart, quoteArgv(argv.restart), argvSaid(argv.restart), [{ label: 'not restarted', value: i.unit }])];

  const outcome = await pollUntil(
    async (timeoutMs): Promise<Attempt> => {
      const run = await runProgram(argv.isActive, { ...programOptions(ctx, budget), timeoutMs });
      // is-active prints the state and exits non-zero unless it is "active".
      const state = run.stdout.trim();
      if (state === '') {
        const seen = reasonLine(run.output) || (run.failure ?? '');
        return { ok: false, fatal: run.failure?.startsWith('could not start') === true, detail: programProblem(run), said: programProblemSaid(run), seen, output: run.output };
      }
      // A unit that failed stays failed until someone acts; waiting longer cannot help.
      return { ok: state === 'active', fatal: state === 'failed', detail: `state ${state}`, said: [say('restart.unitState', { state })], seen: state, output: run.output };
    },
    { intervalMs: 1000, withinMs: i.withinSeconds * 1000, budget },
  );
  const restarted: Phase = {
    ok: true,
    summary: `restarted systemd unit ${i.unit} (${formatDuration(restart.durationMs)})`,
    said: say('restart.systemd', { unit: i.unit, tookMs: restart.durationMs }),
    facts,
    output: restart.output,
  };
  facts.push(
    { label: 'unit state', value: outcome.last.seen ?? outcome.last.detail },
    { label: 'waited', value: factDuration(outcome.elapsedMs) },
    { label: 'checks', value: String(outcome.attempts) },
  );
  if (outcome.ok) {
    return [restarted, { ok: true, summary: `active after ${formatDuration(outcome.elapsedMs)}`, said: say('restart.active', { afterMs: outcome.elapsedMs }), facts: [], output: outcome.last.output }];
  }
  // The unit's own account of why it is not up, for the output tail.
  const status = await runProgram(argv.status, { ...programOptions(ctx, budget), timeoutMs: Math.min(5000, Math.max(1, budget.remainingMs())) });
  const fatal = outcome.last.fatal === true;
  const why = fatal ? outcome.last.detail : `not active within ${i.withinSeconds}s: last ${outcome.last.detail}`;
  const head = fatal ? say('restart.unitDown', { unit: i.unit }) : say('restart.notActive', { unit: i.unit, seconds: i.withinSeconds });
  const said = [head, ...(outcome.last.said ?? [say('text', { text: outcome.last.detail })])];
  return [restarted, { ok: false, summary: `unit ${i.unit} ${why}`, said, facts: [], output: status.output || outcome.last.output, timedOut: false }];
}

async function restartCompose(i: ComposeRestart, ctx: TypedActionContext, budget: Budget): Promise<Phase[]> {
  const dirProblem = await projectDirProblem(i);
  if (dirProblem !== undefined) return [refused(dirProblem)];
  const command = await resolveComposeCommand(ctx, budget);
  if ('said' in command) return [refused(command)];
  // The container before, so the thread shows that a new start happened (its start time changes).
  const before = await readStates(command, i, i.service, ctx, Math.max(1, Math.min(15_000, budget.remainingMs())));
  const argv = composeArgv(command, i);
  const facts = [{ label: 'restarted service', value: i.service }, ...targetFacts(i)];
  if (before.ok) for (const c of before.containers) facts.push({ label: 'before', value: `${c.name} ${stateValue(c)}` });
  const restart = await runProgram(argv, programOptions(ctx, budget, i.projectDir));
  if (!restart.ok) return [programPhase(restart, quoteArgv(argv), argvSaid(argv), [{ label: 'not restarted', value: i.service }])];
  const restarted: Phase = {
    ok: true,
    summary: `${i.rebuild ? 'rebuilt and recreated' : 'restarted'} compose service ${i.service} (${formatDuration(restart.durationMs)})`,
    said: say(i.rebuild ? 'restart.compose.rebuilt' : 'restart.compose', { service: i.service, tookMs: restart.durationMs }),
    facts,
    output: restart.output,
  };
  return [restarted, await runningPhase(command, i, i.service, i.withinSeconds, ctx, budget)];
}

async function restartKubernetes(i: KubernetesRestart, ctx: TypedActionContext, budget: Budget): Promise<Phase[]> {
  const target = `deployment/${i.deployment} in namespace ${i.namespace}`;
  const restartArgv = kubectlArgv(i, i.withinSeconds).restart;
  const restart = await runProgram(restartArgv, programOptions(ctx, budget));
  if (!restart.ok) return [programPhase(restart, quoteArgv(restartArgv), argvSaid(restartArgv), [{ label: 'not restarted', value: `deployment/${i.deployment}` }, { label: 'namespace', value: i.namespace }])];

  // kubectl waits by itself; its --timeout stays within what is left of the step, with a margin to report.
  const leftSeconds = Math.floor((budget.remainingMs() - 2000) / 1000);
  const waitSeconds = Math.max(1, Math.min(i.withinSeconds, leftSeconds));
  const statusArgv = kubectlArgv(i, waitSeconds).status;
  const status = await runProgram(statusArgv, { ...programOptions(ctx, budget), timeoutMs: Math.max(1, Math.min(budget.remainingMs(), waitSeconds * 1000 + 5000)) });
  const facts = [
    { label: 'restarted', value: `deployment/${i.deployment}` },
    { label: 'namespace', value: i.namespace },
    status.ok ? { label: 'rollout', value: lastLine(status.output) || '✅' } : { label: 'rollout not complete', value: reasonLine(status.output) || (status.failure ?? '') },
  ];
  const restarted: Phase = {
    ok: true,
    summary: `restarted ${target} (${formatDuration(restart.durationMs)})`,
    said: say('restart.kubernetes', { deployment: i.deployment, namespace: i.namespace, tookMs: restart.durationMs }),
    facts,
    output: restart.output,
  };
  const rollout = { ok: 'restart.rolledOut', failed: 'restart.rolloutFailed', params: { deployment: i.deployment, seconds: waitSeconds } } as const;
  return [restarted, programPhase(status, status.ok ? 'rolled out' : `rollout of deployment/${i.deployment} within ${waitSeconds}s`, rollout)];
}
