import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogThrottle } from '../../../src/core/log-throttle.js';
import { handleAlertmanagerWebhook } from '../../../src/handlers/alertmanager-webhook.js';
import { createMetrics } from '../../../src/metrics.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { alert, notification, testEngine } from '../core/factories.js';

describe('the webhook when the inbox is full', () => {
  let store: SqliteStore;
  let server: http.Server;
  let url: string;
  const lines: Array<Record<string, unknown>> = [];

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    const metrics = createMetrics(() => Promise.resolve(0));
    // Always queued, and room for one: the first fills the inbox (the worker is not started).
    const engine = testEngine(store, { ingestQueueAbove: 0, inboxLimit: 1, metrics });
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const rejections = new LogThrottle(60_000);
    server = http.createServer((req, res) => void handleAlertmanagerWebhook(req, res, { engine, token: undefined, maxBytes: 1 << 20, metrics, log, rejections }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    lines.length = 0;
  });
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await store.close();
  });

  const post = (groupKey: string) =>
    fetch(`${url}/webhooks/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(notification([alert(`${groupKey}:1`)], { groupKey })) });

  it('answers 503 with Retry-After (Alertmanager retries), stores nothing more, and logs the flood once', async () => {
    const first = await post('g0');
    expect([first.status, ((await first.json()) as { status: string }).status]).toEqual([202, 'queued']);
    for (let k = 1; k <= 20; k += 1) {
      const res = await post(`g${k}`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('10');
      expect(await res.json()).toMatchObject({ error: 'inbox_full', message: 'the inbox is full (1 notifications waiting to be recorded); try again later' });
    }
    expect(await store.transaction((tx) => tx.countQueuedNotifications())).toEqual({ waiting: 1, failed: 0 });
    const warnings = lines.filter((l) => l.msg === 'alertmanager notification rejected');
    expect(warnings.map((l) => [l.status, l.error])).toEqual([[503, 'inbox_full']]);
  });
});
