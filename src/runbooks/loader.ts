import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { load as loadPlainYaml } from 'js-yaml';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { mapConcurrently } from '../domain/concurrently.js';
import { RunbookError } from '../domain/errors.js';
import { runbookSchema, type Runbook } from './schema.js';

const MANIFEST_FILE = /\.ya?ml$/;
/** Files read concurrently: enough to hide the disk's latency, far from the open-files limit. */
const READ_AT_ONCE = 32;

/**
 * Parses and validates one manifest. `source` names it in error messages (usually the file path).
 * Throws `RunbookError` with one line per problem, each `source: path.inside: message`.
 */
export function parseRunbook(text: string, source: string): Runbook {
  const data = manifestData(text, source);
  const result = runbookSchema.safeParse(data, { error: requiredMessage });
  if (!result.success) {
    throw new RunbookError(result.error.issues.map((issue) => `${source}: ${describeIssue(issue)}`).join('\n'));
  }
  return result.data;
}

/**
 * The manifest as data. js-yaml reads a plain manifest (no alias, no complex key) about five times
 * faster than yaml's Document API, and manifests were a fifth of start-up; both implement YAML
 * 1.2's core schema, so they give the same data. Whatever js-yaml refuses (a syntax error, an
 * alias, a complex key, an empty file) is read again by yaml, for its messages with line numbers
 * and its bound on alias expansion.
 */
function manifestData(text: string, source: string): unknown {
  try {
    return loadPlainYaml(text, { maxAliases: 0 });
  } catch {
    return carefulManifestData(text, source);
  }
}

function carefulManifestData(text: string, source: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const syntaxError = doc.errors[0];
  if (syntaxError) {
    const { line } = lineCounter.linePos(syntaxError.pos[0]);
    throw new RunbookError(`${source}: YAML syntax error at line ${line}: ${syntaxError.message}`, { cause: syntaxError });
  }
  try {
    // toJS enforces yaml's alias limit, so a "billion laughs" document fails here instead of exhausting memory.
    return doc.toJS();
  } catch (error) {
    throw new RunbookError(`${source}: YAML error: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** The manifest files directly in `dir`, sorted by name (not recursive). */
async function manifestFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((name) => MANIFEST_FILE.test(name))
      .sort()
      .map((name) => path.join(dir, name));
  } catch (error) {
    throw new RunbookError(`runbook directory ${dir} cannot be read: ${errorCode(error)}`, { cause: error });
  }
}

/**
 * Loads every `*.yaml` / `*.yml` directly in each directory, in order. Runbook names are unique
 * across all of them. All problems in all files are reported together in one `RunbookError`, so a
 * deploy shows everything to fix at once.
 */
export async function loadRunbooks(dirs: string | readonly string[]): Promise<Runbook[]> {
  const files: string[] = [];
  for (const dir of typeof dirs === 'string' ? [dirs] : dirs) files.push(...(await manifestFiles(dir)));

  // Read several at a time (not one disk round trip after another), then parsed in order.
  const texts = await mapConcurrently(files, READ_AT_ONCE, readManifest);
  const problems: string[] = [];
  const runbooks: Runbook[] = [];
  const fileOf = new Map<string, string>();
  files.forEach((file, index) => {
    const text = texts[index];
    if (text === undefined) return;
    if (typeof text !== 'string') {
      problems.push(`${file}: cannot be read: ${errorCode(text.error)}`);
      return;
    }
    try {
      const runbook = parseRunbook(text, file);
      const earlier = fileOf.get(runbook.name);
      if (earlier !== undefined) {
        problems.push(`${file}: name: duplicate runbook name "${runbook.name}" (already defined in ${earlier})`);
        return;
      }
      fileOf.set(runbook.name, file);
      runbooks.push(runbook);
    } catch (error) {
      if (error instanceof RunbookError) problems.push(error.message);
      else throw error;
    }
  });
  if (problems.length > 0) throw new RunbookError(problems.join('\n'));
  return runbooks;
}

/** The file's text; undefined for what is not a file (a directory named `x.yaml`). */
async function readManifest(file: string): Promise<string | undefined | { error: unknown }> {
  try {
    // stat follows symlinks: Kubernetes ConfigMap volumes present every file as a symlink.
    if (!(await stat(file)).isFile()) return undefined;
    return await readFile(file, 'utf8');
  } catch (error) {
    return { error };
  }
}

/** zod's message for a missing field is long-winded; manifests read better with "Required". */
function requiredMessage(issue: z.core.$ZodRawIssue): string | undefined {
  return issue.code === 'invalid_type' && issue.input === undefined ? 'Required' : undefined;
}

/** `steps.1.run: Required`; record-key issues carry their real reason one level down. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
  const message =
    issue.code === 'invalid_key' ? `invalid key: ${issue.issues.map((inner) => inner.message).join('; ')}` : issue.message;
  return `${where}: ${message}`;
}

function errorCode(error: unknown): string {
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return String(error);
}
