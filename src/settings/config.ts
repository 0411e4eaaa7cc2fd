import path from 'node:path';
import { z } from 'zod';
import { composeCommandSetting } from '../domain/compose-command.js';
import { ConfigError } from '../domain/errors.js';
import { LOCALES, isTimeZone, type LocaleSetting } from '../core/i18n/index.js';
import { dingTalkConfig, feishuConfig, type DingTalkConfig, type FeishuConfig } from './chat-platforms.js';

export { WEBHOOK_CHANNEL, type DingTalkConfig, type FeishuConfig } from './chat-platforms.js';

// Over 300 lines: every environment variable is validated here, in one schema, so that the
// README's configuration table can be checked against a single source.

/**
 * Every setting the bot reads, validated at start-up. This is the only module that knows the
 * environment's variable names; everything else receives a `Config`.
 */
const optionalSecret = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

/** A secret that guards something: empty means unset, anything shorter than `min` is refused, naming why. */
const longSecret = (min: number, guards: string) =>
  z
    .string()
    .trim()
    .refine((v) => v === '' || v.length >= min, `must be at least ${min} characters (${guards})`)
    .transform((v) => (v === '' ? undefined : v))
    .optional();

const splitList = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const commaList = z.string().default('').transform(splitList);

export const envSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
    LOCALE: z.enum(LOCALES).default('en'),
    // The zone every time in chat is shown in; Node reads TZ too, so the process's own clock agrees.
    // glibc's ":Asia/Shanghai" form names the same zone; a file path (":/etc/localtime") names none.
    TZ: z
      .string()
      .trim()
      .transform((v) => v.replace(/^:/, ''))
      .refine(isTimeZone, 'must be an IANA time zone, e.g. UTC or Asia/Shanghai')
      .default('UTC'),
    // Read by the entry point before this schema (it says where the other settings come from);
    // listed here so that it is documented and validated like the rest.
    ENV_FILE: z.string().min(1).optional(),
    DATABASE_URL: z.string().min(1).default('sqlite:./data/bot.db'),
    RUNBOOKS_DIR: z
      .string()
      .default('manifests/runbooks')
      .transform(splitList)
      .refine((dirs) => dirs.length > 0, 'must name at least one directory'),
    ALERTMANAGER_WEBHOOK_TOKEN: optionalSecret,
    WEBHOOK_MAX_BYTES: z.coerce.number().int().positive().default(8 * 1024 * 1024),
    INGEST_QUEUE_ABOVE: z.coerce.number().int().min(0).default(4),
    INBOX_LIMIT: z.coerce.number().int().positive().default(100_000),
    STORM_DIGEST_AFTER_SECONDS: z.coerce.number().positive().max(3600).default(5),
    STORM_CARDS_PER_MINUTE: z.coerce.number().int().min(0).default(0),
    // A hold of commits so that the WAL can start again costs the webhooks waiting through it 5 to
    // 60 ms: at 256 MB, ingest at 2,000/s (80 MB of WAL a second) met one every 3 s and its p99 went
    // from about 16 to 26 ms; at 1 GB it is one every 12 s, under the p99.
    SQLITE_WAL_LIMIT_MB: z.coerce.number().int().min(16).default(1024),
    SLACK_BOT_TOKEN: optionalSecret,
    SLACK_SIGNING_SECRET: optionalSecret,
    SLACK_ALERT_CHANNEL: optionalSecret,
    SLACK_API_URL: z.url().optional(),
    DISCORD_BOT_TOKEN: optionalSecret,
    DISCORD_APPLICATION_ID: optionalSecret,
    DISCORD_PUBLIC_KEY: z
      .string()
      .trim()
      .regex(/^([0-9a-fA-F]{64})?$/, 'must be the 64 hex characters of the application public key')
      .transform((v) => (v === '' ? undefined : v))
      .optional(),
    DISCORD_ALERT_CHANNEL_ID: optionalSecret,
    DISCORD_GUILD_ID: optionalSecret,
    DISCORD_API_URL: z.url().optional(),
    DISCORD_MODE: z.enum(['http', 'gateway']).default('http'),
    DINGTALK_CLIENT_ID: optionalSecret,
    DINGTALK_CLIENT_SECRET: optionalSecret,
    DINGTALK_ROBOT_CODE: optionalSecret,
    DINGTALK_ALERT_CONVERSATION_ID: optionalSecret,
    DINGTALK_API_URL: z.url().default('https://api.dingtalk.com'),
    DINGTALK_OAPI_URL: z.url().default('https://oapi.dingtalk.com'),
    DINGTALK_WEBHOOK_URL: z.url().optional(),
    DINGTALK_WEBHOOK_SECRET: optionalSecret,
    // DingTalk's limit is 20 a minute per robot; an organisation with a larger quota may raise it.
    DINGTALK_MESSAGES_PER_MINUTE: z.coerce.number().int().min(1).max(6000).default(20),
    FEISHU_APP_ID: optionalSecret,
    FEISHU_APP_SECRET: optionalSecret,
    FEISHU_ALERT_CHAT_ID: optionalSecret,
    FEISHU_DOMAIN: z
      .string()
      .trim()
      .refine((v) => v === 'feishu' || v === 'lark' || URL.canParse(v), 'must be feishu, lark or the open platform\'s base URL')
      .default('feishu'),
    FEISHU_WEBHOOK_URL: z.url().optional(),
    FEISHU_WEBHOOK_SECRET: optionalSecret,
    CONSOLE_PUBLIC_URL: z.url().optional(),
    ROUTES_FILE: z.string().min(1).optional(),
    APPROVERS: commaList,
    POLICY_FILE: z.string().min(1).optional(),
    ESCALATION_FILE: z.string().min(1).optional(),
    SCHEDULES_FILE: z.string().min(1).optional(),
    PROMETHEUS_URL: z.url().optional(),
    COMPOSE_COMMAND: composeCommandSetting,
    ALERTMANAGER_URL: z.url().optional(),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
    CONSOLE: z.enum(['auto', 'on', 'off']).default('auto'),
    CONSOLE_TOKEN: longSecret(16, 'it guards the console when the bot listens beyond loopback'),
    METRICS_TOKEN: longSecret(16, 'it guards /metrics'),
    DEMO_PORT: z.coerce.number().int().min(1).max(65535).default(3080),
    AUDIT_KEY: longSecret(32, 'it seals the audit trail; e.g. openssl rand -hex 32'),
    AUDIT_KEY_FILE: z.string().min(1).optional(),
    AUDIT_SEAL_FILE: z.string().min(1).optional(),
    RUNNERS_FILE: z.string().min(1).optional(),
    RUNNER_HEARTBEAT_TIMEOUT_SECONDS: z.coerce.number().min(1).max(600).default(30),
  });

