import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { load as loadPlainYaml } from 'js-yaml';
import { parse } from 'yaml';
import { offersFor, type StepOffer } from '../../../src/core/offers.js';
import { describeStep, loadRunbooks, matchingRunbooks, renderTemplate, resolveParams, resolveRunOn } from '../../../src/runbooks/index.js';
import { valueProblem } from '../../../src/runbooks/param-value.js';
import { stepParamNames, type Runbook, type RunbookStep } from '../../../src/runbooks/schema.js';

/*
 * The runbooks shipped in manifests/runbooks encode the operations manuals of five reference
 * systems. These tests hold them to the manuals (every alert a manual names is matched and offers
 * its checks and remedies) and to the bot's safety rules (read-only vs changing, no shell, strict
 * patterns for label values, every step describable).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const RUNBOOKS_DIR = path.join(ROOT, 'manifests', 'runbooks');
const RULES_DIR = path.join(ROOT, 'manifests', 'prometheus-rules');
const DOC = path.join(ROOT, 'docs', 'runbooks.md');

type Labels = Record<string, string>;

interface AlertCase {
  /** The labels an alert of this system carries (rule labels plus the scraped series' labels). */
  labels: Labels;
  /** "runbook/step" offers the manual calls for; read-only and changing ones alike. */
  offers: string[];
  /** The manual has a remedy for this alert, so at least one changing step must be offered. */
  remedy: boolean;
}

