/**
 * Runs the real Prometheus Alertmanager (Debian's 0.25 binary) for tests: one route, one webhook
 * receiver, gossip off, state in a temp dir. Alerts are fired and resolved through its API v2.
 *
 *   const am = await startAlertmanager({ webhookUrl: 'http://127.0.0.1:PORT/hook', bearerToken: 't' });
 *   await am.fireAlerts([{ labels: { alertname: 'DiskFull', service: 'db' } }]);
 *   ...
 *   await am.stop();
 *
 * Binary: $ALERTMANAGER_BIN, else `prometheus-alertmanager` or `alertmanager` on PATH
 * (`apt-get install prometheus-alertmanager`). Policy: when it is missing, suites skip locally but
 * FAIL under CI (`CI=true`), so a CI machine without it can never go green by skipping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe } from 'vitest';
import { stringify } from 'yaml';

const BINARY_NAMES = ['prometheus-alertmanager', 'alertmanager'];
const INSTALL_HINT = 'install it with `apt-get install prometheus-alertmanager` (Debian/Ubuntu) or set ALERTMANAGER_BIN';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Path of the Alertmanager binary, or undefined when there is none. */
export function findAlertmanagerBinary(): string | undefined {
  const fromEnv = process.env.ALERTMANAGER_BIN;
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : undefined;
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const name of BINARY_NAMES) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

export function alertmanagerAvailable(): boolean {
  return findAlertmanagerBinary() !== undefined;
}

/**
 * Undefined when Alertmanager can run here. When it cannot: throws under CI (`CI=true`), so the
 * suite fails; elsewhere returns the reason, for a skip message.
 */
export function alertmanagerMissingReason(): string | undefined {
  if (alertmanagerAvailable()) return undefined;
  const reason = process.env.ALERTMANAGER_BIN
    ? `ALERTMANAGER_BIN=${process.env.ALERTMANAGER_BIN} is not an executable file`
    : `no Alertmanager binary (${BINARY_NAMES.join(' / ')}) on PATH`;
  if (process.env.CI === 'true') {
    throw new Error(`Alertmanager is required under CI: ${reason}; ${INSTALL_HINT}.`);
  }
  return `${reason}; ${INSTALL_HINT}`;
}

/** `describe` that runs when Alertmanager is present, skips locally when not, and fails under CI. */
export function describeWithAlertmanager(name: string, fn: () => void): void {
  const missing = alertmanagerMissingReason();
  if (missing === undefined) describe(name, fn);
  else describe.skip(`${name} (skipped: ${missing})`, fn);
}

export interface AlertmanagerOptions {
  webhookUrl: string;
  /** More URLs that get every notification too (one webhook config each), e.g. a second bot replica. */
  moreWebhookUrls?: string[];
  /** Sent as `Authorization: Bearer <token>` (http_config.authorization). */
  bearerToken?: string;
  /** Default ['alertname', 'service']. */
  groupBy?: string[];
  /** Default '1s'. */
  groupWait?: string;
  /** Default '1s'. */
  groupInterval?: string;
  /** Default '1h'. */
  repeatInterval?: string;
  /** Receiver name (arrives as `receiver` in the payload). Default 'default'. */
  receiverName?: string;
  /** Seconds to wait for `/-/ready`. Default 20. */
  readyTimeoutSeconds?: number;
}

export interface AlertInput {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  generatorURL?: string;
}

