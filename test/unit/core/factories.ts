/**
 * Small builders for the core's inputs: Alertmanager notifications (shaped like Alertmanager 0.25
 * sends them, and parsed through the real schema), actors, runbooks, and a clock tests can move.
 */
import { createHash } from 'node:crypto';
import pino from 'pino';
import {
  ZERO_TIME,
  notificationSchema,
  type AlertmanagerAlert,
  type AlertmanagerNotification,
} from '../../../src/core/alertmanager-payload.js';
import type { Labels } from '../../../src/core/domain.js';
import { Engine, type EngineOptions } from '../../../src/core/engine.js';
import type { RecordedNotification } from '../../../src/core/notifications.js';
import type { Actor } from '../../../src/core/policy.js';
import { defaultPolicy } from '../../../src/settings/policy.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { createMetrics } from '../../../src/metrics.js';
import { parseRunbook } from '../../../src/runbooks/loader.js';
import type { Runbook } from '../../../src/runbooks/schema.js';
import { localStepRunner } from '../../../src/runbooks/index.js';

export const T0 = Date.parse('2026-11-22T01:37:37.000Z');
/** ISO time `s` seconds after T0. */
export const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

export const silentLog = pino({ level: 'silent' });

export const GROUP_LABELS = { alertname: 'HighLatency', service: 'gitcortex' } as const;
export const GROUP_KEY = '{}:{alertname="HighLatency", service="gitcortex"}';

export interface AlertSpec {
  status?: 'firing' | 'resolved';
  severity?: string;
  /** Seconds after T0. */
  startsAt?: number;
  labels?: Labels;
  annotations?: Labels;
}

/** One alert of the default group, identified by its instance (the fingerprint follows from the labels). */
export function alert(instance: string, spec: AlertSpec = {}): AlertmanagerAlert {
  const status = spec.status ?? 'firing';
  const labels: Labels = { ...GROUP_LABELS, instance, severity: spec.severity ?? 'warning', ...spec.labels };
  const startsAt = at(spec.startsAt ?? 0);
  return {
    status,
    labels,
    annotations: { summary: 'p99 latency over 2s', ...spec.annotations },
    startsAt,
    endsAt: status === 'resolved' ? at((spec.startsAt ?? 0) + 300) : ZERO_TIME,
    generatorURL: `http://prometheus.example:9090/graph?g0.expr=latency&instance=${encodeURIComponent(instance)}`,
    fingerprint: fingerprintOf(labels),
  };
}

export function fingerprintOf(labels: Labels): string {
  const sorted = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}

function common(maps: Labels[]): Labels {
  const [first, ...rest] = maps;
  if (!first) return {};
  return Object.fromEntries(Object.entries(first).filter(([k, v]) => rest.every((m) => m[k] === v)));
}

/**
 * A notification for the given alerts, as Alertmanager builds it: the group fires while any alert
 * fires; common labels and annotations are those every alert shares.
 */
export function notification(alerts: AlertmanagerAlert[], overrides: Partial<AlertmanagerNotification> = {}): AlertmanagerNotification {
  const raw = {
    version: '4',
    groupKey: GROUP_KEY,
    truncatedAlerts: 0,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'chatops-bot',
    groupLabels: { ...GROUP_LABELS },
    commonLabels: common(alerts.map((a) => a.labels)),
    commonAnnotations: common(alerts.map((a) => a.annotations)),
    externalURL: 'http://alertmanager.example:9093',
    alerts,
    ...overrides,
  };
  return notificationSchema.parse(raw);
}

export function actor(id: string, name: string, groups: string[] = []): Actor {
  return { platform: 'slack', id, name, groups };
}

export const ALICE = actor('U0ALICE', 'alice');
export const BOB = actor('U0BOB', 'bob');
export const CAROL = actor('U0CAROL', 'carol', ['S0SRE']);
export const DAVE = actor('U0DAVE', 'dave');

/** A runbook for the default group with read-only and changing steps of every approval shape. */
export function gitcortexRunbook(extraSteps = ''): Runbook {
  return parseRunbook(
    `
name: gitcortex
match: { service: gitcortex, alertname: [HighLatency, GitCortexDown] }
params:
  instance: { fromLabel: instance, pattern: '[a-z0-9.-]+:[0-9]{1,5}' }
  unit: { default: gitcortex, pattern: '[a-z0-9@._-]+' }
steps:
  - id: status
    title: Service status
    action: exec
    run: [systemctl, status, '{{unit}}']
  - id: restart
    title: Restart GitCortex
    action: exec
    run: [systemctl, restart, '{{unit}}']
    changes: true
  - id: flush
    title: Flush caches
    action: exec
    run: [gitcortex-admin, flush]
    changes: true
    approval: { selfApprove: true }
  - id: migrate
    title: Migrate schema
    action: exec
    run: [gitcortex-admin, migrate]
    changes: true
    approval: { approvers: 2 }
${extraSteps}`,
    'gitcortex.yaml',
  );
}

/** A clock the test moves by hand. */
export function manualClock(startMs = T0): { now: () => Date; ms: () => number; advance: (ms: number) => void; set: (ms: number) => void } {
  let current = startMs;
  return {
    now: () => new Date(current),
    ms: () => current,
    advance: (ms) => {
      current += ms;
    },
    set: (ms) => {
      current = ms;
    },
  };
}

/** Polls until `predicate` returns a truthy value. */
export async function waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** An engine on `store` with no runbooks or platforms, routing every incident to one Slack channel, silent; `overrides` replace any option. */
export function testEngine(store: EngineOptions['store'], overrides: Partial<EngineOptions> = {}): Engine {
  return new Engine({
    store,
    runbooks: [],
    runner: localStepRunner,
    platforms: [],
    route: () => [{ platform: 'slack', channel: 'C0ALERTS' }],
    policy: defaultPolicy([]),
    clock: () => new Date(),
    log: silentLog,
    redact: createRedactor([]),
    env: {},
    metrics: createMetrics(() => Promise.resolve(0)),
    ...overrides,
  });
}

/** Records a notification through the engine at once (as a quiet bot does a webhook's), failing the test if it was queued instead. */
export async function recordNow(engine: Engine, n: AlertmanagerNotification): Promise<RecordedNotification> {
  const accepted = await engine.accept(n, JSON.stringify(n), { atOnce: true });
  if (accepted.outcome !== 'recorded') throw new Error(`expected the notification to be recorded at once, got ${JSON.stringify(accepted)}`);
  return accepted;
}