/** Per system (its `service` label), every alert its manual names, as Alertmanager delivers it. */
const SYSTEMS: Record<string, AlertCase[]> = {
  gitcortex: [
    {
      labels: { alertname: 'GitCortexDown', service: 'gitcortex', job: 'gitcortex', instance: 'gitcortex-1:3001', severity: 'critical' },
      offers: ['gitcortex/health', 'gitcortex/journal', 'gitcortex/restart', 'gitcortex-down/port', 'gitcortex-recovery/integrity', 'gitcortex-recovery/restore'],
      remedy: true,
    },
    {
      labels: { alertname: 'HighErrorRate', service: 'gitcortex', job: 'gitcortex', instance: 'gitcortex-1:3001', status: '500', severity: 'warning' },
      offers: ['gitcortex/log-tail', 'gitcortex/restart', 'gitcortex-recovery/rollback-release', 'gitcortex-recovery/backup'],
      remedy: true,
    },
    {
      labels: { alertname: 'HighLatency', service: 'gitcortex', job: 'gitcortex', instance: 'gitcortex-1:3001', severity: 'warning' },
      offers: ['gitcortex-latency/slow-queries', 'gitcortex-latency/sockets', 'gitcortex-recovery/checkpoint', 'gitcortex/restart'],
      remedy: true,
    },
    {
      labels: { alertname: 'TooManyConnections', service: 'gitcortex', job: 'gitcortex', instance: 'gitcortex-2:3001', severity: 'warning' },
      offers: ['gitcortex-connections/sockets', 'gitcortex-connections/fd-limit', 'gitcortex/restart'],
      remedy: true,
    },
  ],
  opentruss: [
    {
      labels: { alertname: 'HighCPUUsage', service: 'opentruss', job: 'node', instance: 'opentruss-host:9100', severity: 'warning' },
      offers: ['opentruss/health', 'opentruss-resources/top-cpu', 'opentruss-resources/container-stats', 'opentruss/restart-backend'],
      remedy: true,
    },
    {
      labels: { alertname: 'HighAPIErrorRate', service: 'opentruss', job: 'opentruss-backend', instance: 'backend:8000', status: '502', severity: 'critical' },
      offers: ['opentruss/backend-logs', 'opentruss-memgraph/memgraph-status', 'opentruss/restart-backend', 'opentruss-memgraph/restart-memgraph'],
      remedy: true,
    },
    {
      labels: { alertname: 'DatabaseSlowQuery', service: 'opentruss', job: 'memgraph', instance: 'memgraph:7687', severity: 'warning' },
      offers: ['opentruss-memgraph/memgraph-logs', 'opentruss-memgraph/backup', 'opentruss-memgraph/restore', 'opentruss-memgraph/verify-data'],
      remedy: true,
    },
    {
      labels: { alertname: 'OpenTrussDailyChecklist', service: 'opentruss', severity: 'info' },
      offers: ['opentruss-daily/daily-alerts', 'opentruss-daily/daily-errors', 'opentruss-daily/daily-disk', 'opentruss-daily/daily-backup'],
      remedy: false,
    },
    {
      labels: { alertname: 'OpenTrussWeeklyChecklist', service: 'opentruss', severity: 'info' },
      offers: ['opentruss-weekly/weekly-performance', 'opentruss-weekly/weekly-security', 'opentruss-weekly/weekly-backup-readable'],
      remedy: false,
    },
    {
      labels: { alertname: 'OpenTrussMonthlyChecklist', service: 'opentruss', severity: 'info' },
      offers: ['opentruss-monthly/monthly-updates', 'opentruss-monthly/monthly-images', 'opentruss-monthly/monthly-capacity'],
      remedy: false,
    },
  ],
  'approval-gin': [
    {
      labels: { alertname: 'HighErrorRate', service: 'approval-gin', job: 'approval-gin', instance: 'approval-gin-1:8080', severity: 'warning' },
      offers: ['approval-gin/app-logs', 'approval-gin/log-tail', 'approval-gin/restart', 'approval-gin-recovery/restore', 'approval-gin-recovery/rollback-release'],
      remedy: true,
    },
    {
      labels: { alertname: 'HighLatency', service: 'approval-gin', job: 'approval-gin', instance: 'approval-gin-1:8080', severity: 'warning' },
      offers: ['approval-gin-maintenance/slow-queries', 'approval-gin-maintenance/analyze', 'approval-gin-maintenance/cleanup-audit'],
      remedy: true,
    },
    {
      labels: { alertname: 'DatabaseConnectionFailure', service: 'approval-gin', job: 'approval-gin', instance: 'approval-gin-1:8080', severity: 'critical' },
      offers: ['approval-gin-database/db-answers', 'approval-gin-database/connections', 'approval-gin/restart', 'approval-gin-recovery/restore'],
      remedy: true,
    },
    {
      labels: { alertname: 'HighTaskCreationRate', service: 'approval-gin', job: 'approval-gin', instance: 'approval-gin-1:8080', severity: 'warning' },
      offers: ['approval-gin/health', 'approval-gin-database/connections', 'approval-gin-maintenance/table-sizes'],
      remedy: false,
    },
  ],
  'im-suite': [
    {
      labels: { alertname: 'HighCPUUsage', service: 'im-suite', job: 'node', instance: 'im-host:9100', severity: 'warning' },
      offers: ['im-suite-cpu/top-cpu', 'im-suite-cpu/container-stats', 'im-suite-cpu/mysql-processlist'],
      remedy: false,
    },
    {
      labels: { alertname: 'HighMemoryUsage', service: 'im-suite', job: 'node', instance: 'im-host:9100', severity: 'warning' },
      offers: ['im-suite-memory/memory', 'im-suite-memory/redis-memory', 'im-suite-memory/redis-flushdb', 'im-suite-memory/restart-backend'],
      remedy: true,
    },
    {
      labels: { alertname: 'HighErrorRate', service: 'im-suite', job: 'im-backend', instance: 'im-backend:8080', severity: 'critical' },
      offers: ['im-suite/backend-logs', 'im-suite-errors/mysql-ping', 'im-suite-errors/redis-ping', 'im-suite-errors/rollback', 'im-suite-data/full-backup'],
      remedy: true,
    },
    {
      labels: { alertname: 'MySQLConnectionPoolExhausted', service: 'im-suite', job: 'mysql', instance: 'im-mysql:9104', severity: 'critical' },
      offers: ['im-suite-mysql/processlist', 'im-suite-mysql/kill-longest', 'im-suite-mysql/restart-mysql'],
      remedy: true,
    },
    {
      labels: { alertname: 'TURNRelayFailureRate', service: 'im-suite', job: 'coturn', instance: 'im-host:9641', severity: 'warning' },
      offers: ['im-suite-turn/coturn-status', 'im-suite-turn/coturn-journal', 'im-suite-turn/turn-ports', 'im-suite-turn/restart-coturn'],
      remedy: true,
    },
    {
      labels: { alertname: 'IMSuiteDailyChecklist', service: 'im-suite', severity: 'info' },
      offers: ['im-suite-daily/containers', 'im-suite-daily/disk', 'im-suite-daily/backups', 'im-suite-daily/prometheus-alerts'],
      remedy: false,
    },
    {
      labels: { alertname: 'IMSuiteWeeklyChecklist', service: 'im-suite', severity: 'info' },
      offers: ['im-suite-weekly/tls', 'im-suite-weekly/cleanup-logs', 'im-suite-weekly/db-sizes'],
      remedy: true,
    },
    {
      labels: { alertname: 'IMSuiteMonthlyChecklist', service: 'im-suite', severity: 'info' },
      offers: ['im-suite-monthly/restore-test', 'im-suite-monthly/failed-logins'],
      remedy: true,
    },
  ],
  'app-example': [
    {
      labels: { alertname: 'HighLatency', service: 'app-example', job: 'app-example', instance: 'app-1:8000', severity: 'warning' },
      offers: ['app-example-latency/slow-queries', 'app-example-latency/top-cpu', 'app-example-rollback/trigger-latency'],
      remedy: true,
    },
    {
      labels: { alertname: 'ErrorRate', service: 'app-example', job: 'app-example', severity: 'critical' },
      offers: ['app-example/error-lines', 'app-example-rollback/trigger-error-rate', 'app-example-rollback/rollback-release', 'app-example-rollback/smoke-tests'],
      remedy: true,
    },
    {
      labels: { alertname: 'DatabaseDown', service: 'app-example', job: 'postgres', instance: 'db-1:9187', severity: 'critical' },
      offers: ['app-example-database/db-answers', 'app-example-database/db-journal', 'app-example-database/restart-db', 'app-example-database/restore'],
      remedy: true,
    },
    {
      labels: { alertname: 'DiskFull', service: 'app-example', job: 'node', instance: 'app-1:9100', mountpoint: '/', severity: 'warning' },
      offers: ['app-example-disk/disk', 'app-example-disk/log-files', 'app-example-disk/rotate-logs'],
      remedy: true,
    },
    {
      labels: { alertname: 'AppExampleStarted', service: 'app-example', job: 'app-example', instance: 'app-1:8000', severity: 'info' },
      offers: ['app-example-checklists/started', 'app-example-checklists/health', 'app-example-checklists/database', 'app-example-checklists/smoke', 'app-example-checklists/stopped'],
      remedy: false,
    },
    {
      labels: { alertname: 'AppExampleWeeklyInspection', service: 'app-example', severity: 'info' },
      offers: ['app-example-checklists/weekly-logs', 'app-example-checklists/weekly-disk', 'app-example-checklists/weekly-dependencies'],
      remedy: false,
    },
  ],
};

