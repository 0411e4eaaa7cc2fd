import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DestinationStream, Logger } from 'pino';
import { createAlertmanagerSilences } from './alertmanager/silences.js';
import { ConsoleAccess, guardRoute, isLoopbackHost, resolveConsole, type RouteGate } from './bot/console/access.js';
import { createConsole } from './bot/console/console-app.js';
import { CONSOLE_CHANNEL } from './bot/console/platform.js';
import { describeDatabase, type Config } from './settings/config.js';
import { BotError } from './domain/errors.js';
import type { ChatPlatform } from './core/ports/chat-platform.js';
import { systemClock } from './core/ports/clock.js';
import { Engine } from './core/engine.js';
import { LogThrottle } from './core/log-throttle.js';
import { createRedactor } from './domain/redact.js';
import { handleAlertmanagerWebhook } from './handlers/alertmanager-webhook.js';
import { handleIncidentAudit, handleIncidentTimeline, handleRunOutput } from './handlers/incident-audit.js';
import { sendError, sendJson } from './http/respond.js';
import { createRouter, type Route } from './http/router.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { loadPolicy } from './settings/policy.js';
import { loadRoutes } from './settings/routes.js';
import { loadEscalation } from './settings/escalation.js';
import { loadSchedules } from './settings/schedules.js';
import { cronTimer } from './core/cron.js';
import { runJob } from './core/jobs.js';
import { Scheduler } from './core/scheduler.js';
import { alwaysLeader, type Leadership } from './core/ports/leadership.js';
import { createRouter as createChannelRouter } from './core/routing.js';
import { loadRunbooks } from './runbooks/index.js';
import { loadRunners } from './settings/runners.js';
import { RunnerHub } from './runners/hub.js';
import { RemoteStepRunner } from './runners/remote-step-runner.js';
import { createRunnerRoutes } from './runners/routes.js';
import { routingStepRunner } from './runners/step-runner.js';
import { openStore } from './store/open.js';
import type { Store } from './core/ports/store.js';
import { newReplicaId, type ReplicaSettings } from './core/replica.js';
import { loadOrCreateAuditKey, parseSealFile, readSealFile, SealFile } from './audit-files.js';
import { sealKey } from './core/audit-seal.js';
import { AuditSealer } from './core/audit-sealer.js';
import { useLocale } from './core/i18n/index.js';

// Over 300 lines: the composition root wires every part in one place (store, runbooks, platforms,
// engine, workers, HTTP routes) so that start-up and shutdown order can be read top to bottom.

export interface BotOptions {
  /** The environment steps may take allowlisted variables from (PATH at least, to find programs). */
  env?: NodeJS.ProcessEnv;
  clock?: () => Date;
  logger?: Logger;
  /** Worker polling intervals; tests shorten them. */
  outboxPollMs?: number;
  executorPollMs?: number;
  escalationPollMs?: number;
  /**
   * Which replica runs the outbox, escalations and scheduled jobs. Default: this process alone on
   * SQLite; on PostgreSQL, the replica holding the leader's advisory lock.
   */
  leadership?: Leadership;
  /** How often a replica on PostgreSQL checks the leader's lock (ms); tests shorten it. */
  leaderCheckMs?: number;
  /** This process among the replicas; default: a new id, and on PostgreSQL orphans after 30 s. */
  replica?: ReplicaSettings;
  /** Where the default logger writes (stdout when unset); ignored with `logger`. */
  logDestination?: DestinationStream;
  /** How often the leader seals the audit chains that changed (ms); tests shorten it. */
  auditSealMs?: number;
}

/** The leader seals the audit chains that changed this often: records newer than the last seal can be cut unseen. */
const AUDIT_SEAL_EVERY_MS = 5_000;

/** A refused webhook is logged once per kind of refusal, then at most this often (with the count left out). */
const REJECTION_LOG_EVERY_MS = 10_000;

/** A replica on PostgreSQL silent for this long is taken for dead, and the steps it was running are reported. */
const REPLICA_ORPHAN_AFTER_MS = 30_000;

