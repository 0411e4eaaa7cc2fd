import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertmanagerNotification } from '../../src/core/alertmanager-payload.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { loadFixture } from '../support/fixtures.js';

/**
 * The routes that show incidents besides the console pages (/incidents/:id/audit,
 * /incidents/:id/timeline, /metrics) are behind the console's gate: its token when one is set,
 * the loopback Host otherwise; the audit answer is redacted like the timeline. Health stays open.
 */

const CONSOLE_TOKEN = 'console-token-for-gate-tests-0123';
const METRICS_TOKEN = 'metrics-token-for-gate-tests-4567';
const LEAKED = 'xoxb-1111111111-2222222222-leakedtokenvalue';

function leakyAlert(): AlertmanagerNotification {
  const n = structuredClone(loadFixture<AlertmanagerNotification>('firing-single.json'));
  n.groupKey = '{}:{alertname="GateLeak"}';
  const alert = n.alerts[0]!;
  alert.fingerprint = 'fp-gate-leak';
  // The service label names the incident (its title), so it is in the audit record's text.
  alert.labels = { ...alert.labels, service: `hook ${LEAKED}` };
  n.commonLabels = { ...n.commonLabels, service: `hook ${LEAKED}` };
  return n;
}

/** A GET with a chosen Host header (fetch() will not send a foreign one; a rebinding browser does). */
function getWithHost(url: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { host, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('incident routes with CONSOLE_TOKEN and METRICS_TOKEN', () => {
  let t: TestBot;
  let id: number;
  beforeAll(async () => {
    t = await startTestBot({ runbooks: {}, env: { CONSOLE_TOKEN, METRICS_TOKEN } });
    const posted = await t.postWebhook(leakyAlert());
    expect(posted.status).toBe(200);
    id = Number(posted.json.incidentId);
    expect(id).toBeGreaterThan(0);
  });
  afterAll(() => t.stop());

  it('answers the audit trail and the timeline only with the console token', async () => {
    for (const path of [`/incidents/${id}/audit`, `/incidents/${id}/timeline`]) {
      const anonymous = await fetch(`${t.url}${path}`);
      expect(anonymous.status, `${path} without a token`).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await anonymous.text()).not.toContain('on hook');
      expect((await fetch(`${t.url}${path}`, { headers: bearer('wrong-token-wrong-token') })).status, `${path} with a wrong token`).toBe(401);
      expect((await fetch(`${t.url}${path}`, { headers: bearer(METRICS_TOKEN) })).status, `${path} with the metrics token`).toBe(401);
      const allowed = await fetch(`${t.url}${path}`, { headers: bearer(CONSOLE_TOKEN) });
      expect(allowed.status, `${path} with the console token`).toBe(200);
      expect(await allowed.text()).toContain('on hook');
    }
  });

  it('answers /metrics only with METRICS_TOKEN', async () => {
    expect((await fetch(`${t.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${t.url}/metrics`, { headers: bearer(CONSOLE_TOKEN) })).status).toBe(401);
    const scraped = await fetch(`${t.url}/metrics`, { headers: bearer(METRICS_TOKEN) });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^# TYPE /m);
  });

  it('redacts the audit answer as the timeline is redacted', async () => {
    const audit = await (await fetch(`${t.url}/incidents/${id}/audit`, { headers: bearer(CONSOLE_TOKEN) })).text();
    const timeline = await (await fetch(`${t.url}/incidents/${id}/timeline`, { headers: bearer(CONSOLE_TOKEN) })).text();
    expect(timeline).not.toContain(LEAKED);
    expect(audit).toContain('on hook [REDACTED]');
    expect(audit).not.toContain(LEAKED);
  });

  it('keeps /healthz and /readyz open', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
  });
});

describe('incident routes without a token, on loopback', () => {
  let t: TestBot;
  let id: number;
  beforeAll(async () => {
    t = await startTestBot({ runbooks: {} });
    const posted = await t.postWebhook(leakyAlert());
    id = Number(posted.json.incidentId);
  });
  afterAll(() => t.stop());

  it('refuses a Host that is not the loopback address (DNS rebinding), as the console does', async () => {
    for (const path of [`/incidents/${id}/audit`, `/incidents/${id}/timeline`, '/metrics']) {
      const rebound = await getWithHost(`${t.url}${path}`, 'rebind.attacker.example');
      expect(rebound.status, `${path} via a foreign Host`).toBe(401);
      expect(rebound.body).not.toContain('on hook');
      const local = await getWithHost(`${t.url}${path}`, `127.0.0.1:${new URL(t.url).port}`);
      expect(local.status, `${path} via the loopback Host`).toBe(200);
    }
    expect((await getWithHost(`${t.url}/healthz`, 'rebind.attacker.example')).status).toBe(200);
  });
});