const ALL_CASES = Object.values(SYSTEMS).flat();
const key = (offer: StepOffer) => `${offer.runbook.name}/${offer.step.id}`;

/** Every argv a step runs: an exec step's `run`, a command restart's or rollback's `run`. */
function argvsOf(step: RunbookStep): string[][] {
  if (step.action === 'exec') return [step.run];
  if (step.action === 'http') return [];
  const found: string[][] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      const run: unknown = record.run;
      if (Array.isArray(run) && run.every((a): a is string => typeof a === 'string')) found.push(run);
      Object.values(record).forEach(visit);
    }
  };
  visit(step.with);
  return found;
}

/** A value a chosen param could be given in chat (a backup file of the kind its pattern accepts). */
function sampleChoice(pattern: string): string {
  const candidates = ['/var/backups/sample-20260101T020000Z.db.gz', '/var/backups/sample-20260101T020000Z.tar.gz', '/var/backups/sample-20260101T020000Z.dump', '/var/backups/sample-20260101T020000Z.sql.gz', '/var/backups/sample-20260101T020000Z.rdb.gz'];
  const fit = candidates.find((c) => valueProblem(c, pattern) === undefined);
  if (fit === undefined) throw new Error(`no sample value fits the chosen pattern ${pattern}`);
  return fit;
}

function choicesFor(runbook: Runbook): Labels {
  return Object.fromEntries(Object.entries(runbook.params).filter(([, spec]) => spec.chosen).map(([name, spec]) => [name, sampleChoice(spec.pattern)]));
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'fish', 'csh', 'tcsh', 'busybox']);

