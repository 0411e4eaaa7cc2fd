import type { TypedActionName } from '../../src/runbooks/actions/typed-names.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseRunbook, runStep, type RunbookStep, type StepResult } from '../../src/runbooks/index.js';

/*
 * Building and running operation-action steps in tests: through the real manifest parser (JSON is
 * YAML) and the real `runStep`, with the plain context the bot would give.
 */

export interface StepOptions {
  /** Param name → default value (pattern `.+`), so inputs can use {{name}}. */
  params?: Record<string, string>;
  timeoutSeconds?: number;
  env?: string[];
}

/** One step `action` with `with: inputs`, parsed by parseRunbook as a whole manifest. */
export function opsStep(action: TypedActionName, inputs: unknown, o: StepOptions = {}): RunbookStep {
  const params = Object.fromEntries(Object.entries(o.params ?? {}).map(([name, value]) => [name, { default: value, pattern: '.+' }]));
  const step = { id: 'op', title: action, action, with: inputs, timeoutSeconds: o.timeoutSeconds ?? 20, ...(o.env ? { env: o.env } : {}) };
  const runbook = parseRunbook(JSON.stringify({ name: 'ops-test', match: {}, params, steps: [step] }), 'ops-test.yaml');
  const [parsed] = runbook.steps;
  if (!parsed) throw new Error('no step parsed');
  return parsed;
}

export function runOps(step: RunbookStep, params: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): Promise<StepResult> {
  return runStep(step, params, { signal: new AbortController().signal, redact: (s) => s, env });
}

/** The value of a fact, by label. */
export function fact(result: StepResult, label: string): string | undefined {
  return result.facts?.find((f) => f.label === label)?.value;
}

export interface FakeHttp {
  url: string;
  requests: URL[];
  close(): Promise<void>;
}

/** A local HTTP server whose answers the test decides (request number from 1). */
export async function fakeHttp(answer: (url: URL, n: number) => { status: number; body?: string; headers?: Record<string, string> }): Promise<FakeHttp> {
  const requests: URL[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(url);
    const a = answer(url, requests.length);
    res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
    res.end(a.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