export interface RunningAlertmanager {
  /** Base URL, e.g. http://127.0.0.1:PORT (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** The YAML configuration it runs with. */
  readonly config: string;
  /** Output of the process so far (it logs at level warn). */
  output(): string;
  /** POST /api/v2/alerts with startsAt = now. */
  fireAlerts(alerts: AlertInput[]): Promise<void>;
  /** POST the same alerts again with endsAt in the past (now − 1 s), which resolves them. */
  resolveAlerts(alerts: AlertInput[]): Promise<void>;
  /** SIGTERM, SIGKILL after 5 s; removes the temp dir. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function alertmanagerConfig(opts: AlertmanagerOptions): string {
  const receiver = opts.receiverName ?? 'default';
  const webhooks = [opts.webhookUrl, ...(opts.moreWebhookUrls ?? [])].map((url) => {
    const webhook: Record<string, unknown> = { url, send_resolved: true, max_alerts: 0 };
    if (opts.bearerToken !== undefined) {
      webhook.http_config = { authorization: { type: 'Bearer', credentials: opts.bearerToken } };
    }
    return webhook;
  });
  return stringify({
    route: {
      receiver,
      group_by: opts.groupBy ?? ['alertname', 'service'],
      group_wait: opts.groupWait ?? '1s',
      group_interval: opts.groupInterval ?? '1s',
      repeat_interval: opts.repeatInterval ?? '1h',
    },
    receivers: [{ name: receiver, webhook_configs: webhooks }],
  });
}

export async function startAlertmanager(opts: AlertmanagerOptions): Promise<RunningAlertmanager> {
  const bin = findAlertmanagerBinary();
  if (!bin) {
    throw new Error(`Alertmanager binary not found (${BINARY_NAMES.join(' / ')} on PATH, or ALERTMANAGER_BIN): ${INSTALL_HINT}.`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'alertmanager-test-'));
  const config = alertmanagerConfig(opts);
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(configFile, config);
  const storage = join(dir, 'data');

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.path=${storage}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      `--web.external-url=${url}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > 64_000) output = output.slice(-64_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      exited ??= { code: null, signal: null };
      resolve();
    });
  });
  // A test run that dies half way must not leave the process behind.
  const killOnExit = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const cleanup = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (!exited) {
      child.kill('SIGTERM');
      const killed = await Promise.race([exitPromise.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exitPromise;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const timeoutMs = (opts.readyTimeoutSeconds ?? 20) * 1000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      const how = spawnError ? `failed to start: ${spawnError.message}` : `exited (code ${exited.code}, signal ${exited.signal})`;
      await cleanup();
      throw new Error(`Alertmanager (${bin}) ${how} before becoming ready.\nConfig:\n${config}\nOutput:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await cleanup();
      throw new Error(`Alertmanager (${bin}) not ready on ${url} after ${timeoutMs / 1000} s.\nOutput:\n${output}`);
    }
    await sleep(100);
  }

  const startsAtByAlert = new Map<string, string>();

  const postAlerts = async (body: unknown[]): Promise<void> => {
    const res = await fetch(`${url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 200) {
      throw new Error(`Alertmanager refused POST /api/v2/alerts: HTTP ${res.status} ${text}`);
    }
  };

  const toApi = (a: AlertInput, extra: Record<string, string>): Record<string, unknown> => ({
    labels: a.labels,
    ...(a.annotations !== undefined ? { annotations: a.annotations } : {}),
    ...(a.generatorURL !== undefined ? { generatorURL: a.generatorURL } : {}),
    ...extra,
  });

  return {
    url,
    port,
    config,
    output: () => output,
    async fireAlerts(alerts) {
      const startsAt = new Date().toISOString();
      for (const a of alerts) startsAtByAlert.set(labelKey(a.labels), startsAt);
      await postAlerts(alerts.map((a) => toApi(a, { startsAt })));
    },
    async resolveAlerts(alerts) {
      const endsAt = Date.now() - 1000;
      await postAlerts(
        alerts.map((a) => {
          // Keep the original startsAt (it identifies the alert's occurrence in the payload);
          // Alertmanager refuses endsAt before startsAt, so clamp for alerts resolved within 1 s.
          const startsAt = startsAtByAlert.get(labelKey(a.labels));
          if (startsAt === undefined) return toApi(a, { endsAt: new Date(endsAt).toISOString() });
          const ends = Math.max(endsAt, Date.parse(startsAt));
          return toApi(a, { startsAt, endsAt: new Date(ends).toISOString() });
        }),
      );
    },
    stop: cleanup,
  };
}