/** argv tokens that make a command change something. */
const MUTATING_WORDS = new Set(['restart', 'stop', 'start', 'down', 'up', 'kill', 'rm', 'delete', 'flushdb', 'flushall', 'logrotate', '-delete', 'restore-test']);
/** SQL (or redis) text that writes. */
const MUTATING_SQL = /\b(KILL|FLUSHDB|FLUSHALL|DELETE\s+FROM|DROP|TRUNCATE|UPDATE|INSERT|ALTER|ANALYZE|VACUUM|REINDEX)\b/iu;
/** Scripts of the manuals that act on the running system. */
const MUTATING_SCRIPT = /(rollback|cleanup|loadtest|deploy)[^/]*\.sh$/u;

function mutatingReason(argv: readonly string[]): string | undefined {
  const program = path.basename(argv[0] ?? '');
  if (MUTATING_SCRIPT.test(program)) return `script ${program}`;
  if (program === 'logrotate') return 'logrotate';
  for (const arg of argv.slice(1)) {
    if (MUTATING_WORDS.has(arg.toLowerCase())) return `argument ${arg}`;
    if (MUTATING_SQL.test(arg)) return `statement ${arg.slice(0, 40)}`;
  }
  return undefined;
}

let runbooks: Runbook[];

beforeAll(async () => {
  runbooks = await loadRunbooks(RUNBOOKS_DIR);
});

describe('shipped manifests read by both YAML parsers', () => {
  // The loader reads plain manifests with js-yaml and falls back to yaml: on these files both must give the same data.
  it('give the same data from js-yaml and from yaml', () => {
    const files = readdirSync(RUNBOOKS_DIR).filter((name) => /\.ya?ml$/.test(name));
    expect(files.length).toBeGreaterThan(20);
    for (const name of files) {
      const text = readFileSync(path.join(RUNBOOKS_DIR, name), 'utf8');
      expect(loadPlainYaml(text, { maxAliases: 0 }), name).toEqual(parse(text));
    }
  });
});

describe('shipped runbooks: loading', () => {
  it('every manifest loads and validates (known actions, typed inputs, params, references)', () => {
    expect(runbooks.length).toBeGreaterThanOrEqual(20);
    const files = readdirSync(RUNBOOKS_DIR).filter((f) => /\.ya?ml$/u.test(f)).sort();
    expect(runbooks.map((r) => `${r.name}.yaml`).sort()).toEqual(files);
  });

  it('every runbook is selected by a service label and an alertname list', () => {
    const services = new Set(Object.keys(SYSTEMS));
    for (const rb of runbooks) {
      expect(typeof rb.match.service === 'string' && services.has(rb.match.service), `${rb.name}: match.service`).toBe(true);
      expect(rb.match.alertname, `${rb.name}: match.alertname`).toBeDefined();
    }
  });

  it('every runbook runs on its service\'s runner, on the alert\'s host when it knows it', () => {
    for (const rb of runbooks) {
      for (const step of rb.steps) {
        expect(step.runOn?.labels?.service, `${rb.name}/${step.id}: runOn`).toBe(rb.match.service);
      }
      for (const c of ALL_CASES.filter((a) => matchingRunbooks([rb], a.labels).length > 0)) {
        const resolved = resolveParams(rb, c.labels);
        if (!resolved.ok || !rb.steps[0]?.runOn) continue;
        const target = resolveRunOn(rb.steps[0].runOn, resolved.params);
        expect(typeof target, `${rb.name}: runOn for ${JSON.stringify(c.labels)}`).toBe('object');
        // The host is the instance without its port: a runner is named after a host, not a scrape target.
        if (typeof target === 'object' && target.labels?.host !== undefined) expect(target.labels.host).toBe(c.labels.instance?.replace(/:\d+$/u, ''));
      }
    }
  });

  it('a checklist card offers its own period\'s checks only', () => {
    for (const c of ALL_CASES.filter((x) => /(Daily|Weekly|Monthly)Checklist$/.test(x.labels.alertname ?? ''))) {
      const period = /(Daily|Weekly|Monthly)Checklist$/.exec(c.labels.alertname ?? '')?.[1]?.toLowerCase() ?? '';
      const offered = offersFor(runbooks, c.labels).offers.map(key);
      expect(offered.length, c.labels.alertname).toBeGreaterThan(0);
      expect(offered.filter((k) => !k.includes(period)), c.labels.alertname).toEqual([]);
    }
  });

  it('every runbook is reached by at least one alert of the tables below', () => {
    const reached = new Set(ALL_CASES.flatMap((c) => matchingRunbooks(runbooks, c.labels).map((r) => r.name)));
    expect(runbooks.map((r) => r.name).filter((name) => !reached.has(name))).toEqual([]);
  });
});

