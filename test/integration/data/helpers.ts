import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { parseRunbook, runStep, type ActionContext, type RunbookStep, type StepResult } from '../../../src/runbooks/index.js';
import { describeStep } from '../../../src/runbooks/actions/index.js';

/** Temp directories made by this test file, removed when it ends. */
const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

export async function tempDir(label = 'data'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `chatops-${label}-`));
  made.push(dir);
  return dir;
}

/** A short unique suffix for database, table and key names. */
export const unique = () => `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

export interface StepOptions {
  timeoutSeconds?: number;
  env?: string[];
  params?: Record<string, { default: string; pattern: string }>;
}

/** One step, through the real manifest parser (so the inputs are validated as at load time). */
export function dataStep(action: 'checkpoint' | 'backup' | 'restore' | 'locate', inputs: Record<string, unknown>, options: StepOptions = {}): RunbookStep {
  const step = {
    id: 'step',
    title: `${action} test`,
    action,
    changes: action === 'backup' || action === 'restore',
    with: inputs,
    ...(options.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
  };
  // JSON is YAML: the manifest is written as flow mappings.
  const manifest = `name: data-test\nmatch: {}\nparams: ${JSON.stringify(options.params ?? {})}\nsteps:\n  - ${JSON.stringify(step)}\n`;
  const runbook = parseRunbook(manifest, 'data-test.yaml');
  const [parsed] = runbook.steps;
  if (!parsed) throw new Error('no step parsed');
  return parsed;
}

export function context(): ActionContext {
  return { signal: new AbortController().signal, redact: (s) => s, env: process.env };
}

export interface Ran extends StepResult {
  description: string;
}

/** Parses the step like a manifest does, describes it, and runs it through runStep. */
export async function run(action: 'checkpoint' | 'backup' | 'restore', inputs: Record<string, unknown>, options: StepOptions & { values?: Record<string, string> } = {}): Promise<Ran> {
  const step = dataStep(action, inputs, options);
  const values = options.values ?? {};
  const description = describeStep(step, values);
  const result = await runStep(step, values, context());
  return { ...result, description };
}

export const fact = (result: StepResult, label: string): string | undefined => result.facts?.find((f) => f.label === label)?.value;

/** Every entry of a directory, hidden ones included, sorted. */
export async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

export async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** A readable assertion message: the result as JSON. */
export const show = (result: StepResult) => JSON.stringify(result, null, 2);
