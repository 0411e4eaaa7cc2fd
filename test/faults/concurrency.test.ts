import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/domain.js';
import { startFakeSlack, type FakeSlack, type StoredMessage } from '../fakes/slack-api.js';
import { ALERT_CHANNEL, startTestBot, type TestBot } from '../support/bot-harness.js';
import { pollUntil } from '../support/bot-process.js';
import { cardsByIncident, compressChatPacing, faultSummary, getJson, groupNotification, metricValue, readDb, sleep, type FaultCounts } from '../support/faults-kit.js';

/**
 * Races at the bot's two doors:
 * - the same notification delivered 20 times at once, and 10 more times at once by a "second
 *   Alertmanager" of an HA pair (other receiver name, same group) → one incident, one card, one
 *   opening message;
 * - a read-only step's button double-clicked (6 presses at once) → one execution;
 * - a step that needs one approval, approved at the same moment by two users who both
 *   double-click → one execution, one `step.started`, one `step.approved`;
 * - one approver clicking Approve 8 times at once → one execution;
 * - a changing step's button clicked 6 times at once → one request, then one execution.
 * Every press is a signed Slack request sent in parallel; each step appends a line to its own
 * file, so executions are counted by what really ran.
 *
 * Summary: sent = distinct incidents the webhook acknowledged, stored = incidents in the store,
 * posted = top-level cards, faults injected = redundant deliveries + redundant presses,
 * executions = lines the steps wrote.
 */

const RUNBOOK = `
name: conc
match: { alertname: ConcDown }
params:
  svc: { fromLabel: service, pattern: 'conc-[a-z0-9-]+' }
steps:
  - id: check
    title: Check service
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], "ran\\n"); setTimeout(() => {}, 1500)', '{{DIR}}/check-{{svc}}.log']
  - id: fix
    title: Fix service
    action: exec
    changes: true
    approval: { approvers: 1 }
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], "ran\\n")', '{{DIR}}/fix-{{svc}}.log']
`;

const ALICE = { userId: 'U0ALICE', userName: 'alice' };
const BOB = { userId: 'U0BOB', userName: 'bob' };
const CAROL = { userId: 'U0CAROL', userName: 'carol' };

const counts: FaultCounts = { sent: 0, stored: 0, posted: 0, faults: 0, executions: 0 };
let slack: FakeSlack;
let t: TestBot;
const incidents = new Map<string, number>();

beforeAll(async () => {
  slack = await startFakeSlack({ rateLimit: false });
  t = await startTestBot({ slack, runbooks: { 'conc.yaml': RUNBOOK } });
  compressChatPacing(t.bot, 20, 5);
});

afterAll(async () => {
  if (t) {
    const files = fs.readdirSync(t.dir).filter((f) => f.endsWith('.log'));
    counts.executions = files.reduce((n, f) => n + lines(f).length, 0);
    counts.stored = readDb(t.dbFile, (db) => (db.prepare('SELECT count(*) AS n FROM incidents').get() as { n: number }).n);
    counts.posted = slack.topLevel(ALERT_CHANNEL).length;
    counts.sent = incidents.size;
  }
  console.log(faultSummary('concurrency: duplicate deliveries and racing presses', counts));
  await t?.stop();
  await slack?.close();
  expect(counts.stored).toBe(counts.sent);
  expect(counts.posted).toBe(counts.stored);
  // One run each of: check on conc-a, fix on conc-a, conc-b and conc-c.
  expect(counts.executions).toBe(4);
});

function lines(file: string): string[] {
  const p = path.join(t.dir, file);
  return fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n').filter(Boolean) : [];
}

async function audit(id: number): Promise<AuditEvent[]> {
  const { status, body } = await getJson<{ events: AuditEvent[] }>(`${t.url}/incidents/${id}/audit`);
  expect(status).toBe(200);
  return body.events;
}

