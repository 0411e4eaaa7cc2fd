import path from 'node:path';
import { stat } from 'node:fs/promises';
import { runProgram, type ProgramRun } from '../program.js';
import type { TypedActionContext } from '../typed-action.js';
import type { ResultMessage } from '../../../domain/result-message.js';
import type { StepFact } from '../types.js';
import { formatDuration, nameProblem, plural, pollUntil, type Attempt, type Budget } from './common.js';
import { problemOf, programProblem, programProblemSaid, quoteArgv, say, type Problem } from './said.js';

/*
 * What the compose steps (the `compose` action and `restart` with `kind: compose`) share: which
 * compose program runs, the argv it is given, and the state of a project's containers.
 *
 * Compose comes in two forms: the v2 plugin (`docker compose`) and the v1 program
 * (`docker-compose`, still what Debian packages and what several manuals spell). COMPOSE_COMMAND
 * picks one; unset, the first that answers `version` is used. Both take the same global options
 * (-f, -p) and the same subcommands used here, but only v2 has `ps --format json`, so container
 * states come from `ps -a -q` (container ids, both versions) and `docker inspect`.
 */

export type Argv = [string, ...string[]];

/** Where a compose project is: its directory (the programs' working directory), file and name. */
export interface ComposeTarget {
  /** The project directory; absent: the directory of `file`, which must then be absolute. */
  projectDir?: string | undefined;
  /** `-f`, relative to projectDir; absent: compose's own lookup in projectDir. */
  file?: string | undefined;
  /** `-p`; absent: compose names the project after its directory. */
  project?: string | undefined;
}

const COMPOSE_SERVICE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/u;
const COMPOSE_PROJECT = /^[a-z0-9][a-z0-9_-]*$/u;

/** Why a rendered target or service cannot be used, or undefined. */
export function composeTargetProblem(t: ComposeTarget, service?: string): Problem | undefined {
  if (service !== undefined) {
    const problem = nameProblem(service, 'service', COMPOSE_SERVICE, 'letters, digits and _ . -');
    if (problem !== undefined) return problem;
  }
  if (t.project !== undefined) {
    const problem = nameProblem(t.project, 'project', COMPOSE_PROJECT, 'lower-case letters, digits, _ and -');
    if (problem !== undefined) return problem;
  }
  if (t.file?.startsWith('-') === true) return problemOf('file may not start with "-"', 'compose.fileDash');
  if (t.projectDir === undefined && (t.file === undefined || !path.isAbsolute(t.file))) {
    return problemOf('give projectDir, or a file with an absolute path (its directory is the project directory)', 'compose.noDir');
  }
  return undefined;
}

/** The working directory of the compose programs. */
export function composeDir(t: ComposeTarget): string {
  return t.projectDir ?? path.dirname(t.file ?? '.');
}

/** "/opt/app (file docker-compose.prod.yml, project app)", for descriptions and facts. */
export function describeTarget(t: ComposeTarget): string {
  const extras = [...(t.file !== undefined ? [`file ${t.file}`] : []), ...(t.project !== undefined ? [`project ${t.project}`] : [])];
  return t.projectDir === undefined ? `${t.file ?? ''}${t.project !== undefined ? ` (project ${t.project})` : ''}` : `${t.projectDir}${extras.length > 0 ? ` (${extras.join(', ')})` : ''}`;
}

/** The same as a value that reads alike in every language: "/opt/app -f docker-compose.prod.yml -p app". */
export function targetValue(t: ComposeTarget): string {
  return [t.projectDir ?? '', ...(t.file !== undefined ? ['-f', t.file] : []), ...(t.project !== undefined ? ['-p', t.project] : [])].filter((x) => x !== '').join(' ');
}

/** The findings that name a project: its directory, and its file and name when given. */
export function targetFacts(t: ComposeTarget): StepFact[] {
  return [
    { label: 'project directory', value: composeDir(t) },
    ...(t.file !== undefined ? [{ label: 'compose file', value: t.file }] : []),
    ...(t.project !== undefined ? [{ label: 'project name', value: t.project }] : []),
  ];
}

/** The compose program and its global options: `docker compose -p app -f x.yml`. */
export function composeBase(command: readonly string[], t: ComposeTarget): Argv {
  const [program = 'docker', ...rest] = command;
  return [program, ...rest, ...(t.project !== undefined ? ['-p', t.project] : []), ...(t.file !== undefined ? ['-f', t.file] : [])];
}

