import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { composeCommandSetting } from '../domain/compose-command.js';
import { ConfigError } from '../domain/errors.js';
import { RUNNER_NAME } from '../runners/protocol.js';

/*
 * The runner's settings, from its own environment on the target host. The runner shares no
 * setting with the bot but the logging ones: it holds its own copy of the runbooks, its own token
 * and its own state, so that what runs on this host is decided here.
 */

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_.-]{0,62}$/;
/** The bot compares tokens in full; a short one is guessable. */
export const MIN_TOKEN_LENGTH = 24;

const splitList = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export const runnerEnvSchema = z.object({
  BOT_URL: z
    .url({ protocol: /^https?$/, error: (issue) => (issue.input === undefined ? 'required' : 'must be the http(s) URL of the bot, e.g. https://chatops.example.com') })
    .transform((v) => v.replace(/\/+$/, '')),
  RUNNER_NAME: z.string().regex(RUNNER_NAME, `must match ${RUNNER_NAME.source} (lower-case letters, digits, ".", "_", "-")`),
  RUNNER_TOKEN: z.string().trim().optional(),
  RUNNER_TOKEN_FILE: z.string().min(1).optional(),
  RUNNER_LABELS: z.string().default(''),
  RUNBOOKS_DIR: z
    .string()
    .transform(splitList)
    .refine((dirs) => dirs.length > 0, 'must name at least one directory'),
  RUNNER_STATE_DIR: z.string().min(1).default('./runner-state'),
  RUNNER_STOP_GRACE_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
  PROMETHEUS_URL: z.url().optional(),
  COMPOSE_COMMAND: composeCommandSetting,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  // Read by the entry point before this schema; listed so that it is documented and validated.
  ENV_FILE: z.string().min(1).optional(),
});

export interface RunnerConfig {
  /** The bot's base URL, without a trailing slash. */
  botUrl: string;
  name: string;
  token: string;
  /** What this runner advertises; `host` is the host name unless RUNNER_LABELS sets it. */
  labels: Record<string, string>;
  runbooksDirs: string[];
  /** Absolute. */
  stateDir: string;
  stopGraceMs: number;
  prometheusUrl: string | undefined;
  /** The compose program of its compose steps; none: detected on this host. */
  composeCommand: string[] | undefined;
  logLevel: z.output<typeof runnerEnvSchema>['LOG_LEVEL'];
  logFormat: z.output<typeof runnerEnvSchema>['LOG_FORMAT'];
  /** Values that must never appear in what the runner reports or logs. */
  secrets: string[];
}

/** `host=gitcortex-1,service=gitcortex` as labels, or the problems with it. */
export function parseLabels(text: string, hostname: string): { labels: Record<string, string> } | { problems: string[] } {
  const labels: Record<string, string> = { host: hostname };
  const problems: string[] = [];
  for (const pair of splitList(text)) {
    const at = pair.indexOf('=');
    const name = at < 0 ? pair : pair.slice(0, at).trim();
    const value = at < 0 ? '' : pair.slice(at + 1).trim();
    if (!LABEL_NAME.test(name)) problems.push(`label name ${JSON.stringify(name)} must match ${LABEL_NAME.source}`);
    else if (value === '' || value.length > 200) problems.push(`label ${name} needs a value of 1 to 200 characters (name=value)`);
    else labels[name] = value;
  }
  return problems.length > 0 ? { problems } : { labels };
}

function readTokenFile(file: string): string | string[] {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (error) {
    return [`RUNNER_TOKEN_FILE: cannot read ${JSON.stringify(file)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`];
  }
}

/** The token from RUNNER_TOKEN or the file RUNNER_TOKEN_FILE names (exactly one of them). */
function tokenOf(environment: Record<string, string | undefined>): string | string[] {
  const inline = environment.RUNNER_TOKEN?.trim();
  const file = environment.RUNNER_TOKEN_FILE;
  if (inline && file) return ['RUNNER_TOKEN: set RUNNER_TOKEN or RUNNER_TOKEN_FILE, not both'];
  if (!inline && !file) return ['RUNNER_TOKEN: required (or RUNNER_TOKEN_FILE, a file holding it): the token the bot lists for this runner in its RUNNERS_FILE'];
  const token = inline ?? readTokenFile(file ?? '');
  if (typeof token !== 'string') return token;
  const variable = inline ? 'RUNNER_TOKEN' : 'RUNNER_TOKEN_FILE';
  if (token.length < MIN_TOKEN_LENGTH) return [`${variable}: the token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 32)`];
  return token;
}

/** Parses the runner's environment; throws one ConfigError listing every problem, each naming its variable. */
export function loadRunnerConfig(raw: Record<string, string | undefined>, hostname = os.hostname()): RunnerConfig {
  // An empty variable means "not set", as for the bot.
  const environment = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = runnerEnvSchema.safeParse(environment, { error: (issue) => (issue.input === undefined ? 'required' : undefined) });
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  // Checked whatever else is wrong, so that one message lists every problem.
  const token = tokenOf(environment);
  if (typeof token !== 'string') problems.push(...token);
  const labelled = parseLabels(environment.RUNNER_LABELS ?? '', hostname);
  if ('problems' in labelled) problems.push(...labelled.problems.map((p) => `RUNNER_LABELS: ${p}`));
  if (!parsed.success || typeof token !== 'string' || 'problems' in labelled || problems.length > 0) {
    throw new ConfigError(`Invalid runner configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  const env = parsed.data;
  return {
    botUrl: env.BOT_URL,
    name: env.RUNNER_NAME,
    token,
    labels: labelled.labels,
    runbooksDirs: env.RUNBOOKS_DIR,
    stateDir: path.resolve(env.RUNNER_STATE_DIR),
    stopGraceMs: env.RUNNER_STOP_GRACE_SECONDS * 1000,
    prometheusUrl: env.PROMETHEUS_URL,
    composeCommand: env.COMPOSE_COMMAND,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    secrets: [token],
  };
}