const SLACK_VARIABLES = ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_ALERT_CHANNEL'] as const;
const DISCORD_VARIABLES = ['DISCORD_BOT_TOKEN', 'DISCORD_APPLICATION_ID', 'DISCORD_ALERT_CHANNEL_ID'] as const;
const DINGTALK_VARIABLES = ['DINGTALK_CLIENT_ID', 'DINGTALK_CLIENT_SECRET', 'DINGTALK_ALERT_CONVERSATION_ID'] as const;
const FEISHU_VARIABLES = ['FEISHU_APP_ID', 'FEISHU_APP_SECRET', 'FEISHU_ALERT_CHAT_ID'] as const;

/**
 * Checks that span several variables. They run on the raw environment, separately from the
 * per-variable schema, so one message lists every problem even when some variable is also invalid.
 */
function crossFieldProblems(environment: Record<string, string | undefined>): string[] {
  const isSet = (name: string) => (environment[name] ?? '').trim() !== '';
  const problems: string[] = [];
  for (const [platform, names] of [
    ['Slack', SLACK_VARIABLES],
    ['Discord', DISCORD_VARIABLES],
    ['the DingTalk app', DINGTALK_VARIABLES],
    ['the Feishu app', FEISHU_VARIABLES],
  ] as const) {
    const set = names.filter(isSet);
    if (set.length > 0 && set.length < names.length) {
      for (const name of names.filter((n) => !isSet(n))) problems.push(`${name}: required when ${set.join(', ')} is set (${platform} needs all three)`);
    }
  }
  for (const [app, webhook] of [
    ['DINGTALK_CLIENT_ID', 'DINGTALK_WEBHOOK_URL'],
    ['FEISHU_APP_ID', 'FEISHU_WEBHOOK_URL'],
  ] as const) {
    if (isSet(app) && isSet(webhook)) problems.push(`${webhook}: set either ${app} (interactive cards) or ${webhook} (one-way), not both`);
  }
  if (isSet('DISCORD_BOT_TOKEN') && (environment.DISCORD_MODE ?? 'http') === 'http' && !isSet('DISCORD_PUBLIC_KEY')) {
    problems.push('DISCORD_PUBLIC_KEY: required in http mode, to verify the signature of every interaction (or set DISCORD_MODE=gateway)');
  }
  const databaseUrl = environment.DATABASE_URL;
  if (databaseUrl !== undefined && !SQLITE_URL.test(databaseUrl) && !POSTGRES_URL.test(databaseUrl)) {
    problems.push('DATABASE_URL: must be sqlite:<path> (the embedded store) or postgres://user@host:port/database');
  } else if (databaseUrl !== undefined && POSTGRES_URL.test(databaseUrl) && !URL.canParse(databaseUrl)) {
    problems.push('DATABASE_URL: not a valid postgres:// URL');
  }
  return problems;
}

