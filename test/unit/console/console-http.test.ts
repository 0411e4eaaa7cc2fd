import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleAlert } from '../../../src/bot/console/sample-alert.js';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack-api.js';
import { startTestBot, type TestBot } from '../../support/bot-harness.js';
import { ConsoleClient, formsOf, sectionOf, textOf, waitFor } from '../../support/console-client.js';

/** The console's HTTP surface on a real bot: headers, escaping of what alerts carry, token rules, read-only and off modes. */
const TOKEN = 'console-token-for-tests-0123';
const HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(1)>';

const RUNBOOK = `
name: demo-shop
match: { service: demo-shop }
steps:
  - id: check
    title: Check shop
    action: exec
    run: [node, -e, 'console.log("ok")']
`;

function hostileAlert() {
  const n = sampleAlert({ now: new Date(), demoPort: 3080, id: 'hostile0' });
  const annotations = { summary: HOSTILE, description: `desc ${HOSTILE}`, runbook_url: 'javascript:alert(1)' };
  return {
    ...n,
    commonLabels: { ...n.commonLabels, team: HOSTILE },
    commonAnnotations: annotations,
    alerts: n.alerts.map((a) => ({ ...a, labels: { ...a.labels, instance: `x${HOSTILE}` }, annotations, generatorURL: `https://prom.example/graph?q="${HOSTILE}` })),
  };
}

function cspNonce(res: { headers: Headers }): string {
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp).toMatch(/^default-src 'self'; script-src 'nonce-[A-Za-z0-9+/=]+'; style-src 'nonce-/);
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("form-action 'self'");
  expect(csp).not.toContain('unsafe-inline');
  return /script-src 'nonce-([^']+)'/.exec(csp)?.[1] ?? '';
}

describe('interactive console over HTTP (loopback, no token)', () => {
  let t: TestBot;
  let client: ConsoleClient;

  beforeAll(async () => {
    t = await startTestBot({ runbooks: { 'demo.yaml': RUNBOOK } });
    client = new ConsoleClient(t.url);
  });
  afterAll(() => t?.stop());

  it('is interactive by default without chat credentials, and sends a strict CSP whose nonce is on its script', async () => {
    const res = await client.get('/');
    expect(res.status).toBe(200);
    const nonce = cspNonce(res);
    expect(res.text).toContain(`<script nonce="${nonce}">`);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.getSetCookie().join('\n')).toMatch(/console_sid=[^;]+; Path=\/; SameSite=Strict; HttpOnly/);
    // Each response gets a fresh nonce.
    expect(cspNonce(await client.get('/'))).not.toBe(nonce);
  });

  it('renders hostile alert text escaped on the incident page and in the list', async () => {
    const posted = await t.postWebhook(hostileAlert());
    expect(posted.status).toBe(200);
    const id = String(posted.json.incidentId);
    const res = await waitFor(async () => {
      const r = await client.get(`/console/incidents/${id}`);
      return /Incident #\d+ opened/.test(textOf(sectionOf(r.text, 'thread'))) && r;
    }, 10_000, 'the incident page with its thread');
    cspNonce(res);
    const main = sectionOf(res.text, 'main');
    expect(main).not.toContain('<script>alert(1)</script>');
    expect(main).not.toContain('<img');
    expect(main).not.toContain('href="javascript:');
    expect(main).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(textOf(main)).toContain(HOSTILE);
    // The only script on the page is the console's own.
    expect(res.text.match(/<script/g)).toHaveLength(1);
    const list = await client.get('/');
    expect(list.text).not.toContain('<img');
  });

  it('serves the fragment live updates swap in, with the same headers', async () => {
    const res = await client.get('/console/incidents/1?fragment=1');
    expect(res.status).toBe(200);
    cspNonce(res);
    expect(res.text).not.toContain('<html');
    expect(res.text).toContain('id="card"');
    // Tagged with a version of its content, which the full page carries too: unchanged parts are not swapped in.
    const version = res.headers.get('x-console-version');
    expect(version).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const full = await client.get('/console/incidents/1');
    expect(full.text).toContain(`<main id="main" data-version="${version}">`);
  });

  it('answers unknown incidents and bad ids with 404', async () => {
    expect((await client.get('/console/incidents/999')).status).toBe(404);
    const bad = await client.get('/console/incidents/%3Cscript%3E');
    expect(bad.status).toBe(404);
    expect(bad.text).not.toContain('<script>');
  });

  it('refuses forms without the session token or from another site, and names that are not names', async () => {
    const bare = new ConsoleClient(t.url);
    expect((await bare.post('/console/sample-alert', {})).status).toBe(403);
    expect((await bare.post('/console/sample-alert', {}, { origin: 'https://evil.example' })).status).toBe(403);
    const page = await client.get('/');
    const sample = formsOf(page.text).find((f) => f.action === '/console/sample-alert')!;
    expect((await client.post('/console/sample-alert', sample.fields, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await client.post('/console/press', { ...sample.fields, buttonId: 'run-step:1:demo-shop:check', user: '<b>' })).status).toBe(400);
    expect((await client.post('/console/user', { ...sample.fields, user: 'a b' })).status).toBe(400);
    // JSON is not a form: the console's endpoints take its own forms only.
    const json = await fetch(`${t.url}/console/press`, { method: 'POST', headers: { 'content-type': 'application/json', origin: t.url }, body: '{}' });
    expect(json.status).toBe(415);
  });

  it('accepts a same-origin browser POST without the form token (Origin header)', async () => {
    const res = await new ConsoleClient(t.url).post('/console/sample-alert', {}, { origin: t.url });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/console\/incidents\/\d+$/);
  });

  it('refuses a Host header that is not the loopback address (DNS rebinding)', async () => {
    // fetch() will not send a foreign Host header; a plain request does, as a rebinding browser would.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.get(`${t.url}/`, { headers: { host: 'rebind.attacker.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
    expect(status).toBe(401);
  });
});

