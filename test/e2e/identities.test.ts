import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/domain.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { slackDriver, type ChatDriver } from '../support/chat-drivers.js';
import { ConsoleClient, formsOf, sectionOf, textOf, waitFor } from '../support/console-client.js';

/**
 * Identities are namespaced by platform: a console user typing a Slack approver's id is not that
 * approver, one browser typing a second name is not a second person, and beside a chat platform
 * the console approves only where the policy lists console users.
 */
const RUNBOOK = (approvers: number) => `
name: demo-shop
match: { service: demo-shop, alertname: ShopDown }
params:
  instance: { fromLabel: instance, pattern: '[0-9.]+:[0-9]+' }
  marker: { default: '{{DIR}}/restarted.txt', pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: restart
    title: Restart shop
    action: exec
    run: [node, -e, 'require("fs").writeFileSync(process.argv[1], "restarted")', '{{marker}}']
    changes: true
    approval: { approvers: ${approvers}, selfApprove: false }
`;

let t: TestBot | undefined;
let chat: ChatDriver | undefined;
afterEach(async () => {
  await t?.stop();
  await chat?.close();
  t = undefined;
  chat = undefined;
});

/** A browser on the console that has loaded a page (so it has its session) and says it is `name`. */
async function browser(url: string, name: string): Promise<ConsoleClient> {
  const client = new ConsoleClient(url);
  await rename(client, name);
  return client;
}

async function rename(client: ConsoleClient, name: string): Promise<void> {
  const home = await client.get('/');
  const form = formsOf(home.text).find((f) => f.action === '/console/user')!;
  expect((await client.submit(form, { user: name })).status).toBe(303);
}

async function press(client: ConsoleClient, incident: number, buttonId: string): Promise<void> {
  const page = await client.get(`/console/incidents/${incident}`);
  const form = formsOf(page.text).find((f) => f.action === '/console/press' && f.fields.buttonId === buttonId);
  expect(form, `button ${buttonId} on the page`).toBeDefined();
  expect((await client.submit(form!)).status).toBe(303);
}

const privateText = async (client: ConsoleClient, incident: number) => textOf(sectionOf((await client.get(`/console/incidents/${incident}`)).text, 'private'));
const threadText = async (client: ConsoleClient, incident: number) => textOf(sectionOf((await client.get(`/console/incidents/${incident}`)).text, 'thread'));
const audit = async (url: string, incident: number) => ((await (await fetch(`${url}/incidents/${incident}/audit`)).json()) as { events: AuditEvent[] }).events;

async function sampleIncident(client: ConsoleClient): Promise<number> {
  const list = await client.get('/');
  const res = await client.submit(formsOf(list.text).find((f) => f.action === '/console/sample-alert')!);
  return Number(/\/console\/incidents\/(\d+)$/.exec(res.headers.get('location') ?? '')?.[1]);
}