describe.each(Object.entries(SYSTEMS))('shipped runbooks: %s alerts', (service, cases) => {
  it.each(cases.map((c) => [c.labels.alertname ?? '?', c] as const))('%s is matched, resolves and offers what the manual says', (_name, c) => {
    expect(c.labels.service).toBe(service);
    const matched = matchingRunbooks(runbooks, c.labels);
    expect(matched.length).toBeGreaterThan(0);

    const { offers, unavailable } = offersFor(runbooks, c.labels);
    expect(unavailable).toEqual([]);
    expect(offers.some((o) => !o.step.changes), 'a read-only diagnostic is offered').toBe(true);
    if (c.remedy) expect(offers.some((o) => o.step.changes), 'a changing remedy is offered').toBe(true);
    expect(c.offers.filter((k) => !offers.some((o) => key(o) === k))).toEqual([]);

    // Offered buttons are unique per card, and a card has room for them.
    const keys = offers.map(key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(offers.length).toBeLessThanOrEqual(25);

    for (const offer of offers) {
      expect(Object.values(offer.params).join('\n')).not.toContain('unavailable');
      const params = offer.step.pick ? { ...offer.params, ...choicesFor(offer.runbook) } : offer.params;
      expect(describeStep(offer.step, params)).toMatch(/^will /u);
    }
  });
});

describe('shipped runbooks: steps', () => {
  /** Every step with params resolved from an alert that selects its runbook (chosen params filled in). */
  const everyStep = () =>
    runbooks.flatMap((rb) => {
      const labels = ALL_CASES.find((c) => matchingRunbooks([rb], c.labels).length > 0)?.labels ?? {};
      const resolved = resolveParams(rb, labels, choicesFor(rb));
      if (!resolved.ok) throw new Error(`${rb.name}: ${resolved.problems.join('; ')}`);
      return rb.steps.map((step) => ({ rb, step, params: resolved.params, where: `${rb.name}/${step.id}` }));
    });

  it('describeStep produces a dry-run text for every step', () => {
    for (const { step, params, where } of everyStep()) {
      let text = '';
      expect(() => (text = describeStep(step, params)), where).not.toThrow();
      expect(text, where).toMatch(/^will /u);
      expect(text, where).not.toContain('{{');
      expect(text, where).not.toContain('invalid inputs');
    }
  });

  it('restart, restore, rollback and checkpoint steps change something, so they need approval', () => {
    for (const { step, where } of everyStep()) {
      if (['restart', 'restore', 'rollback', 'checkpoint'].includes(step.action)) {
        expect(step.changes, where).toBe(true);
        expect(step.approval?.approvers ?? 0, where).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('backups are read-only (they only add a verified file), so they can serve as pre-change checkpoints', () => {
    const backups = everyStep().filter(({ step }) => step.action === 'backup');
    expect(backups.length).toBeGreaterThan(0);
    for (const { step, where } of backups) expect(step.changes, where).toBe(false);
  });

  it('exec steps that restart, stop, kill, flush, delete or clean up are changing steps', () => {
    for (const { step, where } of everyStep()) {
      for (const argv of argvsOf(step)) {
        const reason = mutatingReason(argv);
        if (reason !== undefined) expect(step.changes, `${where}: ${reason}`).toBe(true);
      }
    }
  });

  it('read-only steps run without approval; destructive steps need two approvers', () => {
    for (const { step, where } of everyStep()) {
      if (!step.changes) expect(step.approval, where).toBeUndefined();
      if (step.danger) expect(step.approval?.approvers ?? 0, where).toBeGreaterThanOrEqual(2);
      if (step.changes) expect(step.approval?.selfApprove, where).toBe(false);
    }
  });

  it('FLUSHDB, KILL, deletions and restores are danger steps with two approvers', () => {
    const destructive = everyStep().filter(
      ({ step }) => step.action === 'restore' || argvsOf(step).some((argv) => argv.some((a) => /\b(FLUSHDB|FLUSHALL|KILL|DELETE\s+FROM)\b/u.test(a) || a === '-delete')),
    );
    expect(destructive.map((d) => d.where)).toEqual(
      expect.arrayContaining(['im-suite-memory/redis-flushdb', 'im-suite-mysql/kill-longest', 'approval-gin-maintenance/cleanup-audit', 'app-example-disk/delete-old-logs']),
    );
    for (const { step, where } of destructive) {
      expect(step.changes, where).toBe(true);
      expect(step.danger, where).toBe(true);
      expect(step.approval?.approvers, where).toBe(2);
    }
  });

  it('no step runs a shell: no sh/bash program or argument, no -c', () => {
    for (const { step, where } of everyStep()) {
      for (const argv of argvsOf(step)) {
        for (const arg of argv) {
          expect(SHELLS.has(path.basename(arg)), `${where}: ${arg}`).toBe(false);
          expect(arg, where).not.toBe('-c');
        }
      }
    }
  });

  it('titles fit a button (≤ 60 characters) and ids are short slugs', () => {
    for (const { step, where } of everyStep()) {
      expect(step.title.length, where).toBeLessThanOrEqual(60);
      expect(step.id, where).toMatch(/^[a-z0-9][a-z0-9_-]{0,39}$/u);
    }
  });

  it('a chosen param is picked in chat, or bound by a checkpoint’s Roll back button', () => {
    for (const rb of runbooks) {
      const rollbackTargets = new Set(rb.steps.flatMap((s) => (s.checkpoint ? [s.checkpoint.rollback] : [])));
      for (const step of rb.steps) {
        const chosen = stepParamNames(step).filter((name) => rb.params[name]?.chosen === true);
        if (chosen.length === 0) continue;
        const reachable = (step.pick !== undefined && chosen.includes(step.pick.param)) || rollbackTargets.has(step.id);
        expect(reachable, `${rb.name}/${step.id}`).toBe(true);
      }
      for (const step of rb.steps.filter((s) => s.checkpoint)) {
        const snapshot = rb.steps.find((s) => s.id === step.checkpoint?.step);
        // A backup taken then, or (GitCortex's upgrade rollback) the existing pre-upgrade backup named then.
        expect(['backup', 'locate'], `${rb.name}/${step.id}: the checkpoint step makes or names a backup file`).toContain(snapshot?.action);
      }
    }
  });

  it('a typed compose restart uses the same project as the system’s compose_file param', () => {
    const serviceOf = (rb: Runbook) => String(rb.match.service);
    const composeFiles = new Map<string, Set<string>>();
    for (const rb of runbooks) {
      const file = rb.params.compose_file?.default;
      if (file !== undefined) composeFiles.set(serviceOf(rb), new Set([...(composeFiles.get(serviceOf(rb)) ?? []), file]));
    }
    // One compose file per system, whichever runbook declares it.
    for (const [service, files] of composeFiles) expect(files.size, service).toBe(1);
    for (const rb of runbooks) {
      const [composeFile = ''] = composeFiles.get(serviceOf(rb)) ?? [];
      for (const step of rb.steps) {
        if (step.action !== 'restart' || step.with.kind !== 'compose') continue;
        expect(composeFile, `${rb.name}/${step.id}: the system declares compose_file`).not.toBe('');
        const projectDir = renderTemplate(String(step.with.projectDir), Object.fromEntries(Object.entries(rb.params).map(([k, v]) => [k, v.default ?? ''])));
        expect(projectDir, `${rb.name}/${step.id}`).toBe(path.dirname(composeFile));
        if (step.with.file !== undefined) expect(step.with.file, `${rb.name}/${step.id}`).toBe(path.basename(composeFile));
      }
    }
  });
});

describe('shipped runbooks: params', () => {
  const HOSTILE = ['', ' ', 'a b', 'x;reboot', '$(id)', '`id`', '-oProxyCommand=x', '--help', '../../etc/passwd', 'a/b', 'x\ny', 'a|b', "a'b", 'a"b', 'a&b', 'a>b'];

  it('label-sourced params have strict patterns that refuse shell and option tricks', () => {
    const fromLabels = runbooks.flatMap((rb) => Object.entries(rb.params).filter(([, spec]) => spec.fromLabel !== undefined).map(([name, spec]) => ({ where: `${rb.name}.${name}`, spec })));
    expect(fromLabels.length).toBeGreaterThan(0);
    for (const { where, spec } of fromLabels) {
      expect(['.*', '.+', '[^]*', '[\\s\\S]*', '[\\s\\S]+'], where).not.toContain(spec.pattern);
      for (const value of HOSTILE) expect(valueProblem(value, spec.pattern), `${where} accepts ${JSON.stringify(value)}`).toBeDefined();
    }
  });

  it('no param pattern accepts anything', () => {
    for (const rb of runbooks) {
      for (const [name, spec] of Object.entries(rb.params)) {
        expect(valueProblem('a b;c', spec.pattern), `${rb.name}.${name}`).toBeDefined();
      }
    }
  });

  it('paths, ports, units and database names are params with defaults, not literals in steps', () => {
    for (const rb of runbooks) {
      for (const step of rb.steps) {
        const where = step.action === 'exec' ? step.cwd : step.action === 'restart' || step.action === 'rollback' ? (step.with as { cwd?: string; projectDir?: string }).cwd ?? (step.with as { projectDir?: string }).projectDir : undefined;
        if (where !== undefined && !where.includes('{{')) throw new Error(`${rb.name}/${step.id}: literal working directory ${where}`);
        for (const argv of argvsOf(step)) {
          // sed's script (`/pattern/p`) looks like a path but is not one.
          const args = path.basename(argv[0] ?? '') === 'sed' ? argv.slice(3) : argv.slice(1);
          for (const arg of args) {
            // Absolute paths inside argv come from params.
            if (arg.startsWith('/') && !arg.includes('{{')) throw new Error(`${rb.name}/${step.id}: literal path ${arg}`);
          }
        }
      }
    }
  });
});

interface RuleFile {
  groups: { name: string; rules: { alert?: string; expr: string; labels?: Labels }[] }[];
}

describe('shipped Prometheus rules', () => {
  const files = readdirSync(RULES_DIR).filter((f) => /\.ya?ml$/u.test(f)).sort();
  let doc = '';
  beforeAll(() => {
    doc = readFileSync(DOC, 'utf8');
  });

  it('there is one rule file per reference system', () => {
    expect(files.map((f) => f.replace(/\.ya?ml$/u, ''))).toEqual(Object.keys(SYSTEMS).sort());
  });

  it.each(files)('%s parses, and every rule is in the alert table and reaches a runbook', (file) => {
    const service = file.replace(/\.ya?ml$/u, '');
    const parsed = parse(readFileSync(path.join(RULES_DIR, file), 'utf8')) as RuleFile;
    expect(Array.isArray(parsed.groups)).toBe(true);
    const rules = parsed.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(0);
    const cases = SYSTEMS[service] ?? [];
    for (const rule of rules) {
      expect(typeof rule.alert, JSON.stringify(rule)).toBe('string');
      expect(typeof rule.expr).toBe('string');
      expect(rule.labels?.service).toBe(service);
      expect(rule.labels?.severity).toMatch(/^(critical|warning|info)$/u);
      const alertname = rule.alert ?? '';
      expect(cases.map((c) => c.labels.alertname)).toContain(alertname);
      expect(doc).toContain(alertname);
      const labels = { ...cases.find((c) => c.labels.alertname === alertname)?.labels, ...rule.labels, alertname };
      expect(matchingRunbooks(runbooks, labels).length, alertname).toBeGreaterThan(0);
    }
    // …and every alert of the system has a rule.
    expect(cases.map((c) => c.labels.alertname).filter((name) => !rules.some((r) => r.alert === name))).toEqual([]);
  });

  it('docs/runbooks.md names every runbook and every step', () => {
    for (const rb of runbooks) {
      expect(doc, rb.name).toContain(`\`${rb.name}\``);
      for (const step of rb.steps) expect(doc, `${rb.name}/${step.id}`).toContain(step.title);
    }
  });
});
