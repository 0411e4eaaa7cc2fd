import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { findExecutable, IN_CI, parseUnit, ROOT, run, schemaDefault, schemaKeys, timespan } from './deploy-kit.js';

/*
 * The deployment examples outside Kubernetes: every YAML under manifests/alertmanager,
 * manifests/kubernetes and manifests/systemd parses; the Alertmanager example delivers to the
 * bot's webhook route with resolved notifications (and `amtool check-config` accepts it when
 * amtool is installed); the systemd unit, read as INI, starts the built entry point as an
 * unprivileged, sandboxed service that has time to stop cleanly.
 */

const DEPLOY_DIRS = ['alertmanager', 'kubernetes', 'systemd'].map((d) => path.join(ROOT, 'manifests', d));
const ALERTMANAGER_EXAMPLE = path.join(ROOT, 'manifests', 'alertmanager', 'receiver.example.yaml');
const UNIT_FILE = path.join(ROOT, 'manifests', 'systemd', 'chatops-bot.service');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(full);
    return entry.isFile() && /\.ya?ml$/.test(entry.name) ? [full] : [];
  });
}

function parseYaml(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const problems = list.flatMap((doc) => [...doc.errors, ...doc.warnings].map((e) => e.message));
  if (problems.length > 0) throw new Error(`${path.relative(ROOT, file)}:\n${problems.join('\n')}`);
  return list.map((doc) => doc.toJS() as unknown);
}

describe('deployment manifests parse', () => {
  it('every YAML file under manifests/alertmanager, manifests/kubernetes and manifests/systemd', () => {
    const files = DEPLOY_DIRS.flatMap(yamlFiles);
    expect(files.map((f) => path.relative(ROOT, f))).toContain('manifests/alertmanager/receiver.example.yaml');
    for (const file of files) {
      const docs = parseYaml(file);
      expect(docs.length, path.relative(ROOT, file)).toBeGreaterThan(0);
      for (const doc of docs) expect(typeof doc, path.relative(ROOT, file)).toBe('object');
    }
  });
});

// ---------------------------------------------------------------------------------------------

const WebhookConfig = z.object({
  url: z.string().optional(),
  url_file: z.string().optional(),
  send_resolved: z.boolean().optional(),
  max_alerts: z.number().int().optional(),
  http_config: z
    .object({
      authorization: z.object({ type: z.string().optional(), credentials: z.string().optional(), credentials_file: z.string().optional() }).optional(),
    })
    .optional(),
});
const Route: z.ZodType<RouteShape> = z.lazy(() =>
  z.object({
    receiver: z.string().optional(),
    group_by: z.array(z.string()).optional(),
    group_wait: z.string().optional(),
    group_interval: z.string().optional(),
    repeat_interval: z.string().optional(),
    routes: z.array(Route).optional(),
  }),
);
interface RouteShape {
  receiver?: string | undefined;
  group_by?: string[] | undefined;
  group_wait?: string | undefined;
  group_interval?: string | undefined;
  repeat_interval?: string | undefined;
  routes?: RouteShape[] | undefined;
}
const AlertmanagerConfig = z.object({
  route: Route,
  receivers: z.array(z.object({ name: z.string(), webhook_configs: z.array(WebhookConfig).optional() })).min(1),
});

function alertmanagerExample() {
  const [doc] = parseYaml(ALERTMANAGER_EXAMPLE);
  const parsed = AlertmanagerConfig.safeParse(doc);
  if (!parsed.success) throw new Error(z.prettifyError(parsed.error));
  return parsed.data;
}

/** Go-style durations of Alertmanager (`30s`, `5m`, `4h`, `1h30m`) in seconds. */
function seconds(duration: string | undefined): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  const rest = (duration ?? '').replace(/(\d+)(ms|s|m|h|d|w)/g, (_all, n: string, unit: string) => {
    total += Number(n) * (units[unit] ?? Number.NaN);
    return '';
  });
  if (rest !== '' || duration === undefined) throw new Error(`not a duration: ${duration}`);
  return total;
}

