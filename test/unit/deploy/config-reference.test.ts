import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runnerEnvSchema } from '../../../src/runner/config.js';
import { ROOT, schemaDefault, schemaKeys } from './deploy-kit.js';

/*
 * The configuration reference: every variable the bot's zod schema (src/settings/config.ts) reads is
 * documented in README.md's configuration table and in .env.example, and neither documents a
 * variable the schema does not know. Both files and the schema are read when the test runs, so a
 * variable added to the schema fails here until it is documented, with the difference printed.
 * The runner's variables (src/runner/config.ts) are held to the same rules: the table under
 * README.md's "## Deploying a runner" and the runner part at the end of .env.example.
 */

const VARIABLE = /^[A-Z][A-Z0-9_]*$/;

interface Documented {
  name: string;
  /** The default column (README) or the assigned value (.env.example), as written. */
  value: string;
  line: number;
}

/** Rows `| \`NAME\` | default | meaning |` of the tables under README.md's "## <section>". */
function readmeVariables(section = 'Configuration'): Documented[] {
  const lines = readFileSync(path.join(ROOT, 'README.md'), 'utf8').split(/\r?\n/);
  const start = lines.findIndex((line) => line.trim() === `## ${section}`);
  if (start < 0) throw new Error(`README.md has no "## ${section}" section`);
  const rows: Documented[] = [];
  for (let i = start + 1; i < lines.length && !/^##\s/.test(lines[i] ?? ''); i += 1) {
    const match = /^\|\s*`([^`]+)`\s*\|([^|]*)\|/.exec(lines[i] ?? '');
    if (match?.[1] && VARIABLE.test(match[1])) rows.push({ name: match[1], value: (match[2] ?? '').trim(), line: i + 1 });
  }
  return rows;
}

/** Where .env.example's runner part begins: the bot's settings are above it, the runner's below. */
const RUNNER_PART = /^# RUNNER \(npm run runner/;

/**
 * Lines `NAME=value` of .env.example's bot part (or its runner part); commented-out assignments
 * (`# NAME=value`) count too.
 */
function envExampleVariables(part: 'bot' | 'runner' = 'bot'): Documented[] {
  const all = readFileSync(path.join(ROOT, '.env.example'), 'utf8').split(/\r?\n/);
  const split = all.findIndex((line) => RUNNER_PART.test(line));
  if (split < 0) throw new Error('.env.example has no runner part (a line "# RUNNER (npm run runner …")');
  const lines = all.map((line, i) => ((part === 'bot') === i < split ? line : ''));
  return lines.flatMap((line, i) => {
    const match = /^#?\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    return match?.[1] ? [{ name: match[1], value: (match[2] ?? '').trim().replace(/^(['"])(.*)\1$/, '$2'), line: i + 1 }] : [];
  });
}

/** What differs between the schema and one document, one line per problem. */
function differences(document: string, documented: Documented[], schema: string[]): string[] {
  const names = documented.map((d) => d.name);
  const missing = schema.filter((name) => !names.includes(name)).map((name) => `${document} does not document ${name} (in the zod schema)`);
  const stale = documented
    .filter((d) => !schema.includes(d.name))
    .map((d) => `${document}:${d.line} documents ${d.name}, which the zod schema does not know (stale)`);
  const repeated = documented
    .filter((d, i) => names.indexOf(d.name) !== i)
    .map((d) => `${document}:${d.line} documents ${d.name} a second time`);
  return [...missing, ...stale, ...repeated];
}

