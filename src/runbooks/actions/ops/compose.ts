import { z } from 'zod';
import { runProgram } from '../program.js';
import { defineAction, type TypedActionContext } from '../typed-action.js';
import type { ResultMessage } from '../../../domain/result-message.js';
import { argvInput, budgetOf, factDuration, locationText, programPhase, refused, stepResult, text, withinSeconds, type Budget, type Phase } from './common.js';
import { argvSaid, problemOf, quoteArgv, say, type Problem } from './said.js';
import {
  composeBase,
  composeDir,
  composeTargetProblem,
  describeTarget,
  isUp,
  projectDirProblem,
  readStates,
  resolveComposeCommand,
  stateLine,
  stateValue,
  targetValue,
  waitForStates,
  waitedText,
  type Argv,
  type ComposeTarget,
} from './compose-engine.js';
import { describeFollowUpVerify, followUpSaid, followUpVerifyInputs } from './verify-inputs.js';
import { verifyPhase } from './verify.js';

/*
 * compose: one compose command on a project, with the program from COMPOSE_COMMAND (or detected),
 * so a runbook works on hosts with the v2 plugin and on hosts with docker-compose v1.
 *
 *   ps    the containers and their states (facts: each container's state and start time)
 *   logs  the last `tail` lines of a service's (or every service's) log
 *   stop  stop (a service, or the project), then check that nothing of it runs
 *   down  stop and remove the project's containers (named volumes are kept), then check
 *   start start stopped containers, then wait until running (bounded), then verify when given
 *   up    `up -d` (create what is missing, start it), then wait and verify like start
 *   exec  run a command in a service's running container (`exec -T`)
 */

const target = {
  /** The project directory (working directory); absent: the directory of `file`. */
  projectDir: locationText.optional(),
  /** The compose file (`-f`), absolute or relative to projectDir. */
  file: locationText.optional(),
  /** The project name (`-p`); absent: compose's own (the directory's name). */
  project: text.optional(),
};

export const composeInputs = z.discriminatedUnion('command', [
  z.strictObject({ command: z.literal('ps'), service: text.optional(), ...target }),
  z.strictObject({ command: z.literal('logs'), service: text.optional(), tail: z.int().min(1).max(10_000).default(100), ...target }),
  z.strictObject({ command: z.enum(['stop', 'down']), service: text.optional(), withinSeconds: withinSeconds(60), ...target }),
  z.strictObject({ command: z.enum(['start', 'up']), service: text.optional(), withinSeconds: withinSeconds(60), verify: followUpVerifyInputs.optional(), ...target }),
  z.strictObject({ command: z.literal('exec'), service: text, run: argvInput, ...target }),
]);

export type ComposeInputs = z.output<typeof composeInputs>;

/** The subcommand's own argv after the program and global options. */
export function composeSubcommand(i: ComposeInputs): string[] {
  const service = i.service !== undefined ? [i.service] : [];
  switch (i.command) {
    case 'ps':
      return ['ps', '-a', ...service];
    case 'logs':
      return ['logs', '--no-color', `--tail=${i.tail}`, ...service];
    case 'stop':
    case 'start':
      return [i.command, ...service];
    case 'down':
      return ['down'];
    case 'up':
      return ['up', '-d', ...service];
    case 'exec':
      return ['exec', '-T', i.service, ...i.run];
  }
}

function inputsProblem(i: ComposeInputs): Problem | undefined {
  if (i.command === 'down' && i.service !== undefined) return problemOf('down takes no service (it removes the whole project); use stop for one service', 'compose.downService');
  return composeTargetProblem(i, i.service);
}

