import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { envSchema } from '../../../src/settings/config.js';

/** Helpers shared by the deployment tests: the repository root and what the bot's schema knows. */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

type AnySchema = z.core.$ZodType;

function isSchema(value: unknown): value is AnySchema {
  return typeof value === 'object' && value !== null && '_zod' in value;
}

/**
 * The object schemas inside `schema`: the schema itself when it is an object, otherwise whatever
 * it wraps (optional/default/readonly/catch, pipes from `.transform`/`.pipe`/`z.preprocess`,
 * unions and intersections), so wrapping `envSchema` later does not hide its fields.
 */
function objectSchemas(schema: AnySchema): z.ZodObject[] {
  if (schema instanceof z.ZodObject) return [schema];
  const def = schema._zod.def as unknown as Record<string, unknown>;
  const children: AnySchema[] = [];
  for (const key of ['innerType', 'in', 'out', 'left', 'right', 'schema']) {
    const child = def[key];
    if (isSchema(child)) children.push(child);
  }
  const options = def.options;
  if (Array.isArray(options)) children.push(...options.filter(isSchema));
  return children.flatMap(objectSchemas);
}

/** Every field of the environment schema (or of `schema`), by variable name. */
export function schemaFields(schema: AnySchema = envSchema): Map<string, AnySchema> {
  const fields = new Map<string, AnySchema>();
  for (const object of objectSchemas(schema)) {
    const shape: Record<string, unknown> = object.shape;
    for (const [name, field] of Object.entries(shape)) if (isSchema(field)) fields.set(name, field);
  }
  if (fields.size === 0) throw new Error('found no object schema inside envSchema (src/settings/config.ts)');
  return fields;
}

/** Every variable name the bot's zod schema (or `schema`) knows, sorted. */
export function schemaKeys(schema: AnySchema = envSchema): string[] {
  return [...schemaFields(schema).keys()].sort();
}

/** The default the bot's schema (or `schema`) applies when the variable is absent, as a string; undefined when none. */
export function schemaDefault(name: string, schema: AnySchema = envSchema): string | undefined {
  const walk = (schema: AnySchema): unknown => {
    const def = schema._zod.def as unknown as Record<string, unknown>;
    if (def.type === 'default' || def.type === 'prefault') return def.defaultValue;
    for (const key of ['innerType', 'in']) {
      const child = def[key];
      if (isSchema(child)) return walk(child);
    }
    return undefined;
  };
  const field = schemaFields(schema).get(name);
  const value = field === undefined ? undefined : walk(field);
  if (value === undefined || value === '') return undefined;
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
}

/** The absolute path of an executable, from a fixed location first and then PATH; undefined when absent. */
export function findExecutable(name: string, preferred?: string): string | undefined {
  const candidates = [...(preferred ? [preferred] : []), ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, name))];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs a program without a shell; its exit status and both outputs. */
export function run(program: string, args: string[], cwd = ROOT): { status: number | null; output: string } {
  const result = spawnSync(program, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

/** Whether tests that need a tool must run: in CI a missing tool is a failure, locally a skip. */
export const IN_CI = process.env.CI === 'true';

export type Unit = Map<string, Map<string, string[]>>;

/**
 * A systemd unit read as INI: `[Section]` headers, `Key=Value` lines (a key may repeat, values
 * kept in order), `#`/`;` comments, and lines continued with a trailing backslash.
 */
export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header?.[1]) {
      if (unit.has(header[1])) throw new Error(`line ${i + 1}: section [${header[1]}] twice`);
      section = new Map();
      unit.set(header[1], section);
      return;
    }
    const pair = /^([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*)$/.exec(line);
    if (!pair?.[1] || pair[2] === undefined) throw new Error(`line ${i + 1}: not a Key=Value line: ${line}`);
    if (!section) throw new Error(`line ${i + 1}: ${pair[1]} outside any section`);
    section.set(pair[1], [...(section.get(pair[1]) ?? []), pair[2]]);
  });
  return unit;
}

/** systemd time spans (`30`, `30s`, `1min 30s`, `500ms`) in seconds. */
export function timespan(value: string): number {
  const units: Record<string, number> = { us: 1e-6, ms: 0.001, '': 1, s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600 };
  let total = 0;
  const rest = value.replace(/(\d+(?:\.\d+)?)\s*(us|ms|sec|s|min|m|hr|h|)\b/g, (_all, n: string, unit: string) => {
    total += Number(n) * (units[unit] ?? Number.NaN);
    return '';
  });
  if (rest.trim() !== '') throw new Error(`not a time span: ${value}`);
  return total;
}