export type Env = z.infer<typeof envSchema>;

const SQLITE_URL = /^(sqlite:|file:|\/|\.)/;
const POSTGRES_URL = /^postgres(ql)?:\/\//;

/** Where incidents are stored: an embedded SQLite file, or a PostgreSQL database that several replicas share. */
export type DatabaseConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

function databaseConfig(url: string): DatabaseConfig {
  return POSTGRES_URL.test(url) ? { kind: 'postgres', url } : { kind: 'sqlite', path: url.replace(/^(sqlite|file):(\/\/)?/, '') };
}

/** The database as it may be logged: a PostgreSQL URL without its password. */
export function describeDatabase(database: DatabaseConfig): string {
  if (database.kind === 'sqlite') return database.path;
  const url = new URL(database.url);
  if (url.password !== '') url.password = '***';
  return url.toString();
}

export interface SlackConfig {
  botToken: string;
  signingSecret: string;
  alertChannel: string;
  apiUrl: string | undefined;
}

export interface DiscordConfig {
  botToken: string;
  applicationId: string;
  alertChannelId: string;
  /** Verifies interactions in http mode. */
  publicKey: string | undefined;
  guildId: string | undefined;
  apiUrl: string | undefined;
  mode: 'http' | 'gateway';
}

/** The local web console: a chat adapter served by the bot itself (see src/bot/console). */
export interface ConsoleConfig {
  /** auto: interactive without Slack/Discord, read-only with them; on: interactive; off: not served. */
  mode: 'auto' | 'on' | 'off';
  /** Required when the bot listens beyond loopback; when set it is always required. */
  token: string | undefined;
  /** The port of the demo shop the built-in sample alert points at (its `instance` label). */
  demoPort: number;
  /** CONSOLE_PUBLIC_URL: the bot's address as chat users reach it (card buttons, links to a step's full output). */
  publicUrl?: string | undefined;
}

/**
 * Sealing the audit trail (src/core/audit-seal.ts): the key and the seal file live outside the
 * database, so that whoever can rewrite the database cannot make the rewrite verify.
 */
export interface AuditSealConfig {
  /** AUDIT_KEY; when unset, the key is read from (or generated into) `keyFile`. */
  key: string | undefined;
  keyFile: string;
  /** The append-only file of sealed chain heads. */
  sealFile: string;
}

