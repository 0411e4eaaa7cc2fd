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

/** The default the schema applies when the variable is absent, as a string; undefined when none. */
export function schemaDefault(name: string): string | undefined {
  const walk = (schema: AnySchema): unknown => {
    const def = schema._zod.def as unknown as Record<string, unknown>;
    if (def.type === 'default' || def.type === 'prefault') return def.defaultValue;
    for (const key of ['innerType', 'in']) {
      const child = def[key];
      if (isSchema(child)) return walk(child);
    }
    return undefined;
  };
  const field = schemaFields().get(name);
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