describe("the runner's configuration reference (README.md's runner section, the end of .env.example)", () => {
  const schema = schemaKeys(runnerEnvSchema);

  it('documents exactly the runner schema\'s variables, each once, in both', () => {
    expect(schema).toEqual(expect.arrayContaining(['BOT_URL', 'RUNNER_NAME', 'RUNNER_TOKEN', 'RUNBOOKS_DIR', 'RUNNER_STATE_DIR']));
    const problems = [
      ...differences('README.md (Deploying a runner)', readmeVariables('Deploying a runner'), schema),
      ...differences('.env.example (runner part)', envExampleVariables('runner'), schema),
    ];
    expect(problems, `runner documentation vs src/runner/config.ts runnerEnvSchema:\n  ${problems.join('\n  ')}\n`).toEqual([]);
  });

  it('with the runner\'s defaults, and commented out in .env.example so that a bot reading it as .env sets none', () => {
    const problems: string[] = [];
    for (const row of readmeVariables('Deploying a runner')) {
      const actual = schemaDefault(row.name, runnerEnvSchema);
      const code = /^`([^`]*)`$/.exec(row.value)?.[1];
      if (code !== undefined && code !== actual) problems.push(`README.md:${row.line} ${row.name} default \`${code}\`, runner schema default ${actual ?? '(none)'}`);
      if (/^(—|-|–|)$/.test(row.value) && actual !== undefined) problems.push(`README.md:${row.line} ${row.name} says no default, runner schema default ${actual}`);
    }
    for (const line of envExampleVariables('runner')) {
      const actual = schemaDefault(line.name, runnerEnvSchema);
      if (line.value !== '' && line.value !== actual) problems.push(`.env.example:${line.line} ${line.name}=${line.value}, runner schema default ${actual ?? '(none)'}`);
    }
    expect(problems).toEqual([]);
    const text = readFileSync(path.join(ROOT, '.env.example'), 'utf8').split(/\r?\n/);
    const runnerPart = text.slice(text.findIndex((line) => RUNNER_PART.test(line)));
    expect(runnerPart.filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line)), 'uncommented runner settings').toEqual([]);
  });
});

describe('configuration reference (README.md, .env.example) against the zod env schema', () => {
  const schema = schemaKeys();

  it('reads a non-trivial schema and both documents', () => {
    expect(schema.length).toBeGreaterThan(10);
    expect(schema).toContain('PORT');
    expect(readmeVariables().length).toBeGreaterThan(0);
    expect(envExampleVariables().length).toBeGreaterThan(0);
  });

  it('reads the variable names through whatever wraps the object schema', () => {
    const object = z.object({ A: z.string(), B: z.coerce.number().default(1) });
    const names = ['A', 'B'];
    expect(schemaKeys(object)).toEqual(names);
    expect(schemaKeys(object.superRefine(() => undefined))).toEqual(names);
    expect(schemaKeys(object.transform((v) => ({ ...v, c: 1 })))).toEqual(names);
    expect(schemaKeys(z.preprocess((v) => v, object))).toEqual(names);
    expect(schemaKeys(object.optional().default({ A: 'a', B: 1 }))).toEqual(names);
    expect(schemaKeys(z.intersection(object, z.object({ C: z.string() })))).toEqual([...names, 'C']);
  });

  it("README.md's configuration table documents exactly the schema's variables", () => {
    const problems = differences('README.md', readmeVariables(), schema);
    expect(problems, `README.md configuration table vs src/settings/config.ts envSchema:\n  ${problems.join('\n  ')}\n`).toEqual([]);
  });

  it('.env.example lists exactly the schema\'s variables', () => {
    const problems = differences('.env.example', envExampleVariables(), schema);
    expect(problems, `.env.example vs src/settings/config.ts envSchema:\n  ${problems.join('\n  ')}\n`).toEqual([]);
  });

  it('the documented defaults are the schema defaults', () => {
    const problems: string[] = [];
    for (const row of readmeVariables()) {
      if (!schema.includes(row.name)) continue; // reported as stale above
      const actual = schemaDefault(row.name);
      // A default written as one code span is a value; "—" means none; prose ("Slack's") is not checked.
      const code = /^`([^`]*)`$/.exec(row.value)?.[1];
      const none = /^(—|-|–|)$/.test(row.value);
      if (code !== undefined && code !== actual) problems.push(`README.md:${row.line} ${row.name} default \`${code}\`, schema default ${actual ?? '(none)'}`);
      if (none && actual !== undefined) problems.push(`README.md:${row.line} ${row.name} says no default, schema default ${actual}`);
    }
    for (const line of envExampleVariables()) {
      if (!schema.includes(line.name) || line.value === '') continue;
      const actual = schemaDefault(line.name);
      if (line.value !== actual) problems.push(`.env.example:${line.line} ${line.name}=${line.value}, schema default ${actual ?? '(none)'}`);
    }
    expect(problems, `documented defaults vs src/settings/config.ts envSchema:\n  ${problems.join('\n  ')}\n`).toEqual([]);
  });
});
