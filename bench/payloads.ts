/**
 * Alertmanager v4 notifications shaped like the recorded ones (test/fixtures/alertmanager-0.25):
 * one group (group_by alertname, service, cluster) with its alerts, common labels and annotations.
 */
import { createHash } from 'node:crypto';

export type Labels = Record<string, string>;

export interface GroupSpec {
  alertname: string;
  service: string;
  cluster: string;
  /** Labels every alert of the group carries besides the group labels (team, severity, …). */
  common: Labels;
}

export interface AlertSpec {
  instance: string;
  status: 'firing' | 'resolved';
  startsAt: string;
  endsAt?: string;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const SERVICES = ['gitcortex', 'approval-gin', 'opentruss', 'im-suite', 'app-example', 'checkout', 'search', 'billing'];
const ALERTNAMES = ['HighErrorRate', 'HighLatency', 'InstanceDown', 'DiskAlmostFull', 'MemoryHigh', 'CPUSaturated'];
const SEVERITIES = ['critical', 'warning', 'warning', 'info'];

/** A small seeded generator (mulberry32), so every run sends the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)] as T;
}

function fingerprint(labels: Labels): string {
  const canonical = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

export function randomGroup(random: () => number, n: number, common: Labels = {}): GroupSpec {
  return {
    alertname: pick(random, ALERTNAMES),
    service: pick(random, SERVICES),
    cluster: `cluster-${n}`,
    common: { severity: pick(random, SEVERITIES), namespace: 'prod', job: 'node', ...common },
  };
}

/** The notification Alertmanager sends for `group` with `alerts` (status firing while any fires). */
export function notification(group: GroupSpec, alerts: readonly AlertSpec[]): Record<string, unknown> {
  const groupLabels = { alertname: group.alertname, service: group.service, cluster: group.cluster };
  const commonLabels = { ...groupLabels, ...group.common };
  const commonAnnotations = {
    summary: `${group.alertname} on ${group.service}`,
    runbook_url: `https://runbooks.example/${group.service}/${group.alertname}`,
  };
  return {
    receiver: 'chatops-bot',
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    alerts: alerts.map((a) => {
      const labels = { ...commonLabels, instance: a.instance };
      return {
        status: a.status,
        labels,
        annotations: { ...commonAnnotations, description: `${group.alertname} on ${a.instance} for more than 5 minutes (value 0.0${a.instance.length})` },
        startsAt: a.startsAt,
        endsAt: a.endsAt ?? ZERO_TIME,
        generatorURL: `http://prometheus.example:9090/graph?g0.expr=${encodeURIComponent(`job:${group.alertname}:rate5m > 0.01`)}&g0.tab=1`,
        fingerprint: fingerprint(labels),
      };
    }),
    groupLabels,
    commonLabels,
    commonAnnotations,
    externalURL: 'http://alertmanager.example:9093',
    version: '4',
    groupKey: `{}/{severity=~".+"}:{alertname="${group.alertname}", cluster="${group.cluster}", service="${group.service}"}`,
    truncatedAlerts: 0,
  };
}

export function firingAlerts(group: GroupSpec, count: number, startsAt: string): AlertSpec[] {
  return Array.from({ length: count }, (_, i) => ({ instance: `${group.service}-${group.cluster}-${i + 1}:8080`, status: 'firing' as const, startsAt }));
}

interface LiveGroup {
  spec: GroupSpec;
  alerts: AlertSpec[];
  lastBody: string;
}

/**
 * The ingest load: half new groups (1–3 alerts), a quarter changes to a known group (an alert joins,
 * or the group resolves, and later fires again), a quarter exact repeats (Alertmanager's retries,
 * HA peers and repeat_interval), which the bot recognises as duplicates.
 */
export class NotificationMix {
  private readonly random: () => number;
  private readonly groups: LiveGroup[] = [];
  private created = 0;

  constructor(seed: number, private readonly clusterPrefix: string) {
    this.random = seededRandom(seed);
  }

  next(): string {
    const r = this.random();
    if (this.groups.length === 0 || r < 0.5) return this.newGroup();
    const group = pick(this.random, this.groups);
    if (r < 0.75) return this.change(group);
    return group.lastBody;
  }

  private newGroup(): string {
    this.created += 1;
    const spec = randomGroup(this.random, this.created, {});
    spec.cluster = `${this.clusterPrefix}-${this.created}`;
    const group: LiveGroup = { spec, alerts: firingAlerts(spec, 1 + Math.floor(this.random() * 3), new Date().toISOString()), lastBody: '' };
    group.lastBody = JSON.stringify(notification(spec, group.alerts));
    // Bounded: the oldest groups stop changing, as real ones do.
    if (this.groups.length >= 5000) this.groups.shift();
    this.groups.push(group);
    return group.lastBody;
  }

  private change(group: LiveGroup): string {
    const now = new Date().toISOString();
    const firing = group.alerts.some((a) => a.status === 'firing');
    if (firing && this.random() < 0.7) {
      group.alerts.push({ instance: `${group.spec.service}-${group.spec.cluster}-${group.alerts.length + 1}:8080`, status: 'firing', startsAt: now });
    } else if (firing) {
      group.alerts = group.alerts.map((a) => ({ ...a, status: 'resolved' as const, endsAt: now }));
    } else {
      group.alerts = firingAlerts(group.spec, 1 + Math.floor(this.random() * 3), now);
    }
    group.lastBody = JSON.stringify(notification(group.spec, group.alerts));
    return group.lastBody;
  }
}
