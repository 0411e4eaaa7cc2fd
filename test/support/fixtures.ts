/**
 * Recorded fixtures shared between worktrees. They live beside the repository, in
 * `../shared/fixtures/` relative to the repo root (this is the only file that knows that path);
 * `FIXTURES_DIR` overrides it.
 *
 *   loadFixture('alertmanager-0.25/firing-single.json')   // or just 'firing-single.json'
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULT_SET = 'alertmanager-0.25';

export function fixturesDir(): string {
  return process.env.FIXTURES_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'fixtures');
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
      `fixture "${name}" not found at ${path}. Fixtures are expected in ../shared/fixtures next to the repository ` +
        `(set FIXTURES_DIR to point elsewhere).`,
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