/** The docker CLI that inspects containers: the compose command's own when it is `docker …`. */
export function dockerProgram(command: readonly string[]): string {
  const [program = 'docker'] = command;
  return path.basename(program) === 'docker' ? program : 'docker';
}

const CANDIDATES: Argv[] = [
  ['docker', 'compose'],
  ['docker-compose'],
];

/** Detected commands by PATH: detection runs `version`, which is cheap but not free. Failures are not kept. */
const detected = new Map<string, Argv>();

/**
 * The compose command to use: COMPOSE_COMMAND when set, else the first of `docker compose` and
 * `docker-compose` whose `version` succeeds. A string says why there is none.
 */
export async function resolveComposeCommand(ctx: TypedActionContext, budget: Budget): Promise<Argv | Problem> {
  const configured = ctx.settings?.composeCommand;
  if (configured !== undefined && configured.length > 0) return [configured[0] ?? 'docker', ...configured.slice(1)];
  const key = ctx.programEnv.PATH ?? '';
  const known = detected.get(key);
  if (known !== undefined) return known;
  const tried: string[] = [];
  for (const candidate of CANDIDATES) {
    const timeoutMs = Math.max(1, Math.min(10_000, budget.remainingMs()));
    const run = await runProgram([...candidate, 'version'] as Argv, { timeoutMs, signal: ctx.signal, env: ctx.programEnv });
    if (run.ok) {
      detected.set(key, candidate);
      return candidate;
    }
    tried.push(`${quoteArgv([...candidate, 'version'])}: ${programProblem(run)}`);
  }
  return problemOf(`no compose program works here (${tried.join('; ')}); install the compose plugin or docker-compose, or set COMPOSE_COMMAND`, 'compose.noProgram', { tried: tried.join('; ') });
}

/** Forgets detected commands (tests that change PATH between runs). */
export function forgetDetectedCompose(): void {
  detected.clear();
}

// ---------------------------------------------------------------------------------------------
// Container states

export interface ContainerState {
  id: string;
  name: string;
  service: string;
  /** created, running, restarting, exited, paused, dead */
  status: string;
  /** '' without a health check, else starting, healthy or unhealthy. */
  health: string;
  startedAt: string;
  exitCode: number;
}