export interface Bot {
  engine: Engine;
  store: Store;
  /** The scheduled jobs (SCHEDULES_FILE); `fire` runs a slot now. */
  scheduler: Scheduler;
  server: http.Server;
  log: Logger;
  /** The console's address once listening, when it is served. */
  consoleUrl: string | undefined;
  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(): Promise<AddressInfo>;
  /** Graceful stop: no new requests, in-flight ones finish, running steps get a grace period, the store closes. */
  stop(): Promise<void>;
}

/** The composition root: config → store → runbooks → platforms → engine → HTTP routes. */
export async function createBot(config: Config, options: BotOptions = {}): Promise<Bot> {
  // Before anything renders a text or a time: one language and zone for the whole process.
  useLocale(config.locale);
  const runnersFile = config.runnersFile ? await loadRunners(config.runnersFile) : undefined;
  const acceptedRunners = runnersFile?.runners;
  const redact = createRedactor([...config.secrets, ...(runnersFile?.secrets ?? [])]);
  const log = options.logger ?? createLogger(config.logLevel, redact, options.logDestination);
  const runbooks = await loadRunbooks(config.runbooksDirs);
  const policy = await loadPolicy(config.policyFile, config.approvers);
  const channelRoutes = await loadRoutes(config.routesFile);
  const escalation = await loadEscalation(config.escalationFile);
  const store = await openStore(config.database, log, { sqliteWalLimitMb: config.sqliteWalLimitMb });
  const replica = options.replica ?? { id: newReplicaId(), ...(config.database.kind === 'postgres' ? { orphanAfterMs: REPLICA_ORPHAN_AFTER_MS } : {}) };
  const webhookRejections = new LogThrottle(REJECTION_LOG_EVERY_MS);
  const metrics = createMetrics(
    () => store.transaction((tx) => tx.countIncidents('firing')),
    () => store.transaction((tx) => tx.countQueuedNotifications()),
  );

  const platforms: ChatPlatform[] = [];
  /** Each enabled platform's default channel; routes by labels may choose others. */
  const defaultChannels: Record<string, string> = {};
  // The Slack app needs the engine for button presses and the engine needs the Slack platform; this breaks the cycle.
  const engineRef: { current?: Engine } = {};
  const getEngine = () => {
    if (!engineRef.current) throw new Error('engine not ready');
    return engineRef.current;
  };
  const leadership =
    options.leadership ??
    (config.database.kind === 'postgres' ? await replicaLeadership(config.database.url, log, options.leaderCheckMs, () => engineRef.current?.outbox.nudge()) : alwaysLeader);
  // Each chat SDK is loaded only when its platform is configured: together they are about half of start-up.
  const slack = config.slack ? (await import('./bot/slack/slack-app.js')).createSlackApp(config.slack, getEngine, log.child({ platform: 'slack' })) : undefined;
  if (slack && config.slack) {
    platforms.push(slack.platform);
    defaultChannels.slack = config.slack.alertChannel;
  }
  const discord = config.discord ? (await import('./bot/discord/discord-app.js')).createDiscord(config.discord, getEngine, log.child({ platform: 'discord' })) : undefined;
  if (discord && config.discord) {
    platforms.push(discord.platform);
    defaultChannels.discord = config.discord.alertChannelId;
  }
  const dingtalk = config.dingtalk ? (await import('./bot/dingtalk/dingtalk-app.js')).createDingTalk(config.dingtalk, getEngine, log.child({ platform: 'dingtalk' })) : undefined;
  if (dingtalk && config.dingtalk) {
    platforms.push(dingtalk.platform);
    defaultChannels.dingtalk = config.dingtalk.alertConversationId;
  }
  const feishu = config.feishu ? (await import('./bot/feishu/feishu-app.js')).createFeishu(config.feishu, getEngine, log.child({ platform: 'feishu' })) : undefined;
  if (feishu && config.feishu) {
    platforms.push(feishu.platform);
    defaultChannels.feishu = config.feishu.alertChatId;
  }
  // The web console: interactive (a chat platform of its own) without a chat platform to act from
  // or with CONSOLE=on; read-only beside them (cards and audit trails from the store); off beyond
  // loopback without a token. One-way platforms (DingTalk's and Feishu's webhooks) receive no
  // presses: their buttons open the console, which then acts.
  const oneWay = [config.dingtalk?.mode === 'webhook' ? 'dingtalk' : undefined, config.feishu?.mode === 'webhook' ? 'feishu' : undefined];
  const chatPlatforms = platforms.map((p) => p.name).filter((name) => !oneWay.includes(name));
  const consoleSetup = resolveConsole({ setting: config.console.mode, token: config.console.token, host: config.host, chatPlatforms });
  if (consoleSetup.warning) log.warn(consoleSetup.warning);
  if (config.webhookToken === undefined && !isLoopbackHost(config.host)) {
    log.warn(`the Alertmanager webhook accepts anyone: the bot listens on ${config.host} (beyond loopback) and ALERTMANAGER_WEBHOOK_TOKEN is not set`);
  }
  const webConsole = createConsole({
    setup: consoleSetup,
    demoPort: config.console.demoPort,
    settle: () => store.ping(),
    getEngine,
    log: log.child({ platform: 'console' }),
    redact,
    clock: options.clock ?? systemClock,
    chatPlatforms,
  });
  if (consoleSetup.mode === 'interactive') {
    platforms.push(webConsole.platform);
    defaultChannels.console = CONSOLE_CHANNEL;
  }
  log.info(
    { platforms: platforms.map((p) => p.name), runbooks: runbooks.map((r) => r.name), database: describeDatabase(config.database), replica: replica.id },
    platforms.length > 0 ? `chat platforms enabled: ${platforms.map((p) => p.name).join(', ')}` : 'no chat platform configured: incidents are stored and audited only',
  );
  if (policy.defaults.approve === undefined && policy.rules.every((r) => r.approve === undefined)) {
    log.warn('no approvers configured (APPROVERS or POLICY_FILE): any user except the requester may approve changing steps');
  }

  // Steps that name a runner (runOn) run there; the others here. Runners connect out to this bot's port.
  const runnerHub = new RunnerHub();
  const runnersStopping = new AbortController();
  const remote = acceptedRunners
    ? new RemoteStepRunner({
        store,
        clock: options.clock ?? systemClock,
        log: log.child({ component: 'runners' }),
        hub: runnerHub,
        heartbeatTimeoutMs: config.runnerHeartbeatTimeoutMs,
        onFinished: (runner, result) => metrics.runnerJobs.inc({ runner, result }),
      })
    : undefined;
  const ready = new Engine({
    store,
    publicUrl: config.console.publicUrl,
    runbooks,
    runner: routingStepRunner(remote),
    runnerHeartbeatTimeoutMs: config.runnerHeartbeatTimeoutMs,
    platforms,
    route: createChannelRouter(channelRoutes, defaultChannels),
    policy,
    clock: options.clock ?? systemClock,
    log,
    redact,
    env: options.env ?? {},
    metrics,
    actionSettings: { prometheusUrl: config.prometheusUrl, composeCommand: config.composeCommand },
    silences: config.alertmanagerUrl ? createAlertmanagerSilences(config.alertmanagerUrl) : undefined,
    ...(options.outboxPollMs ? { outboxPollMs: options.outboxPollMs } : {}),
    ...(options.executorPollMs ? { executorPollMs: options.executorPollMs } : {}),
    escalation,
    leadership,
    replica,
    ...(options.escalationPollMs ? { escalationPollMs: options.escalationPollMs } : {}),
    ingestQueueAbove: config.ingestQueueAbove,
    inboxLimit: config.inboxLimit,
    storms: config.storms,
  });
  engineRef.current = ready;

  const auditKey = await loadOrCreateAuditKey(config.audit);
  const sealKeyed = sealKey(auditKey.key);
  if (auditKey.source === 'generated') log.info({ keyFile: config.audit.keyFile }, `generated the audit key at ${config.audit.keyFile}: keep it (audit:verify needs it) and keep it out of database backups`);
  if (config.database.kind === 'postgres' && auditKey.source !== 'environment') {
    log.warn(
      { keyFile: config.audit.keyFile, sealFile: config.audit.sealFile },
      'AUDIT_KEY is not set: the audit trail is sealed with the key in a file of this host; every replica must seal with the same key, so set AUDIT_KEY (from a secret) on all of them',
    );
  }
  const sealFileText = await readSealFile(config.audit.sealFile);
  const sealFile = await SealFile.open(config.audit.sealFile);
  const existingSeals = parseSealFile(sealFileText ?? '', sealKeyed);
  if (existingSeals.problems.length > 0) {
    log.error({ sealFile: config.audit.sealFile, problems: existingSeals.problems }, 'the audit seal file does not verify with the audit key: audit:verify will report it; sealing continues after its last good line');
  }
  const sealer = new AuditSealer({
    store,
    key: sealKeyed,
    sealLog: sealFile,
    existing: existingSeals.lines,
    leadership,
    clock: options.clock ?? systemClock,
    log: log.child({ worker: 'audit-sealer' }),
    intervalMs: options.auditSealMs ?? AUDIT_SEAL_EVERY_MS,
    onPosted: () => ready.outbox.nudge(),
  });

  const schedules = await loadSchedules(config.schedulesFile, runbooks, platforms.map((p) => p.name));
  const clock = options.clock ?? systemClock;
  const scheduler = new Scheduler({
    store,
    jobs: schedules.jobs,
    timer: (job) => cronTimer(job, log.child({ worker: 'scheduler' })),
    run: (job, signal) => runJob(job, { store, runner: ready.runner, runbooks, redact, env: options.env ?? {}, settings: { prometheusUrl: config.prometheusUrl, composeCommand: config.composeCommand }, clock, auditKey: sealKeyed }, signal),
    leadership,
    clock,
    log: log.child({ worker: 'scheduler' }),
    onQueued: () => ready.outbox.nudge(),
  });
  if (schedules.jobs.length > 0) log.info({ jobs: schedules.jobs.map((j) => `${j.name} (${j.cron} ${j.timezone})`) }, `scheduled jobs: ${schedules.jobs.length}`);

  // The audit trail, the timeline and metrics show incidents: the console's gate guards them too.
  const beyondLoopback = !isLoopbackHost(config.host);
  const incidentGate: RouteGate = { access: new ConsoleAccess(config.console.token), beyondLoopback, tokenName: 'CONSOLE_TOKEN' };
  const metricsToken = config.metricsToken ?? config.console.token;
  const metricsGate: RouteGate = { access: new ConsoleAccess(metricsToken), beyondLoopback, tokenName: config.metricsToken ? 'METRICS_TOKEN' : 'METRICS_TOKEN (or CONSOLE_TOKEN)' };
  if (beyondLoopback && config.console.token === undefined) {
    log.warn(`/incidents/:id/audit, /incidents/:id/timeline and /incidents/:id/runs/:run/output are refused: the bot listens on ${config.host} (beyond loopback) and CONSOLE_TOKEN is not set`);
  }
  if (beyondLoopback && metricsToken === undefined) {
    log.warn(`/metrics is refused: the bot listens on ${config.host} (beyond loopback) and neither METRICS_TOKEN nor CONSOLE_TOKEN is set`);
  }

  const routes: Route[] = [
    { method: 'GET', path: '/healthz', handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      handle: async (_req, res) => {
        try {
          await store.ping();
          sendJson(res, 200, { status: 'ready' });
        } catch (error) {
          sendError(res, 503, 'store_unavailable', `store not reachable: ${(error as Error).message}`);
        }
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handle: guardRoute(metricsGate, async (_req, res) => {
        const body = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(body);
      }),
    },
    {
      method: 'POST',
      path: '/webhooks/alertmanager',
      handle: (req, res) => handleAlertmanagerWebhook(req, res, { engine: ready, token: config.webhookToken, maxBytes: config.webhookMaxBytes, metrics, log, rejections: webhookRejections }),
    },
    { method: 'GET', path: /^\/incidents\/([^/]+)\/audit$/, handle: guardRoute(incidentGate, (_req, res, [id]) => handleIncidentAudit(res, ready, id ?? '', redact)) },
    { method: 'GET', path: /^\/incidents\/([^/]+)\/timeline$/, handle: guardRoute(incidentGate, (_req, res, [id]) => handleIncidentTimeline(res, ready, id ?? '')) },
    { method: 'GET', path: /^\/incidents\/([^/]+)\/runs\/([^/]+)\/output$/, handle: guardRoute(incidentGate, (_req, res, [id, run]) => handleRunOutput(res, ready, id ?? '', run ?? '', redact)) },
    {
      method: 'POST',
      path: '/discord/interactions',
      handle: (req, res) =>
        discord?.interactions ? discord.interactions(req, res) : sendError(res, 404, 'discord_disabled', 'Discord HTTP interactions are not configured on this bot'),
    },
    {
      method: 'POST',
      path: '/slack/events',
      handle: (req, res) => (slack ? slack.requestListener(req, res) : sendError(res, 404, 'slack_disabled', 'Slack is not configured on this bot')),
    },
    ...webConsole.routes,
    ...(acceptedRunners
      ? createRunnerRoutes({ store, clock: options.clock ?? systemClock, log: log.child({ component: 'runners' }), hub: runnerHub, redact, accepted: acceptedRunners, replicaId: replica.id, heartbeatTimeoutMs: config.runnerHeartbeatTimeoutMs, stopping: runnersStopping.signal })
      : []),
  ];
  const server = http.createServer(createRouter(routes, log));
  // Alertmanager 0.25 sets no request timeout; a stuck client must not hold a socket forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  let stopping: Promise<void> | undefined;
  const bot: Bot = {
    engine: ready,
    store,
    scheduler,
    server,
    log,
    consoleUrl: undefined,
    async listen() {
      await leadership.start();
      await ready.start();
      await scheduler.start();
      sealer.start();
      discord?.start();
      dingtalk?.start();
      feishu?.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, config.host, config.port)));
        server.listen(config.port, config.host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      log.info({ port: address.port, host: address.address }, 'listening');
      if (consoleSetup.mode !== 'off') {
        bot.consoleUrl = webConsole.url(address, config.host);
        log.info(
          { console: consoleSetup.mode, reason: consoleSetup.reason, tokenRequired: consoleSetup.token !== undefined },
          `console at ${bot.consoleUrl} (${consoleSetup.mode}${consoleSetup.token !== undefined ? ', token required' : ''})`,
        );
      }
      return address;
    },
    stop() {
      stopping ??= (async () => {
        runnersStopping.abort();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        webConsole.close();
        server.closeIdleConnections();
        await closed;
        await discord?.stop();
        await dingtalk?.stop();
        await feishu?.stop();
        await scheduler.stop(config.shutdownTimeoutMs);
        await ready.stop(config.shutdownTimeoutMs);
        // Nothing writes audit records any more: seal what the last pass did not see, while still leader.
        await sealer.stop();
        await leadership.stop();
        await store.close();
        log.info('stopped');
      })();
      return stopping;
    },
  };
  return bot;
}

/** A listen failure as a sentence naming the setting to change, instead of a raw stack. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE') {
    return new BotError('port_in_use', `Cannot listen on ${host}:${port}: the port is in use by another program. Set PORT to a free port (e.g. PORT=${port === 3000 ? 3001 : port + 1}), or stop the program that holds it.`, { cause: error });
  }
  if (error.code === 'EACCES') return new BotError('port_denied', `Cannot listen on ${host}:${port}: permission denied. Set PORT to a port above 1023.`, { cause: error });
  if (error.code === 'EADDRNOTAVAIL') return new BotError('host_unavailable', `Cannot listen on ${host}:${port}: no such local address. Set HOST to an address of this machine (or 0.0.0.0).`, { cause: error });
  return error;
}

/** The PostgreSQL leader election (loaded only on PostgreSQL); a new leader sends what is queued at once. */
async function replicaLeadership(url: string, log: Logger, checkMs: number | undefined, onLead: () => void): Promise<Leadership> {
  const { PostgresLeadership } = await import('./store/postgres-leadership.js');
  return new PostgresLeadership({ url, log: log.child({ worker: 'leadership' }), ...(checkMs ? { checkMs } : {}), onChange: (leader) => leader && onLead() });
}