/** "will run compose stop backend in /opt/app and check that it is stopped (60s)" */
export function describeCompose(i: ComposeInputs): string {
  const what = i.service !== undefined ? `service ${i.service}` : 'the project';
  const where = `in ${describeTarget(i)}`;
  switch (i.command) {
    case 'ps':
      return `will list the containers of ${what} ${where} and their states`;
    case 'logs':
      return `will show the last ${i.tail} log lines of ${what} ${where}`;
    case 'stop':
      return `will stop ${what} ${where} and check that it is stopped (${i.withinSeconds}s)`;
    case 'down':
      return `will stop and remove the containers of the project ${where} (volumes are kept) and check that none runs (${i.withinSeconds}s)`;
    case 'start':
    case 'up':
      return `will ${i.command === 'up' ? 'bring up (up -d)' : 'start'} ${what} ${where} and wait until running (${i.withinSeconds}s)${describeFollowUpVerify(i.verify)}`;
    case 'exec':
      return `will run ${quoteArgv(i.run)} in the ${i.service} container ${where}`;
  }
}

/** The description as a code: one per command, for a service or (`.all`) the whole project. */
export function describeComposeSaid(i: ComposeInputs): ResultMessage {
  const target = targetValue(i);
  const service = i.service ?? '';
  const all = i.service === undefined;
  switch (i.command) {
    case 'ps':
      return say(all ? 'describe.compose.psAll' : 'describe.compose.ps', { service, target });
    case 'logs':
      return say(all ? 'describe.compose.logsAll' : 'describe.compose.logs', { service, target, tail: i.tail });
    case 'stop':
      return say(all ? 'describe.compose.stopAll' : 'describe.compose.stop', { service, target, within: i.withinSeconds });
    case 'down':
      return say('describe.compose.down', { target, within: i.withinSeconds });
    case 'start':
    case 'up': {
      const params = { service, target, within: i.withinSeconds, ...followUpSaid(i.verify) };
      if (i.command === 'up') return say(all ? 'describe.compose.upAll' : 'describe.compose.up', params);
      return say(all ? 'describe.compose.startAll' : 'describe.compose.start', params);
    }
    case 'exec':
      return say('describe.compose.exec', { argv: quoteArgv(i.run), service: i.service, target });
  }
}

/** "service x" or "the project" in a part said as a code: its code, or its `.all` twin, and the service. */
function forWhat(code: 'compose.stopped' | 'compose.stillRunning' | 'compose.statesUnread' | 'compose.notRunning', service: string | undefined, params: Record<string, string | number> = {}): ResultMessage {
  return service !== undefined ? say(code, { service, ...params }) : say(`${code}All`, params);
}