describe('manifests/alertmanager/receiver.example.yaml', () => {
  const chatopsWebhook = () => {
    const config = alertmanagerExample();
    const receiver = config.receivers.find((r) => r.name === 'chatops-bot');
    expect(receiver, 'a receiver named chatops-bot').toBeDefined();
    expect(receiver?.webhook_configs).toHaveLength(1);
    return receiver?.webhook_configs?.[0];
  };

  it('routes to the chatops-bot receiver, grouped by alertname and service, with its timing set', () => {
    const { route } = alertmanagerExample();
    expect(route.receiver).toBe('chatops-bot');
    expect(route.group_by).toEqual(['alertname', 'service']);
    const [wait, interval, repeat] = [route.group_wait, route.group_interval, route.repeat_interval].map(seconds);
    expect(wait).toBeGreaterThan(0);
    expect(interval).toBeGreaterThanOrEqual(wait ?? 0);
    expect(repeat).toBeGreaterThan(interval ?? 0);
  });

  it('posts to the bot at /webhooks/alertmanager on its port, with resolved notifications and every alert', () => {
    const webhook = chatopsWebhook();
    const url = new URL(webhook?.url ?? '');
    expect(url.pathname).toBe('/webhooks/alertmanager');
    expect(url.port || (url.protocol === 'https:' ? '443' : '80')).toBe(schemaDefault('PORT'));
    expect(webhook?.send_resolved).toBe(true);
    expect(webhook?.max_alerts).toBe(0);
  });

  it('authenticates with a bearer token read from a file', () => {
    const authorization = chatopsWebhook()?.http_config?.authorization;
    expect(authorization?.type).toBe('Bearer');
    expect(authorization?.credentials_file).toMatch(/^\//);
    expect(authorization?.credentials, 'no inline token in the example').toBeUndefined();
  });

  it('explains the timing and why 5xx is retried and 4xx is not', () => {
    const text = readFileSync(ALERTMANAGER_EXAMPLE, 'utf8');
    const comments = text
      .split('\n')
      .filter((line) => line.trim().startsWith('#'))
      .join('\n');
    for (const word of ['group_wait', 'group_interval', 'repeat_interval', '5xx', '4xx', 'ALERTMANAGER_WEBHOOK_TOKEN']) expect(comments).toContain(word);
  });

  // amtool comes with Debian's prometheus-alertmanager (.ci/run installs it): required in CI.
  const amtool = findExecutable('amtool', '/usr/bin/amtool');
  it.skipIf(!amtool && !IN_CI)('amtool check-config accepts it', () => {
    if (!amtool) throw new Error('amtool is not installed (CI=true): install prometheus-alertmanager');
    const result = run(amtool, ['check-config', ALERTMANAGER_EXAMPLE]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toMatch(/SUCCESS/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('manifests/systemd/chatops-bot.service', () => {
  const unit = parseUnit(readFileSync(UNIT_FILE, 'utf8'));
  const get = (section: string, key: string) => unit.get(section)?.get(key) ?? [];
  const one = (section: string, key: string) => {
    const values = get(section, key);
    expect(values, `[${section}] ${key}= set once`).toHaveLength(1);
    return values[0] ?? '';
  };

  it('has the Unit, Service and Install sections', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(one('Install', 'WantedBy')).toBe('multi-user.target');
  });

  it('starts the built entry point as the chatops user, from the install folder', () => {
    expect(one('Service', 'User')).toBe('chatops');
    expect(one('Service', 'WorkingDirectory')).toBe('/opt/chatops-bot');
    expect(one('Service', 'EnvironmentFile')).toBe('/etc/chatops-bot/env');
    expect(one('Service', 'ExecStart')).toBe('/usr/bin/node dist/src/main.js');
    // The same entry point npm start runs (through the quick-start launcher, which builds it when stale).
    const scripts = z.object({ scripts: z.record(z.string(), z.string()) }).parse(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')));
    expect(scripts.scripts.start).toBe('exec node demo/quick-start.mjs');
    expect(readFileSync(path.join(ROOT, 'demo/quick-start.mjs'), 'utf8')).toContain("path.join(root, 'dist', 'src', 'main.js')");
    expect(one('Service', 'Restart')).toBe('on-failure');
  });

  it('is sandboxed: no new privileges, a read-only system except its state folder, a private /tmp', () => {
    expect(one('Service', 'NoNewPrivileges')).toMatch(/^(yes|true|1|on)$/);
    expect(one('Service', 'ProtectSystem')).toBe('strict');
    expect(one('Service', 'PrivateTmp')).toMatch(/^(yes|true|1|on)$/);
    expect(get('Service', 'ReadWritePaths').join(' ').split(/\s+/)).toContain('/var/lib/chatops-bot');
    // V8's JIT needs writable executable memory: this option would crash node.
    expect(get('Service', 'MemoryDenyWriteExecute')).toEqual([]);
  });

  it('keeps the database where it may write, and sets only variables the bot knows', () => {
    const known = [...schemaKeys(), 'NODE_ENV'];
    const assignments = get('Service', 'Environment').flatMap((value) => value.split(/\s+/));
    const env = Object.fromEntries(assignments.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
    expect(Object.keys(env).filter((name) => !known.includes(name))).toEqual([]);
    const database = (env.DATABASE_URL ?? '').replace(/^(sqlite|file):(\/\/)?/, '');
    expect(database.startsWith('/var/lib/chatops-bot/'), `DATABASE_URL ${database} is under ReadWritePaths`).toBe(true);
  });

  it('stops with SIGTERM to the bot alone and waits longer than SHUTDOWN_TIMEOUT_MS', () => {
    expect(one('Service', 'KillSignal')).toBe('SIGTERM');
    // mixed: running steps are not signalled with the bot; they get the shutdown timeout to finish.
    expect(one('Service', 'KillMode')).toBe('mixed');
    const stopSeconds = timespan(one('Service', 'TimeoutStopSec'));
    const shutdownSeconds = Number(schemaDefault('SHUTDOWN_TIMEOUT_MS')) / 1000;
    expect(stopSeconds).toBeGreaterThanOrEqual(shutdownSeconds + 5);
  });

  // systemd-analyze flags unknown keys and keys in the wrong section; optional (CI containers lack systemd).
  const analyze = findExecutable('systemd-analyze');
  it.skipIf(!analyze)('systemd-analyze verify reports no unknown or invalid setting', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'chatops-unit-'));
    try {
      const copy = path.join(dir, 'chatops-bot.service');
      copyFileSync(UNIT_FILE, copy);
      const result = run(analyze ?? 'systemd-analyze', ['verify', copy], dir);
      const complaints = result.output.split('\n').filter((line) => /unknown|invalid|failed to parse|ignoring/i.test(line) && line.includes('chatops-bot.service'));
      expect(complaints).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
