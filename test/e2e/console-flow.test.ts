import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBot } from '../../src/app.js';
import type { AuditEvent } from '../../src/core/domain.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { ConsoleClient, formsOf, sectionOf, textOf, waitFor, type ConsoleForm } from '../support/console-client.js';

/**
 * The embedded default: no chat credentials, the bot serves its web console, and the whole loop
 * runs through it — sample alert → card with step buttons → request → refused self-approval →
 * a teammate approves → the step really runs → thread and audit trail — with live updates on
 * the event stream. The console is a chat adapter on the same core: presses go through the same
 * handler, messages through the same outbox.
 */
const RUNBOOK = `
name: demo-shop
match: { service: demo-shop, alertname: ShopDown }
params:
  instance: { fromLabel: instance, pattern: '[0-9.]+:[0-9]+' }
  marker: { default: '{{DIR}}/restarted.txt', pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: check
    title: Check shop
    action: exec
    run: [node, -e, 'console.log("checked " + process.argv[1])', '{{instance}}']
  - id: restart
    title: Restart shop
    action: exec
    run: [node, -e, 'require("fs").writeFileSync(process.argv[1], "restarted"); console.log("restart done")', '{{marker}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
`;

describe('web console: the whole loop without chat credentials', () => {
  let t: TestBot;
  let alice: ConsoleClient;
  let bob: ConsoleClient;
  let incidentPath = '';
  const stream = { text: '', abort: new AbortController(), done: Promise.resolve() };

  const page = async (client: ConsoleClient) => {
    const res = await client.get(incidentPath);
    expect(res.status).toBe(200);
    return res.text;
  };
  const threadText = async (client: ConsoleClient) => textOf(sectionOf(await page(client), 'thread'));
  const pressForm = (html: string, buttonId: string): ConsoleForm | undefined => formsOf(html).find((f) => f.action === '/console/press' && f.fields.buttonId === buttonId);

  beforeAll(async () => {
    t = await startTestBot({ runbooks: { 'demo-shop.yaml': RUNBOOK }, env: { CONSOLE: 'on' } });
    alice = new ConsoleClient(t.url);
    bob = new ConsoleClient(t.url);
    // A second person on the same console says who they are (a cookie); everyone starts as alice.
    const home = await bob.get('/');
    const beBob = formsOf(home.text).find((f) => f.action === '/console/user' && f.fields.user === 'bob')!;
    const switched = await bob.submit(beBob);
    expect(switched.status).toBe(303);
    expect(switched.headers.get('location')).toBe('/');
    // Listen to the live stream from the start, as an open browser tab does.
    const res = await fetch(`${t.url}/console/stream`, { signal: stream.abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    stream.done = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          stream.text += decoder.decode(value, { stream: true });
        }
      } catch {
        // aborted at the end
      }
    })();
  });

  afterAll(async () => {
    stream.abort.abort();
    await stream.done;
    await t?.stop();
  });

  it('serves the incident list, with a sample-alert button, to a local browser', async () => {
    const res = await alice.get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(res.text).toContain('No incidents yet');
    expect(formsOf(res.text).some((f) => f.action === '/console/sample-alert')).toBe(true);
    expect(textOf(res.text)).toMatch(/You are:/);
    expect(res.text).toContain('value="alice"');
  });

  it('fires the sample alert through the engine and shows the card with its step buttons', async () => {
    const list = await alice.get('/');
    const sample = formsOf(list.text).find((f) => f.action === '/console/sample-alert')!;
    const res = await alice.submit(sample);
    expect(res.status).toBe(303);
    incidentPath = res.headers.get('location') ?? '';
    expect(incidentPath).toBe('/console/incidents/1');

    const html = await waitFor(async () => {
      const text = await page(alice);
      return /Incident #1 opened/.test(textOf(sectionOf(text, 'thread'))) && text;
    }, 10_000, 'the opening message in the console thread');
    const card = sectionOf(html, 'card');
    expect(textOf(card)).toContain('#1 ShopDown on demo-shop');
    expect(textOf(card)).toContain('The demo shop is down');
    expect(textOf(card)).toContain('127.0.0.1:3080');
    expect(html).toContain('<article class="card sev-critical" id="card">');
    expect(formsOf(card).map((f) => f.fields.buttonId)).toEqual(['ack:1', 'run-step:1:demo-shop:check', 'run-step:1:demo-shop:restart']);
    // The changing step is a danger button that asks for confirmation first.
    expect(card).toMatch(/data-confirm="Run &quot;Restart shop&quot;\?[^"]*approval/);
    expect(html).toContain('href="/incidents/1/audit"');

    const listed = await alice.get('/');
    expect(textOf(sectionOf(listed.text, 'incidents'))).toMatch(/#1\s+ShopDown on demo-shop\s+critical\s+firing/);
  });

  it('asks for approval when alice presses a changing step', async () => {
    const res = await alice.submit(pressForm(await page(alice), 'run-step:1:demo-shop:restart')!);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(incidentPath);
    const html = await waitFor(async () => {
      const text = await page(alice);
      return /alice asks to run Restart shop — needs 1 approval/.test(textOf(sectionOf(text, 'thread'))) && text;
    }, 10_000, 'the approval request in the thread');
    const thread = sectionOf(html, 'thread');
    const approvalButtons = formsOf(thread).map((f) => [f.fields.buttonId, f.label]);
    expect(approvalButtons).toEqual([
      ['approve:1', 'Approve'],
      ['deny:1', 'Deny'],
    ]);
    expect(textOf(sectionOf(html, 'card'))).toMatch(/Restart shop — requested/);
  });

  it('refuses alice approving her own request, privately', async () => {
    const res = await alice.submit(pressForm(await page(alice), 'approve:1')!);
    expect(res.status).toBe(303);
    const html = await page(alice);
    expect(textOf(sectionOf(html, 'private'))).toMatch(/Only you \(alice\) can see this[\s\S]*cannot approve it: a teammate must/);
    // Nobody else sees it, and nothing ran.
    const bobs = await page(bob);
    expect(bobs).not.toContain('id="private"');
    await new Promise((r) => setTimeout(r, 300));
    expect(fs.existsSync(path.join(t.dir, 'restarted.txt'))).toBe(false);
    expect(await threadText(alice)).not.toMatch(/Started Restart shop/);
  });

  it('runs the step when bob approves, and the thread shows it start and finish', async () => {
    const html = await page(bob);
    expect(html).toContain('value="bob"');
    const approve = pressForm(html, 'approve:1')!;
    expect(approve.fields.user).toBe('bob');
    expect((await bob.submit(approve)).status).toBe(303);

    const thread = await waitFor(async () => {
      const text = await threadText(bob);
      return /Restart shop succeeded/.test(text) && text;
    }, 15_000, 'the step result in the thread');
    expect(thread).toMatch(/approved by bob \(1\/1\): running it now/);
    expect(thread).toMatch(/Started Restart shop/);
    expect(thread).toMatch(/restart done/);
    expect(thread.indexOf('Started Restart shop')).toBeLessThan(thread.indexOf('Restart shop succeeded'));
    expect(fs.readFileSync(path.join(t.dir, 'restarted.txt'), 'utf8')).toBe('restarted');
    await waitFor(async () => /Restart shop — succeeded/.test(textOf(sectionOf(await page(bob), 'card'))), 10_000, 'the card step state');
  });

  it('shows the decided request without its Approve and Deny forms, and with its outcome', async () => {
    const thread = await waitFor(async () => {
      const section = sectionOf(await page(alice), 'thread');
      return /alice asks to run Restart shop[^\n]*\s+👍 \d\d:\d\d:\d\d approved by bob/.test(textOf(section)) && section;
    }, 10_000, 'the request edited to its outcome');
    expect(formsOf(thread).filter((f) => /^(approve|deny):/.test(f.fields.buttonId ?? ''))).toEqual([]);
    expect(textOf(thread).match(/alice asks to run Restart shop/g)).toHaveLength(1);
  });

  it('lists every event in the audit trail', async () => {
    const res = await fetch(`${t.url}/incidents/1/audit`);
    expect(res.status).toBe(200);
    const { events } = (await res.json()) as { events: AuditEvent[] };
    expect(events.map((e) => e.kind)).toEqual(['alert.received', 'incident.ack', 'step.requested', 'approval.refused', 'step.approved', 'step.started', 'step.finished']);
    expect(events.find((e) => e.kind === 'step.requested')?.actor).toBe('console:alice');
    expect(events.find((e) => e.kind === 'step.approved')?.actor).toBe('console:bob');
  });

  it('told the open stream about every change', async () => {
    await waitFor(async () => Promise.resolve(/event: update\ndata: \{"incidentId":"1"\}/.test(stream.text)), 5_000, 'an update event');
    expect(stream.text.startsWith('retry: 2000\n')).toBe(true);
    expect(stream.text.match(/event: update/g)?.length ?? 0).toBeGreaterThan(5);
  });

  it('resolves the incident from the console: the card says resolved and the Resolve button is gone', async () => {
    const resolve = formsOf(await page(alice)).find((f) => f.action === '/console/press' && f.fields.buttonId === 'resolve:1');
    expect(resolve, 'the Resolve form of a firing incident').toBeDefined();
    expect((await alice.submit(resolve!)).status).toBe(303);
    const html = await waitFor(async () => {
      const current = await page(alice);
      return /resolved/i.test(textOf(sectionOf(current, 'card'))) && current;
    }, 10_000, 'the card to say resolved');
    expect(formsOf(html).filter((f) => f.fields.buttonId === 'resolve:1')).toEqual([]);
    await waitFor(async () => /alice resolved incident #1 by hand/.test(await threadText(alice)), 10_000, 'the resolution in the thread');
    const res = await fetch(`${t.url}/incidents/1/audit`);
    const { events } = (await res.json()) as { events: AuditEvent[] };
    expect(events.find((e) => e.kind === 'incident.resolved')?.actor).toBe('console:alice');
  });

  it('renders the same card and thread from the store after a restart', async () => {
    await t.bot.stop();
    const again = await createBot({ ...t.config, port: 0 }, { logger: pino({ level: 'silent' }), env: process.env, outboxPollMs: 50, executorPollMs: 50 });
    const address = await again.listen();
    try {
      const client = new ConsoleClient(`http://127.0.0.1:${address.port}`);
      const res = await client.get(incidentPath);
      expect(res.status).toBe(200);
      const thread = textOf(sectionOf(res.text, 'thread'));
      for (const text of ['Incident #1 opened', 'alice asks to run Restart shop', 'approved by bob', 'Restart shop succeeded']) expect(thread).toContain(text);
      expect(textOf(sectionOf(res.text, 'card'))).toMatch(/Restart shop — succeeded/);
    } finally {
      await again.stop();
    }
  });
});
