import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../domain/errors.js';

/** Reads a YAML settings file and validates it; every problem is named with the file and the path inside it. */
export async function loadYamlFile<S extends z.ZodType>(file: string, schema: S, what: string): Promise<z.output<S>> {
  let data: unknown;
  try {
    data = parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${file}: cannot read the ${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = schema.safeParse(data ?? {});
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n'));
  return parsed.data;
}