export interface Config {
  port: number;
  host: string;
  logLevel: Env['LOG_LEVEL'];
  /** auto: human-readable lines on a terminal, JSON otherwise. */
  logFormat: Env['LOG_FORMAT'];
  /** The language of every text the bot writes (LOCALE) and the zone its times are shown in (TZ). */
  locale: LocaleSetting;
  database: DatabaseConfig;
  /** Runbook manifest directories, loaded in order (names unique across them). */
  runbooksDirs: string[];
  webhookToken: string | undefined;
  webhookMaxBytes: number;
  /** More webhook notifications than this being recorded at once, and new ones are acknowledged into the inbox first (0: always). */
  ingestQueueAbove: number;
  /** Notifications waiting in the inbox past which the webhook answers 503. */
  inboxLimit: number;
  /** Storm digests: a channel whose new cards would take longer than this at its pace gets one; cards per minute meanwhile (0: its full pace). */
  storms: { digestAfterSeconds: number; cardsPerMinute: number; consoleUrl: string | undefined };
  /** SQLite: the size past which the WAL is started again under sustained writes (see SqliteStore), in MB. */
  sqliteWalLimitMb: number;
  slack: SlackConfig | undefined;
  discord: DiscordConfig | undefined;
  dingtalk: DingTalkConfig | undefined;
  feishu: FeishuConfig | undefined;
  /** Channel routing by alert labels (YAML); none: the default channels. */
  routesFile: string | undefined;
  /** User or group ids allowed to approve when there is no policy file; empty means anyone but the requester. */
  approvers: string[];
  /** The approval policy file (YAML); when set, APPROVERS is ignored. */
  policyFile: string | undefined;
  /** Escalation of unacknowledged incidents (YAML); none: built-in timings, nobody mentioned. */
  escalationFile: string | undefined;
  /** Scheduled jobs (YAML): runbook steps, checklists, retention; none: no jobs. */
  schedulesFile: string | undefined;
  shutdownTimeoutMs: number;
  /** Prometheus base URL for `verify` steps with `kind: prometheus` that give none. */
  prometheusUrl: string | undefined;
  /** The compose program of compose steps run in the bot (`docker compose`, `docker-compose`); none: detected. */
  composeCommand: string[] | undefined;
  /** Alertmanager base URL for silences made from chat; none: no silence button or command. */
  alertmanagerUrl: string | undefined;
  console: ConsoleConfig;
  audit: AuditSealConfig;
  /** The bearer token /metrics needs; none: the console's token (CONSOLE_TOKEN) guards it. */
  metricsToken: string | undefined;
  /** Runners the bot accepts (YAML); none: every step runs in the bot and a step naming a runner fails. */
  runnersFile: string | undefined;
  /** A runner silent for longer is disconnected, and a step it was running is reported interrupted. */
  runnerHeartbeatTimeoutMs: number;
  /** Values that must never appear in output, logs or chat. */
  secrets: string[];
}

