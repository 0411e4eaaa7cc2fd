/**
 * Recorded fixtures, in `test/fixtures/`; `FIXTURES_DIR` overrides the folder.
 *
 *   loadFixture('alertmanager-0.25/firing-single.json')   // or just 'firing-single.json'
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULT_SET = 'alertmanager-0.25';

export function fixturesDir(): string {
  return process.env.FIXTURES_DIR ?? resolve(REPO_ROOT, 'test', 'fixtures');
}

/** Absolute path of a fixture; a bare file name is looked up in `alertmanager-0.25/`. */
export function fixturePath(name: string): string {
  if (isAbsolute(name) || name.includes('..')) throw new Error(`fixture names are relative and stay inside the fixtures dir: ${name}`);
  const base = fixturesDir();
  const direct = join(base, name);
  if (existsSync(direct) || name.includes('/')) return direct;
  return join(base, DEFAULT_SET, name);
}

/** The raw text of a fixture. */
export function loadFixtureText(name: string): string {
  const path = fixturePath(name);
  if (!existsSync(path)) {
    throw new Error(
      `fixture "${name}" not found at ${path}. Fixtures live in test/fixtures (set FIXTURES_DIR to point elsewhere).`,
    );
  }
  return readFileSync(path, 'utf8');
}

/** A fixture, JSON-parsed when it is a .json file. */
export function loadFixture<T = unknown>(name: string): T {
  const text = loadFixtureText(name);
  if (!name.endsWith('.json')) return text as T;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`fixture "${name}" is not valid JSON: ${(err as Error).message}`);
  }
}

/** The parts of an Alertmanager notification the storm tests change. */
export interface ServiceNotification {
  groupKey: string;
  alerts: Array<{ labels: Record<string, string>; fingerprint: string }>;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
}

/**
 * The single-alert fixture as the group of service `svc-<i>`: a notification of its own, whose
 * alert's fingerprint is `i` in hex followed by `suffix` (each test its own, so stores never mix).
 */
export function serviceNotification(i: number, suffix: string): ServiceNotification {
  const n = loadFixture<ServiceNotification>('firing-single.json');
  const service = `svc-${i}`;
  n.groupKey = `{}:{alertname="GitCortexDown", service="${service}"}`;
  n.groupLabels = { ...n.groupLabels, service };
  n.commonLabels = { ...n.commonLabels, service };
  n.alerts = n.alerts.map((a) => ({ ...a, labels: { ...a.labels, service }, fingerprint: `${i.toString(16).padStart(4, '0')}${suffix}` }));
  return n;
}
