import { defaultPolicy, policySchema, type Policy } from './core/policy-schema.js';
import { loadYamlFile } from './yaml-file.js';

/** The approval policy: from POLICY_FILE when set, else the built-in default with APPROVERS as the approvers. */
export async function loadPolicy(file: string | undefined, approvers: readonly string[]): Promise<Policy> {
  return file === undefined ? defaultPolicy(approvers) : loadYamlFile(file, policySchema, 'policy');
}
