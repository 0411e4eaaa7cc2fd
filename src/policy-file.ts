import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { ConfigError } from './core/errors.js';
import { defaultPolicy, policySchema, type Policy } from './core/policy-schema.js';

/**
 * The approval policy: from POLICY_FILE when set (YAML, validated; every problem named with its
 * path), else the built-in default with APPROVERS as the approvers.
 */
export async function loadPolicy(file: string | undefined, approvers: readonly string[]): Promise<Policy> {
  if (file === undefined) return defaultPolicy(approvers);
  let data: unknown;
  try {
    data = parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${file}: cannot read the policy: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = policySchema.safeParse(data ?? {});
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n'));
  }
  return parsed.data;
}