describe('identities across platforms', () => {
  it('a console user named like the Slack approver in APPROVERS is not that approver, and the refusal names no ids', async () => {
    t = await startTestBot({ runbooks: { 'shop.yaml': RUNBOOK(1) }, env: { CONSOLE: 'on', APPROVERS: 'U0APPROVER' } });
    const alice = await browser(t.url, 'alice');
    const id = await sampleIncident(alice);
    await waitFor(async () => formsOf((await alice.get(`/console/incidents/${id}`)).text).some((f) => f.fields.buttonId === `run-step:${id}:demo-shop:restart`), 10_000, 'the card');
    await press(alice, id, `run-step:${id}:demo-shop:restart`);
    await waitFor(async () => /alice asks to run Restart shop/.test(await threadText(alice, id)), 10_000, 'the request');

    const impostor = await browser(t.url, 'U0APPROVER');
    await press(impostor, id, 'approve:1');
    const told = await waitFor(async () => {
      const text = await privateText(impostor, id);
      return /not an approver/.test(text) && text;
    }, 10_000, 'the refusal');
    const refusal = /You are not an approver[^\n]*/.exec(told)?.[0] ?? '';
    expect(refusal).toMatch(/approvals come from the approvers role\./);
    expect(refusal).not.toContain('U0APPROVER');
    await new Promise((r) => setTimeout(r, 300));
    expect(fs.existsSync(path.join(t.dir, 'restarted.txt'))).toBe(false);
    const kinds = (await audit(t.url, id)).map((e) => e.kind);
    expect(kinds).toContain('approval.refused');
    expect(kinds).not.toContain('step.approved');
  });

  it('one browser switching names is one approver, and the requester under another name is still the requester', async () => {
    t = await startTestBot({ runbooks: { 'shop.yaml': RUNBOOK(2) }, env: { CONSOLE: 'on' } });
    const a = await browser(t.url, 'alice');
    const id = await sampleIncident(a);
    await waitFor(async () => formsOf((await a.get(`/console/incidents/${id}`)).text).some((f) => f.fields.buttonId === `run-step:${id}:demo-shop:restart`), 10_000, 'the card');
    await press(a, id, `run-step:${id}:demo-shop:restart`);
    await waitFor(async () => /alice asks to run Restart shop — needs 2 approvals/.test(await threadText(a, id)), 10_000, 'the request');

    const b = await browser(t.url, 'bob');
    await press(b, id, 'approve:1');
    await waitFor(async () => /approved by bob \(1\/2\)/.test(await threadText(b, id)), 10_000, "bob's approval");

    // The same browser as carol: refused, still one approval.
    await rename(b, 'carol');
    await press(b, id, 'approve:1');
    expect(await waitFor(async () => /This browser already approved/.test(await privateText(b, id)), 10_000, 'the refusal')).toBe(true);

    // alice's browser as erin: still alice, who may not approve her own request.
    await rename(a, 'erin');
    await press(a, id, 'approve:1');
    expect(await waitFor(async () => /you cannot approve it/.test(await privateText(a, id)), 10_000, 'the self-approval refusal')).toBe(true);
    expect(await threadText(a, id)).not.toMatch(/\(2\/2\)/);
    expect(fs.existsSync(path.join(t.dir, 'restarted.txt'))).toBe(false);

    // A second person in another browser makes it two.
    const d = await browser(t.url, 'dave');
    await press(d, id, 'approve:1');
    await waitFor(async () => /approved by dave \(2\/2\): running it now/.test(await threadText(d, id)), 10_000, 'the second approval');
    await waitFor(async () => Promise.resolve(fs.existsSync(path.join(t!.dir, 'restarted.txt'))), 10_000, 'the step to run');
  });

  it('beside Slack, the console approves only where the policy lists console users', async () => {
    chat = await slackDriver();
    const policy = path.join(await fs.promises.mkdtemp(path.join((await import('node:os')).tmpdir(), 'policy-')), 'policy.yaml');
    await fs.promises.writeFile(policy, 'roles:\n  oncall: [S0ONCALL]\n  console-leads: ["console:lead"]\ndefaults:\n  approve: [oncall, console-leads]\n');
    t = await startTestBot({ runbooks: { 'shop.yaml': RUNBOOK(1) }, env: { ...chat.botEnv(), CONSOLE: 'on', POLICY_FILE: policy } });
    chat.attach(t.url);
    const requester = await browser(t.url, 'alice');
    const id = await sampleIncident(requester);
    const card = await chat.waitFor(() => chat!.cards()[0], 10_000, 'the Slack card');
    await chat.press('alice', `run-step:${id}:demo-shop:restart`, card, card);
    await chat.waitFor(() => chat!.replies(card).find((m) => /alice asks to run Restart shop/.test(m.text)), 10_000, 'the request in Slack');

    // U0BOB is in S0ONCALL on Slack; a console browser typing "U0BOB" is somebody else.
    const impostor = await browser(t.url, 'U0BOB');
    await press(impostor, id, 'approve:1');
    const told = await waitFor(async () => {
      const text = await privateText(impostor, id);
      return /not an approver/.test(text) && text;
    }, 10_000, 'the refusal');
    expect(told).toMatch(/the oncall or console-leads roles/);
    expect(told).not.toMatch(/S0ONCALL|console:lead/);
    expect((await audit(t.url, id)).map((e) => e.kind)).not.toContain('step.approved');

    // The console user the policy lists by name approves.
    const lead = await browser(t.url, 'lead');
    await press(lead, id, 'approve:1');
    await waitFor(async () => /approved by lead \(1\/1\)/.test(await threadText(lead, id)), 10_000, 'the listed console approval');
    const approved = (await audit(t.url, id)).find((e) => e.kind === 'step.approved');
    expect(approved?.actor).toBe('console:lead');
    expect(approved?.data.approvals).toEqual(['console:lead']);
  });

  it('beside Slack with anyone-may-approve, a console approval does not count', async () => {
    chat = await slackDriver();
    const env = { ...chat.botEnv(), CONSOLE: 'on' } as Record<string, string>;
    delete env.APPROVERS;
    t = await startTestBot({ runbooks: { 'shop.yaml': RUNBOOK(1) }, env });
    chat.attach(t.url);
    const c = await browser(t.url, 'bob');
    const id = await sampleIncident(c);
    const card = await chat.waitFor(() => chat!.cards()[0], 10_000, 'the Slack card');
    await chat.press('alice', `run-step:${id}:demo-shop:restart`, card, card);
    await chat.waitFor(() => chat!.replies(card).find((m) => /alice asks to run Restart shop/.test(m.text)), 10_000, 'the request in Slack');
    await press(c, id, 'approve:1');
    expect(await waitFor(async () => /count only where a policy role lists console users/.test(await privateText(c, id)), 10_000, 'the refusal')).toBe(true);
    // A Slack teammate still approves.
    await chat.press('bob', 'approve:1', chat.replies(card).find((m) => m.buttonIds.includes('approve:1'))!, card);
    await chat.waitFor(() => chat!.replies(card).find((m) => /approved by bob[^\n]* \(1\/1\)/.test(m.text)), 10_000, "bob's Slack approval");
  });
});