async function composePhases(i: ComposeInputs, ctx: TypedActionContext, budget: Budget): Promise<Phase[]> {
  const problem = inputsProblem(i) ?? (await projectDirProblem(i));
  if (problem !== undefined) return [refused(problem)];
  const command = await resolveComposeCommand(ctx, budget);
  if ('said' in command) return [refused(command)];
  const t: ComposeTarget = i;
  const argv: Argv = [...composeBase(command, t), ...composeSubcommand(i)];
  const options = { timeoutMs: Math.max(1, budget.remainingMs()), signal: ctx.signal, env: ctx.programEnv, cwd: composeDir(t), onSpawn: ctx.onSpawn };
  const run = await runProgram(argv, options);
  const facts = [
    { label: 'compose', value: quoteArgv(argv) },
    { label: 'project directory', value: composeDir(t) },
  ];
  const phase = programPhase(run, quoteArgv(argv), argvSaid(argv), facts);
  if (!run.ok) return [phase];

  switch (i.command) {
    case 'logs':
    case 'exec':
      return [phase];
    case 'ps': {
      // The table for people, the states as facts (both compose versions print different tables).
      const read = await readStates(command, t, i.service, ctx, Math.max(1, Math.min(15_000, budget.remainingMs())));
      const states = read.ok ? read.containers.map((c) => ({ label: c.name, value: stateValue(c) })) : [];
      if (!read.ok) states.push({ label: 'states not read', value: read.problem ?? '—' });
      if (!read.ok) return [{ ...phase, facts: [...facts, ...states] }];
      const count = read.containers.length;
      const list = read.containers.map(stateLine).join(', ');
      const said = count === 0 ? say('compose.psNone') : say('compose.ps', { count, states: list });
      return [{ ...phase, summary: `${count} containers: ${list || 'none'}`, said, facts: [...facts, ...states] }];
    }
    case 'stop':
    case 'down': {
      const wait = await waitForStates(command, t, i.service, { withinSeconds: i.withinSeconds, want: (c) => c.status !== 'running' && c.status !== 'restarting', wantSome: false }, ctx, budget);
      const what = i.service !== undefined ? `service ${i.service}` : 'the project';
      if (wait.ok) {
        const facts = [
          { label: 'containers', value: wait.detail },
          { label: 'waited', value: factDuration(wait.elapsedMs) },
          { label: 'checks', value: String(wait.attempts) },
        ];
        const stopped = i.command === 'down' ? say('compose.downAll') : forWhat('compose.stopped', i.service);
        return [phase, { ok: true, summary: `${what} stopped: ${wait.detail}`, said: [stopped, ...wait.said], facts, output: '' }];
      }
      const why = wait.fatal ? `state not read: ${wait.detail}` : `still running after ${i.withinSeconds}s: ${wait.detail}`;
      const head = wait.fatal ? forWhat('compose.statesUnread', i.service) : forWhat('compose.stillRunning', i.service, { seconds: i.withinSeconds });
      return [phase, { ok: false, summary: `${what} ${why}`, said: [head, ...wait.said], facts: [], output: '' }];
    }
    case 'start':
    case 'up': {
      const phases = [phase, await runningPhase(command, t, i.service, i.withinSeconds, ctx, budget)];
      if (phases.every((p) => p.ok) && i.verify !== undefined) phases.push(await verifyPhase(i.verify, ctx, budget, 'verify '));
      return phases;
    }
  }
}

/**
 * Waits until the containers run (healthy, when they have a health check), within `withinSeconds`.
 * Not running in time: the summary says what was last seen, and the output tail is the service's log.
 */
export async function runningPhase(command: readonly string[], t: ComposeTarget, service: string | undefined, within: number, ctx: TypedActionContext, budget: Budget): Promise<Phase> {
  const wait = await waitForStates(command, t, service, { withinSeconds: within, want: isUp, wantSome: true }, ctx, budget);
  const facts = wait.containers.map((c) => ({ label: c.name, value: `${stateValue(c)}, ${c.id.slice(0, 12)}` }));
  if (wait.ok) return { ok: true, summary: waitedText(wait, 'running'), said: say('compose.running', { afterMs: wait.elapsedMs, checks: wait.attempts }), facts, output: '' };
  const what = service !== undefined ? `service ${service}` : 'the project';
  const why = wait.fatal ? wait.detail : `not running within ${within}s: last ${wait.detail}`;
  const head = wait.fatal ? forWhat('compose.statesUnread', service) : forWhat('compose.notRunning', service, { seconds: within });
  // The containers' own account of why, for the output tail.
  const logsArgv: Argv = [...composeBase(command, t), 'logs', '--no-color', '--tail=20', ...(service !== undefined ? [service] : [])];
  const logs = wait.fatal ? undefined : await runProgram(logsArgv, { timeoutMs: Math.max(1, Math.min(5000, budget.remainingMs())), signal: ctx.signal, env: ctx.programEnv, cwd: composeDir(t) });
  return { ok: false, summary: `${what} ${why}`, said: [head, ...wait.said], facts, output: logs?.output ?? '' };
}

export const composeAction = defineAction({
  name: 'compose',
  summary: 'Runs one compose command on a project (ps, logs, stop, down, start, up, exec) with the configured compose program; start and up wait until running.',
  inputs: composeInputs,
  describe: describeCompose,
  describeSaid: describeComposeSaid,
  async run(inputs, ctx) {
    const started = performance.now();
    return stepResult(await composePhases(inputs, ctx, budgetOf(ctx)), ctx, started);
  },
});
