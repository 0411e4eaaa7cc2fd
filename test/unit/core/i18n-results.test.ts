import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedactor } from '../../../src/domain/redact.js';
import { useLocale, type LocaleSetting } from '../../../src/core/i18n/index.js';
import { resultDetails, resultSummary, stepDescription } from '../../../src/core/result-text.js';
import { localStepRunner, type RunbookStep } from '../../../src/runbooks/index.js';
import { parseRunbook } from '../../../src/runbooks/loader.js';
import { englishIn } from '../../support/no-english.js';

/**
 * Step results the runbook actions say as a code with values reach a zh-CN bot in Chinese: real
 * HTTP checks against a local server (as expected, an unexpected status, a missing body text, a
 * request that never answers) and a real program that outlives its timeout. In English the
 * action's own words are shown unchanged.
 */
describe('step results in zh-CN', () => {
  let server: http.Server;
  let base = '';
  let previous: LocaleSetting;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/hang') return; // never answers: the check times out
      res.writeHead(req.url === '/broken' ? 500 : 200, { 'content-type': 'text/plain' });
      res.end(req.url === '/broken' ? 'down' : 'ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    previous = useLocale({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' });
  });
  afterAll(async () => {
    useLocale(previous);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const steps = () =>
    parseRunbook(
      `
name: shop
match: { service: shop }
steps:
  - { id: ok, title: OK, action: http, with: { url: '${base}/health' } }
  - { id: broken, title: Broken, action: http, with: { url: '${base}/broken' } }
  - { id: body, title: Body, action: http, with: { url: '${base}/health', bodyContains: ready } }
  - { id: hang, title: Hang, action: http, timeoutSeconds: 1, with: { url: '${base}/hang' } }
  - { id: slow, title: Slow, action: exec, timeoutSeconds: 1, run: [node, -e, 'setTimeout(() => {}, 30000)'] }
`,
      'shop.yaml',
    ).steps;

  const run = (step: RunbookStep) => localStepRunner.run(step, {}, { signal: new AbortController().signal, redact: createRedactor([]), env: {} });
  const byId = (id: string) => steps().find((s) => s.id === id)!;

  it('says HTTP checks in Chinese', async () => {
    const ok = await run(byId('ok'));
    expect(ok.status).toBe('succeeded');
    expect(resultSummary(ok)).toMatch(/^HTTP 200，耗时 \d+ 毫秒$|^HTTP 200，耗时 [\d.]+ 秒$/);
    const broken = await run(byId('broken'));
    expect(resultSummary(broken)).toMatch(/^HTTP 500，耗时 .+（期望状态码 200）$/);
    const body = await run(byId('body'));
    expect(resultSummary(body)).toMatch(/^HTTP 200，耗时 .+，但响应内容不含 /);
    for (const r of [ok, broken, body]) expect(englishIn(resultSummary(r), { allowed: ['ready'] })).toEqual([]);
  });

  it('says timeouts in Chinese: an HTTP check and a program', async () => {
    const hang = await run(byId('hang'));
    expect(hang.status).toBe('timed_out');
    expect(resultSummary(hang)).toBe('执行超时（1 秒）');
    const slow = await run(byId('slow'));
    expect(slow.status).toBe('timed_out');
    expect(resultSummary(slow)).toBe('执行超时（1 秒）');
  }, 20_000);

  it('names the runner a result came from, and falls back to English for what it cannot say', () => {
    expect(resultSummary({ summary: 'HTTP 200 in 5 ms on runner db-1', said: { code: 'http.ok', params: { status: 200, tookMs: 5 }, onRunner: 'db-1' } })).toBe('HTTP 200，耗时 5 毫秒（在 runner db-1 上）');
    expect(resultSummary({ summary: 'WAL checkpointed: 3 MiB → 0 B' })).toBe('WAL checkpointed: 3 MiB → 0 B');
  });

  it('says what an HTTP check will do in Chinese, and in English as the action describes it', () => {
    const what = stepDescription(localStepRunner, byId('body'), {});
    expect(what).toBe(`将以 GET 请求 ${base}/health，期望状态码 200，且响应内容包含 "ready"（超时 60 秒）`);
    expect(englishIn(what, { allowed: ['GET', 'ready'] })).toEqual([]);
    const back = useLocale({ locale: 'en', timeZone: 'UTC' });
    try {
      expect(stepDescription(localStepRunner, byId('body'), {})).toBe(localStepRunner.describe(byId('body'), {}));
    } finally {
      useLocale(back);
    }
  });

  it('says the sizes of produced files and the link to the whole output in Chinese', () => {
    const details = resultDetails(
      { status: 'succeeded', summary: 'x', durationMs: 1, outputTail: '', output: 'all of it', artefacts: [{ kind: 'backup', path: '/b/shop.db.gz', sizeBytes: 2 * 1024 * 1024, sha256: '3f9a0c'.repeat(11).slice(0, 64) }] },
      'http://bot.example/incidents/1/runs/2/output',
    );
    expect(details).toContain('📦 备份 `/b/shop.db.gz`（2.0 MiB（2097152 字节），sha256 3f9a0c3f9a0c3f9a…）');
    expect(details).toContain('🔎 完整输出：http://bot.example/incidents/1/runs/2/output');
    expect(englishIn(details)).toEqual([]);
  });

  it('shows the action\'s own words in English', async () => {
    const back = useLocale({ locale: 'en', timeZone: 'UTC' });
    try {
      const broken = await run(byId('broken'));
      expect(resultSummary(broken)).toBe(broken.summary);
      expect(broken.summary).toMatch(/^HTTP 500 in .+ \(expected 200\)$/);
    } finally {
      useLocale(back);
    }
  });
});