/** Containers from `docker inspect` (a JSON array); one-off `run` containers left out. Undefined when unreadable. */
export function parseInspect(stdout: string): ContainerState[] | undefined {
  try {
    const items = JSON.parse(stdout) as unknown;
    if (!Array.isArray(items)) return undefined;
    return items
      .map((item) => (item ?? {}) as Record<string, Record<string, unknown> | undefined>)
      .filter((o) => (o.Config?.Labels as Record<string, string> | undefined)?.['com.docker.compose.oneoff'] !== 'True')
      .map((o) => {
        const state = o.State ?? {};
        const str = (v: unknown) => (typeof v === 'string' ? v : '');
        const labels = (o.Config?.Labels ?? {}) as Record<string, unknown>;
        const health = (state.Health ?? {}) as Record<string, unknown>;
        return {
          id: str(o.Id),
          name: str(o.Name).replace(/^\//u, ''),
          service: str(labels['com.docker.compose.service']),
          status: str(state.Status),
          health: str(health.Status),
          startedAt: str(state.StartedAt),
          exitCode: typeof state.ExitCode === 'number' ? state.ExitCode : 0,
        };
      });
  } catch {
    return undefined;
  }
}

/** Running, and healthy when the container has a health check. */
export function isUp(c: ContainerState): boolean {
  return c.status === 'running' && (c.health === '' || c.health === 'healthy');
}

/** A container's state as a finding's value: "running (healthy), 2024-05-01T10:00:00Z" (Docker's own words). */
export function stateValue(c: ContainerState): string {
  return `${c.status}${c.health !== '' ? ` (${c.health})` : ''}, ${c.startedAt}`;
}

/** "opentruss_backend_1 running (healthy)", "x exited (1)" */
export function stateLine(c: ContainerState): string {
  const detail = c.status === 'exited' ? ` (${c.exitCode})` : c.health !== '' ? ` (${c.health})` : '';
  return `${c.name || c.id.slice(0, 12)} ${c.status}${detail}`;
}

export interface StatesRead {
  ok: boolean;
  containers: ContainerState[];
  /** Why they could not be read. */
  problem?: string;
  /** The same said in parts. */
  problemSaid?: ResultMessage[];
  /** Retrying cannot help (no such program). */
  fatal?: boolean;
  output: string;
}

/** The project's containers (of `service` when given), read once. */
export async function readStates(command: readonly string[], t: ComposeTarget, service: string | undefined, ctx: TypedActionContext, timeoutMs: number): Promise<StatesRead> {
  const options = { timeoutMs, signal: ctx.signal, env: ctx.programEnv, cwd: composeDir(t), onSpawn: ctx.onSpawn };
  const psArgv: Argv = [...composeBase(command, t), 'ps', '-a', '-q', ...(service !== undefined ? [service] : [])];
  const ps = await runProgram(psArgv, options);
  if (!ps.ok) return { ok: false, containers: [], problem: programProblem(ps), problemSaid: programProblemSaid(ps), fatal: couldNotStart(ps), output: ps.output };
  const ids = ps.stdout.split(/\s+/u).filter((id) => /^[0-9a-f]{12,64}$/u.test(id));
  if (ids.length === 0) return { ok: true, containers: [], output: ps.output };
  const inspectArgv: Argv = [dockerProgram(command), 'inspect', '--type', 'container', ...ids];
  const inspect = await runProgram(inspectArgv, options);
  if (!inspect.ok) return { ok: false, containers: [], problem: programProblem(inspect), problemSaid: programProblemSaid(inspect), fatal: couldNotStart(inspect), output: inspect.output };
  const containers = parseInspect(inspect.stdout);
  if (containers === undefined) {
    const argv = quoteArgv(inspectArgv);
    return { ok: false, containers: [], problem: `cannot read the output of ${argv}`, problemSaid: [say('compose.unreadable', { argv })], fatal: true, output: inspect.output };
  }
  return { ok: true, containers, output: ps.output };
}

export function couldNotStart(run: ProgramRun): boolean {
  return run.failure?.startsWith('could not start') === true;
}

/** How long one read of the containers' states may take. */
const READ_MS = 15_000;

export interface WaitOutcome {
  ok: boolean;
  /** The states last seen, or why they could not be read. */
  detail: string;
  /** The same said in parts. */
  said: ResultMessage[];
  containers: ContainerState[];
  elapsedMs: number;
  attempts: number;
  fatal: boolean;
}

/**
 * Polls the containers until `want` holds for every one (and there is at least one, when
 * `wantSome`), within `withinSeconds` and the step's budget.
 */
export async function waitForStates(
  command: readonly string[],
  t: ComposeTarget,
  service: string | undefined,
  o: { withinSeconds: number; want: (c: ContainerState) => boolean; wantSome: boolean },
  ctx: TypedActionContext,
  budget: Budget,
): Promise<WaitOutcome> {
  let containers: ContainerState[] = [];
  const what = service !== undefined ? `service ${service}` : 'the project';
  const outcome = await pollUntil(
    async (timeoutMs): Promise<Attempt> => {
      // A read is two programs (docker-compose v1 alone takes a second to start): it may outlast a short window.
      const read = await readStates(command, t, service, ctx, Math.max(timeoutMs, Math.min(READ_MS, budget.remainingMs())));
      if (!read.ok) return { ok: false, fatal: read.fatal === true, detail: read.problem ?? 'unreadable', said: read.problemSaid ?? [say('compose.unreadableStates')], output: read.output };
      containers = read.containers;
      if (containers.length === 0) {
        const none = service !== undefined ? say('compose.noContainers', { service }) : say('compose.noContainersAll');
        return { ok: !o.wantSome, detail: `no containers for ${what}`, said: [none], output: read.output };
      }
      const states = containers.map(stateLine).join(', ');
      return { ok: containers.every(o.want), detail: states, said: [say('compose.states', { states })], output: read.output };
    },
    { intervalMs: 500, withinMs: o.withinSeconds * 1000, budget },
  );
  const said = outcome.last.said ?? [say('text', { text: outcome.last.detail })];
  return { ok: outcome.ok, detail: outcome.last.detail, said, containers, elapsedMs: outcome.elapsedMs, attempts: outcome.attempts, fatal: outcome.last.fatal === true };
}

/** "running after 1.2 s (3 checks)" */
export function waitedText(w: WaitOutcome, state: string): string {
  return `${state} after ${formatDuration(w.elapsedMs)} (${plural(w.attempts, 'check')})`;
}

/** Whether the project directory exists; a problem says why it cannot be used. */
export async function projectDirProblem(t: ComposeTarget): Promise<Problem | undefined> {
  const dir = composeDir(t);
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  return isDir ? undefined : problemOf(`the compose project directory ${dir} does not exist or is not a directory`, 'compose.noProjectDir', { dir });
}