describe('console beyond loopback', () => {
  it('is off without CONSOLE_TOKEN, and the rest of the bot still works', async () => {
    const t = await startTestBot({ runbooks: { 'demo.yaml': RUNBOOK }, env: { HOST: '0.0.0.0' } });
    try {
      const res = await fetch(`${t.url}/`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: string }).error).toBe('console_disabled');
      expect((await fetch(`${t.url}/console/sample-alert`, { method: 'POST' })).status).toBe(404);
      expect((await t.postWebhook(sampleAlert({ now: new Date(), demoPort: 3080 }))).status).toBe(200);
    } finally {
      await t.stop();
    }
  });

  describe('with CONSOLE_TOKEN', () => {
    let t: TestBot;
    beforeAll(async () => {
      t = await startTestBot({ runbooks: { 'demo.yaml': RUNBOOK }, env: { HOST: '0.0.0.0', CONSOLE_TOKEN: TOKEN } });
    });
    afterAll(() => t?.stop());

    it('refuses requests without the token or with a wrong one (401)', async () => {
      for (const path of ['/', '/console/incidents/1', '/console/stream']) {
        const res = await fetch(`${t.url}${path}`);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
      expect((await fetch(`${t.url}/`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
      expect((await fetch(`${t.url}/?token=wrong-token-0123456789`, { redirect: 'manual' })).status).toBe(401);
      expect((await fetch(`${t.url}/console/sample-alert`, { method: 'POST', headers: { origin: t.url, 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(401);
    });

    it('accepts the bearer token', async () => {
      const res = await fetch(`${t.url}/`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
    });

    it('trades ?token= for a cookie, then works from the cookie alone', async () => {
      const browser = new ConsoleClient(t.url);
      const first = await browser.get(`/?token=${TOKEN}`);
      expect(first.status).toBe(303);
      expect(first.headers.get('location')).toBe('/');
      const setCookie = first.headers.getSetCookie().join('\n');
      expect(setCookie).toMatch(/console_auth=[^;]+; Path=\/; SameSite=Strict; HttpOnly/);
      expect(setCookie).not.toContain(TOKEN);
      const page = await browser.get('/');
      expect(page.status).toBe(200);
      const sample = formsOf(page.text).find((f) => f.action === '/console/sample-alert')!;
      const fired = await browser.submit(sample);
      expect(fired.status).toBe(303);
      expect((await browser.get(fired.headers.get('location')!)).status).toBe(200);
    });
  });
});

describe('read-only console beside Slack (CONSOLE=auto)', () => {
  let slack: FakeSlack;
  let t: TestBot;
  beforeAll(async () => {
    slack = await startFakeSlack();
    t = await startTestBot({ slack, runbooks: { 'demo.yaml': RUNBOOK } });
  });
  afterAll(async () => {
    await t?.stop();
    await slack?.close();
  });

  it('refuses presses, sample alerts and identity changes with 403 and says why', async () => {
    for (const path of ['/console/press', '/console/sample-alert', '/console/user']) {
      const res = await fetch(`${t.url}${path}`, { method: 'POST', headers: { origin: t.url, 'content-type': 'application/x-www-form-urlencoded' }, body: 'buttonId=run-step%3A1%3Ademo-shop%3Acheck&user=alice' });
      expect(res.status).toBe(403);
      const text = textOf(await res.text());
      expect(text).toMatch(/read-only/i);
      expect(text).toMatch(/slack is configured/);
      expect(text).toMatch(/CONSOLE=on/);
    }
  });

  it('shows cards and the audit trail from the store, without buttons', async () => {
    const posted = await t.postWebhook(sampleAlert({ now: new Date(), demoPort: 3080 }));
    expect(posted.status).toBe(200);
    const client = new ConsoleClient(t.url);
    const list = await client.get('/');
    expect(list.status).toBe(200);
    expect(list.text).not.toContain('<form');
    expect(textOf(list.text)).toContain('ShopDown on demo-shop');
    const page = await client.get(`/console/incidents/${String(posted.json.incidentId)}`);
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('<form');
    expect(page.text).not.toContain('<button');
    expect(textOf(sectionOf(page.text, 'card'))).toContain('The demo shop is down');
    const activity = textOf(sectionOf(page.text, 'thread'));
    expect(activity).toMatch(/its thread is on slack/);
    expect(activity).toMatch(/Incident #1 opened/);
  });
});