async function waitForAudit(id: number, what: string, pred: (events: AuditEvent[]) => boolean): Promise<AuditEvent[]> {
  let last: AuditEvent[] = [];
  await pollUntil(
    async () => {
      last = await audit(id);
      return pred(last);
    },
    15_000,
    what,
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; audit so far: ${JSON.stringify(last.map((e) => [e.kind, e.text]))}`);
  });
  return last;
}

async function cardOf(id: number): Promise<StoredMessage> {
  return slack.waitFor(() => cardsByIncident(slack, ALERT_CHANNEL).get(id)?.[0], 15_000, `the card of incident #${id}`);
}

/** Waits until no notification waits in the inbox (those answered 202 are recorded). */
async function inboxEmpty(): Promise<void> {
  await pollUntil(async () => (await t.bot.store.transaction((tx) => tx.countQueuedNotifications())).waiting === 0, 15_000, 'the inbox to be recorded');
}

/** Notifications recorded so far (stored, duplicate), from the bot's metrics. */
async function recorded(): Promise<{ stored: number; duplicate: number }> {
  const page = await (await fetch(`${t.url}/metrics`)).text();
  const value = (result: string) => metricValue(page, 'chatops_notifications_received_total', { result });
  return { stored: value('stored'), duplicate: value('duplicate') };
}

/** Opens an incident for `service` with a single delivery and returns its id and card. */
async function openIncident(service: string): Promise<{ id: number; card: StoredMessage }> {
  const res = await t.postWebhook(groupNotification({ service, alertname: 'ConcDown' }));
  expect(res.json).toMatchObject({ status: 'stored', created: true });
  const id = Number(res.json.incidentId);
  incidents.set(service, id);
  return { id, card: await cardOf(id) };
}

/** The run id of the latest `step.requested` of `step`. */
function requestedRun(events: AuditEvent[], step: string): number {
  const e = events.filter((x) => x.kind === 'step.requested' && x.data.step === step).at(-1);
  if (!e) throw new Error(`no step.requested for ${step}`);
  return Number(e.data.runId);
}

const ofRun = (events: AuditEvent[], kind: string, runId: number) => events.filter((e) => e.kind === kind && Number(e.data.runId) === runId);

describe('racing deliveries and presses', { timeout: 60_000 }, () => {
  it('turns 20 concurrent deliveries plus 10 from an HA peer into one incident, one card and one opening message', async () => {
    const primary = groupNotification({ service: 'conc-a', alertname: 'ConcDown', receiver: 'chatops-am-a' });
    const peer = groupNotification({ service: 'conc-a', alertname: 'ConcDown', receiver: 'chatops-am-b' });
    const before = await recorded();
    const answers = await Promise.all([...Array.from({ length: 20 }, () => t.postWebhook(primary)), ...Array.from({ length: 10 }, () => t.postWebhook(peer))]);
    counts.faults += answers.length - 1;
    // Recorded before the answer (200), or stored in the inbox and recorded right after (202).
    for (const a of answers) expect(a.status === 200 ? ['stored', 'duplicate'] : [202, 'queued']).toContain(a.status === 200 ? a.json.status : a.status);
    await inboxEmpty();
    const after = await recorded();
    expect({ stored: after.stored - before.stored, duplicate: after.duplicate - before.duplicate }, 'the 30 deliveries as recorded').toEqual({ stored: 1, duplicate: 29 });
    const filed = (await t.bot.store.transaction((tx) => tx.listIncidents({ limit: 100 }))).filter((i) => i.groupKey === primary.groupKey);
    expect(filed, 'incidents of the group').toHaveLength(1);
    const id = filed[0]!.id;
    expect(new Set(answers.filter((a) => a.status === 200).map((a) => a.json.incidentId)), 'incidents the answered deliveries were filed under').toEqual(new Set(answers.some((a) => a.status === 200) ? [id] : []));
    expect(answers.filter((a) => a.json.created === true).length).toBeLessThanOrEqual(1);
    incidents.set('conc-a', id);

    const card = await cardOf(id);
    await slack.waitFor(() => slack.threadReplies(ALERT_CHANNEL, card.ts).length > 0, 10_000, 'the opening message');
    await sleep(500);
    expect(cardsByIncident(slack, ALERT_CHANNEL).get(id), 'cards of the incident').toHaveLength(1);
    expect(slack.topLevel(ALERT_CHANNEL)).toHaveLength(1);
    expect(slack.threadReplies(ALERT_CHANNEL, card.ts).map((m) => m.text)).toEqual([expect.stringMatching(new RegExp(`^🚨 Incident #${id} opened:`))]);
    const events = await audit(id);
    expect(events.filter((e) => e.kind === 'alert.received')).toHaveLength(1);
    expect(readDb(t.dbFile, (db) => (db.prepare('SELECT count(*) AS n FROM notifications WHERE incident_id = ?').get(id) as { n: number }).n)).toBe(1);
  });

  it('runs a read-only step once when its button is clicked 6 times at once', async () => {
    const id = incidents.get('conc-a')!;
    const card = await cardOf(id);
    const presses = await Promise.all(Array.from({ length: 6 }, () => t.press({ ...ALICE, actionId: `run-step:${id}:conc:check`, messageTs: card.ts })));
    counts.faults += presses.length - 1;
    expect(presses.map((p) => p.status)).toEqual(presses.map(() => 200));
    const events = await waitForAudit(id, 'the check step to finish', (ev) => ev.some((e) => e.kind === 'step.finished'));
    const runId = requestedRun(events, 'check');
    expect(events.filter((e) => e.kind === 'step.requested' && e.data.step === 'check'), 'check requested').toHaveLength(1);
    expect(ofRun(events, 'step.started', runId)).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'step.started')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'step.refused'), 'the other 5 presses were refused and audited').toHaveLength(5);
    await sleep(300);
    expect(lines('check-conc-a.log'), 'executions of the check step').toEqual(['ran']);
  });

  it('runs a step needing one approval once when two users approve at the same moment, each double-clicking', async () => {
    const id = incidents.get('conc-a')!;
    const card = await cardOf(id);
    expect((await t.press({ ...ALICE, actionId: `run-step:${id}:conc:fix`, messageTs: card.ts })).status).toBe(200);
    const requested = await waitForAudit(id, 'the fix request', (ev) => ev.some((e) => e.kind === 'step.requested' && e.data.step === 'fix'));
    const runId = requestedRun(requested, 'fix');
    const request = await slack.waitFor(() => slack.threadReplies(ALERT_CHANNEL, card.ts).find((m) => JSON.stringify(m.blocks).includes(`approve:${runId}`)), 10_000, 'the approval request');

    const approvals = await Promise.all(
      [BOB, CAROL, BOB, CAROL].map((who) => t.press({ ...who, actionId: `approve:${runId}`, messageTs: request.ts, threadTs: card.ts })),
    );
    counts.faults += approvals.length - 1;
    expect(approvals.map((p) => p.status)).toEqual([200, 200, 200, 200]);
    const events = await waitForAudit(id, 'the fix step to finish', (ev) => ofRun(ev, 'step.finished', runId).length > 0);
    await sleep(300);
    const after = await audit(id);
    expect(ofRun(after, 'step.approved', runId), 'approvals recorded').toHaveLength(1);
    expect(ofRun(after, 'step.started', runId), 'step.started events').toHaveLength(1);
    expect(ofRun(after, 'step.finished', runId)).toHaveLength(1);
    expect(ofRun(after, 'approval.refused', runId), 'the other 3 approvals were refused and audited').toHaveLength(3);
    expect(events.filter((e) => e.kind === 'step.started')).toHaveLength(2);
    expect(lines('fix-conc-a.log'), 'executions of the fix step').toEqual(['ran']);
  });

  it('runs a step once when one approver clicks Approve 8 times at once', async () => {
    const { id, card } = await openIncident('conc-b');
    expect((await t.press({ ...ALICE, actionId: `run-step:${id}:conc:fix`, messageTs: card.ts })).status).toBe(200);
    const runId = requestedRun(await waitForAudit(id, 'the fix request', (ev) => ev.some((e) => e.kind === 'step.requested')), 'fix');
    const request = await slack.waitFor(() => slack.threadReplies(ALERT_CHANNEL, card.ts).find((m) => JSON.stringify(m.blocks).includes(`approve:${runId}`)), 10_000, 'the approval request');
    const approvals = await Promise.all(Array.from({ length: 8 }, () => t.press({ ...BOB, actionId: `approve:${runId}`, messageTs: request.ts, threadTs: card.ts })));
    counts.faults += approvals.length - 1;
    expect(approvals.every((p) => p.status === 200)).toBe(true);
    await waitForAudit(id, 'the fix step to finish', (ev) => ofRun(ev, 'step.finished', runId).length > 0);
    await sleep(300);
    const events = await audit(id);
    expect(ofRun(events, 'step.approved', runId)).toHaveLength(1);
    expect(ofRun(events, 'step.started', runId)).toHaveLength(1);
    expect(ofRun(events, 'approval.refused', runId)).toHaveLength(7);
    expect(lines('fix-conc-b.log'), 'executions of the fix step').toEqual(['ran']);
  });

  it('files one request when a changing step is clicked 6 times at once, and runs it once', async () => {
    const { id, card } = await openIncident('conc-c');
    const presses = await Promise.all(Array.from({ length: 6 }, () => t.press({ ...ALICE, actionId: `run-step:${id}:conc:fix`, messageTs: card.ts })));
    counts.faults += presses.length - 1;
    expect(presses.every((p) => p.status === 200)).toBe(true);
    const requested = await waitForAudit(id, 'the request and the 5 refusals', (ev) => ev.filter((e) => e.kind === 'step.refused').length >= 5);
    expect(requested.filter((e) => e.kind === 'step.requested'), 'requests filed').toHaveLength(1);
    const runId = requestedRun(requested, 'fix');
    const request = await slack.waitFor(() => slack.threadReplies(ALERT_CHANNEL, card.ts).find((m) => JSON.stringify(m.blocks).includes(`approve:${runId}`)), 10_000, 'the approval request');
    await sleep(300);
    expect(slack.threadReplies(ALERT_CHANNEL, card.ts).filter((m) => JSON.stringify(m.blocks).includes('approve:')), 'approval requests in the thread').toHaveLength(1);
    expect((await t.press({ ...CAROL, actionId: `approve:${runId}`, messageTs: request.ts, threadTs: card.ts })).status).toBe(200);
    await waitForAudit(id, 'the fix step to finish', (ev) => ofRun(ev, 'step.finished', runId).length > 0);
    const events = await audit(id);
    expect(events.filter((e) => e.kind === 'step.started')).toHaveLength(1);
    expect(lines('fix-conc-c.log'), 'executions of the fix step').toEqual(['ran']);
    expect(cardsByIncident(slack, ALERT_CHANNEL).get(id)).toHaveLength(1);
  });
});