/** Parses the environment; throws one ConfigError listing every problem. */
export function loadConfig(raw: Record<string, string | undefined>): Config {
  // An empty variable means "not set": .env files and Kubernetes often list every name with no value.
  const environment = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = envSchema.safeParse(environment);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`)),
    ...crossFieldProblems(environment),
  ];
  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  const env = parsed.data;
  const slack =
    env.SLACK_BOT_TOKEN && env.SLACK_SIGNING_SECRET && env.SLACK_ALERT_CHANNEL
      ? {
          botToken: env.SLACK_BOT_TOKEN,
          signingSecret: env.SLACK_SIGNING_SECRET,
          alertChannel: env.SLACK_ALERT_CHANNEL,
          apiUrl: env.SLACK_API_URL,
        }
      : undefined;
  const discord =
    env.DISCORD_BOT_TOKEN && env.DISCORD_APPLICATION_ID && env.DISCORD_ALERT_CHANNEL_ID
      ? {
          botToken: env.DISCORD_BOT_TOKEN,
          applicationId: env.DISCORD_APPLICATION_ID,
          alertChannelId: env.DISCORD_ALERT_CHANNEL_ID,
          publicKey: env.DISCORD_PUBLIC_KEY,
          guildId: env.DISCORD_GUILD_ID,
          apiUrl: env.DISCORD_API_URL,
          mode: env.DISCORD_MODE,
        }
      : undefined;
  return {
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    locale: { locale: env.LOCALE, timeZone: env.TZ },
    database: databaseConfig(env.DATABASE_URL),
    runbooksDirs: env.RUNBOOKS_DIR,
    webhookToken: env.ALERTMANAGER_WEBHOOK_TOKEN,
    webhookMaxBytes: env.WEBHOOK_MAX_BYTES,
    ingestQueueAbove: env.INGEST_QUEUE_ABOVE,
    inboxLimit: env.INBOX_LIMIT,
    storms: { digestAfterSeconds: env.STORM_DIGEST_AFTER_SECONDS, cardsPerMinute: env.STORM_CARDS_PER_MINUTE, consoleUrl: env.CONSOLE_PUBLIC_URL },
    sqliteWalLimitMb: env.SQLITE_WAL_LIMIT_MB,
    slack,
    discord,
    dingtalk: dingTalkConfig(env),
    feishu: feishuConfig(env),
    routesFile: env.ROUTES_FILE,
    approvers: env.APPROVERS,
    policyFile: env.POLICY_FILE,
    escalationFile: env.ESCALATION_FILE,
    schedulesFile: env.SCHEDULES_FILE,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    prometheusUrl: env.PROMETHEUS_URL,
    composeCommand: env.COMPOSE_COMMAND,
    alertmanagerUrl: env.ALERTMANAGER_URL,
    console: { mode: env.CONSOLE, token: env.CONSOLE_TOKEN, demoPort: env.DEMO_PORT, publicUrl: env.CONSOLE_PUBLIC_URL },
    audit: auditSealConfig(env),
    metricsToken: env.METRICS_TOKEN,
    runnersFile: env.RUNNERS_FILE,
    runnerHeartbeatTimeoutMs: env.RUNNER_HEARTBEAT_TIMEOUT_SECONDS * 1000,
    secrets: [
      env.AUDIT_KEY,
      env.ALERTMANAGER_WEBHOOK_TOKEN,
      env.SLACK_BOT_TOKEN,
      env.SLACK_SIGNING_SECRET,
      env.DISCORD_BOT_TOKEN,
      env.DINGTALK_CLIENT_SECRET,
      env.DINGTALK_WEBHOOK_SECRET,
      // A webhook URL carries its robot's access token: whoever has it can post to the group.
      webhookUrlToken(env.DINGTALK_WEBHOOK_URL),
      env.FEISHU_APP_SECRET,
      env.FEISHU_WEBHOOK_SECRET,
      webhookUrlToken(env.FEISHU_WEBHOOK_URL),
      env.CONSOLE_TOKEN,
      env.METRICS_TOKEN,
      databasePassword(env.DATABASE_URL),
    ].filter(
      (v): v is string => v !== undefined,
    ),
  };
}

/**
 * Where the audit key and seals are kept when not configured: beside the SQLite file (not inside
 * it); for PostgreSQL, whose database is elsewhere, in the working directory's data folder. An
 * in-memory database keeps them in the working directory's data folder too.
 */
function auditSealConfig(env: Env): AuditSealConfig {
  const database = databaseConfig(env.DATABASE_URL);
  const beside = database.kind === 'sqlite' && database.path !== ':memory:' ? database.path : undefined;
  const base = beside ?? path.join('data', 'bot');
  return {
    key: env.AUDIT_KEY,
    keyFile: path.resolve(env.AUDIT_KEY_FILE ?? `${base}.audit-key`),
    sealFile: path.resolve(env.AUDIT_SEAL_FILE ?? `${base}.audit-seals`),
  };
}

/** The secret part of a chat webhook URL: DingTalk's access_token, or the hook id Feishu's path ends with. */
function webhookUrlToken(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const parsed = new URL(url);
  const token = parsed.searchParams.get('access_token') ?? parsed.pathname.split('/').pop();
  return token !== undefined && token.length >= 8 ? token : undefined;
}

/** A PostgreSQL URL's password, decoded (step output or an error could echo it). */
function databasePassword(url: string): string | undefined {
  if (!POSTGRES_URL.test(url)) return undefined;
  const password = decodeURIComponent(new URL(url).password);
  return password === '' ? undefined : password;
}
