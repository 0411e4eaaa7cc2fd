import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED } from '../../../src/domain/redact.js';
import { describeStep, runStep, type RunbookStep } from '../../../src/runbooks/index.js';
import { SECRET, context, runbookWith } from './helpers.js';

const BIG_BODY = `${'z'.repeat(100 * 1024)}needle-after-64k`;
const requests: string[] = [];

// A throwaway server with one route per behaviour under test.
const server = http.createServer((req, res) => {
  requests.push(`${req.method} ${req.url}`);
  switch (req.url) {
    case '/health':
      res.end('status: ok\n');
      return;
    case '/fail':
      res.writeHead(500).end('boom\n');
      return;
    case '/slow':
      setTimeout(() => res.end('late'), 5000).unref();
      return;
    case '/big':
      res.end(BIG_BODY);
      return;
    case '/secret':
      res.end(`the key is ${SECRET}\n`);
      return;
    default:
      res.writeHead(404).end();
  }
});
let base = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** One http step whose URL is `{{target}}` filled from a permissive param, so tests can point it anywhere. */
function httpStep(request: Record<string, unknown>, step: Record<string, unknown> = {}): RunbookStep {
  const runbook = runbookWith(
    '  target: { fromLabel: target, pattern: ".+" }',
    `  - ${JSON.stringify({ id: 'check', title: 'Check', action: 'http', ...step, with: { url: '{{target}}', ...request } })}`,
  );
  const [parsed] = runbook.steps;
  if (!parsed) throw new Error('no step');
  return parsed;
}

const run = (step: RunbookStep, target: string) => runStep(step, { target }, context());

describe('http steps', () => {
  it('succeeds on the expected status', async () => {
    const result = await run(httpStep({}), `http://${base}/health`);
    expect(result).toMatchObject({ status: 'succeeded', httpStatus: 200, outputTail: 'status: ok' });
    expect(result.summary).toMatch(/^HTTP 200 in \d+ ms$/);
  });

  it('fails on an unexpected status, and accepts any of a list', async () => {
    const failed = await run(httpStep({}), `http://${base}/fail`);
    expect(failed).toMatchObject({ status: 'failed', httpStatus: 500, outputTail: 'boom' });
    expect(failed.summary).toMatch(/^HTTP 500 in \d+ ms \(expected 200\)$/);

    const listed = await run(httpStep({ expectStatus: [500, 503] }), `http://${base}/fail`);
    expect(listed.status).toBe('succeeded');
  });

  it('checks bodyContains', async () => {
    expect((await run(httpStep({ bodyContains: 'status: ok' }), `http://${base}/health`)).status).toBe('succeeded');
    const missing = await run(httpStep({ bodyContains: 'healthy' }), `http://${base}/health`);
    expect(missing.status).toBe('failed');
    expect(missing.summary).toMatch(/^HTTP 200 in \d+ ms, but the body does not contain "healthy"$/);
  });

  it('reads at most 64 KiB of the body', async () => {
    const result = await run(httpStep({ bodyContains: 'needle-after-64k' }), `http://${base}/big`);
    expect(result.status).toBe('failed');
    expect(result.outputTail.length).toBeLessThanOrEqual(1500);
  });

  it('sends the configured method', async () => {
    requests.length = 0;
    expect((await run(httpStep({ method: 'HEAD' }), `http://${base}/health`)).status).toBe('succeeded');
    expect((await run(httpStep({ method: 'POST' }), `http://${base}/health`)).status).toBe('succeeded');
    expect(requests).toEqual(['HEAD /health', 'POST /health']);
  });

  it('redacts the body tail', async () => {
    const result = await run(httpStep({}), `http://${base}/secret`);
    expect(result.outputTail).toBe(`the key is ${REDACTED}`);
  });

  it('fails with the error code when the connection is refused', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const result = await run(httpStep({}), `http://127.0.0.1:${port}/health`);
    expect(result).toMatchObject({ status: 'failed', summary: 'request failed: ECONNREFUSED' });
    expect(result.httpStatus).toBeUndefined();
  });

  it('times out', async () => {
    const result = await run(httpStep({ timeoutSeconds: 1 }), `http://${base}/slow`);
    expect(result).toMatchObject({ status: 'timed_out', summary: 'timed out after 1s' });
    expect(result.durationMs).toBeGreaterThanOrEqual(900);
    expect(result.durationMs).toBeLessThan(4000);
  });

  it.each([['file:///etc/passwd'], ['not a url'], ['ftp://example.com/'], ['javascript:alert(1)']])(
    'rejects %j without making a request',
    async (target) => {
      requests.length = 0;
      const result = await run(httpStep({}), target);
      expect(result).toEqual({ status: 'failed', summary: `not an http(s) URL: ${JSON.stringify(target)}`, durationMs: 0, outputTail: '' });
      expect(requests).toEqual([]);
    },
  );

  it('describes what it would do', () => {
    const step = httpStep({ expectStatus: [200, 204], bodyContains: 'ok' }, { timeoutSeconds: 30 });
    expect(describeStep(step, { target: 'http://db1:8080/api/health' })).toBe(
      'will GET http://db1:8080/api/health expecting 200 or 204 and a body containing "ok" (timeout 30s)',
    );
  });
});
