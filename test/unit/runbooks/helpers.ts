import { useTempDirs as useSharedTempDirs } from '../../support/temp-dir.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { parseRunbook, type ActionContext, type Runbook } from '../../../src/runbooks/index.js';

/** Temp dirs for runbook tests, removed after each test. */
export const useTempDirs = (): (() => Promise<string>) => useSharedTempDirs('runbooks-test');

/** The manifest from the runbook docs; tests vary it. */
export const EXAMPLE_MANIFEST = `
name: gitcortex-db
description: optional text
match: { service: gitcortex, alertname: [GitCortexDown, HighLatency] }
params:
  instance: { fromLabel: instance, pattern: '^[a-z0-9.-]+:[0-9]+$' }
  unit: { default: gitcortex, pattern: '^[a-z0-9@._-]+$' }
steps:
  - id: health
    title: Health check
    action: http
    with: { url: 'http://{{instance}}/api/health', expectStatus: 200, method: GET, timeoutSeconds: 10 }
  - id: restart
    title: Restart GitCortex
    action: exec
    run: [systemctl, restart, '{{unit}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
`;

/** Builds a runbook from a YAML fragment of steps plus params, through the real parser. */
export function runbookWith(paramsYaml: string, stepsYaml: string): Runbook {
  return parseRunbook(`name: test\nmatch: {}\nparams:\n${paramsYaml}\nsteps:\n${stepsYaml}\n`, 'test.yaml');
}

export const SECRET = 'hunter2-super-secret-value';

/** An action context with a redactor that knows SECRET and a plain environment. */
export function context(env: NodeJS.ProcessEnv = { PATH: process.env.PATH }, signal = new AbortController().signal): ActionContext {
  return { signal, redact: createRedactor([SECRET]), env };
}
