import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertmanagerNotification } from '../../src/core/alertmanager-payload.js';
import type { AuditEvent } from '../../src/core/domain.js';
import { startFakeSlack, type FakeSlack, type StoredMessage } from '../fakes/slack-api.js';
import { blockActionsBody, signSlackRequest } from '../fakes/slack-signing.js';
import { ALERT_CHANNEL, SIGNING_SECRET, WEBHOOK_TOKEN, stepButtonIds, messageText, startTestBot, type TestBot } from '../support/bot-harness.js';
import { loadFixture } from '../support/fixtures.js';

/**
 * Bad input at every door of the bot: the Alertmanager webhook, Slack interactivity and the audit
 * route. Each refusal must be a clear answer naming the problem, and must leave nothing half
 * stored: no incident, no step run, no audit record, no card or chat call.
 */

const STRICT_RUNBOOK = `
name: strict-svc
match: { service: inject-strict }
params:
  instance: { fromLabel: instance, pattern: '[a-z0-9.-]+:[0-9]+' }
steps:
  - id: probe
    title: Probe instance
    action: exec
    run: [node, -e, 'console.log(JSON.stringify(process.argv.slice(1)))', '{{instance}}']
`;

const LOOSE_RUNBOOK = `
name: loose-echo
match: { service: inject-loose }
params:
  x: { fromLabel: instance, pattern: '.+' }
steps:
  - id: echo
    title: Echo argv
    action: exec
    run: [node, -e, 'console.log(JSON.stringify(process.argv.slice(1)))', '{{x}}']
`;

const ALICE = { userId: 'U0ALICE', userName: 'alice' };
const AUTH = { authorization: `Bearer ${WEBHOOK_TOKEN}` };

type Notification = AlertmanagerNotification & Record<string, unknown>;

/** A fresh copy of the recorded firing-single payload, with its own group, labels and fingerprint. */
function firing(groupKey: string, labels: Record<string, string> = {}): Notification {
  const n = structuredClone(loadFixture<Notification>('firing-single.json'));
  n.groupKey = groupKey;
  const alert = n.alerts[0]!;
  alert.labels = { ...alert.labels, ...labels };
  alert.fingerprint = `fp-${groupKey.replace(/[^a-z0-9]/gi, '').slice(-24)}`;
  n.commonLabels = { ...n.commonLabels, ...labels };
  n.groupLabels = { alertname: alert.labels.alertname ?? 'x', service: alert.labels.service ?? 'x' };
  return n;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Rows in a table of the bot's SQLite file, read through a separate read-only connection. */
function countRows(t: TestBot, sql: string, ...args: unknown[]): number {
  const db = new Database(t.dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).get(...args) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Chat API calls the bot made. */
function botCalls(slack: FakeSlack) {
  return slack.calls;
}

interface Snapshot {
  incidents: number;
  alerts: number;
  notifications: number;
  stepRuns: number;
  approvals: number;
  audit: number;
  outbox: number;
  slackCalls: number;
  ephemerals: number;
}

function snapshot(t: TestBot, slack: FakeSlack): Snapshot {
  const n = (table: string) => countRows(t, `SELECT count(*) AS n FROM ${table}`);
  return {
    incidents: n('incidents'),
    alerts: n('alerts'),
    notifications: n('notifications'),
    stepRuns: n('step_runs'),
    approvals: n('approvals'),
    audit: n('audit_events'),
    outbox: n('outbox'),
    slackCalls: botCalls(slack).length,
    ephemerals: slack.ephemerals.length,
  };
}

/** Waits until the outbox has delivered everything queued, so later chat calls can be attributed. */
async function settled(t: TestBot, slack: FakeSlack): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pending = await t.bot.store.transaction((tx) => tx.countPendingOutbox());
    const running = countRows(t, `SELECT count(*) AS n FROM step_runs WHERE state IN ('approved', 'running')`);
    if (pending === 0 && running === 0) break;
    if (Date.now() > deadline) throw new Error(`outbox not drained: ${pending} pending, ${running} steps running`);
    await sleep(20);
  }
  // A chat call already in flight when the outbox row was completed is recorded by now.
  const calls = botCalls(slack).length;
  await sleep(50);
  if (botCalls(slack).length !== calls) await settled(t, slack);
}

describe('ingress: bad input gets a clear answer and leaves the store consistent', () => {
  let slack: FakeSlack;
  let t: TestBot;

  const incidents = () => t.bot.store.transaction((tx) => tx.listIncidents({ limit: 100 }));
  const audit = (id: number) => t.bot.store.transaction((tx) => tx.listAudit(id));
  const stepRuns = (id: number) => t.bot.store.transaction((tx) => tx.listStepRuns(id));
  const pwned = () => path.join(t.dir, 'pwned');

  /** Posts a raw body to /slack/events with the given headers. */
  const postSlack = async (body: string, headers: Record<string, string>) => {
    const res = await fetch(`${t.url}/slack/events`, { method: 'POST', headers, body });
    return { status: res.status, body: await res.text() };
  };

  /** Fires a notification and waits for its card. */
  const fireAndWaitForCard = async (n: Notification): Promise<{ id: number; card: StoredMessage }> => {
    const res = await t.postWebhook(n);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.status).toBe('stored');
    const id = res.json.incidentId as number;
    const card = await slack.waitFor(
      () => slack.topLevel(ALERT_CHANNEL).find((m) => m.text.includes(`#${id} `)),
      10_000,
      `the card of incident #${id}`,
    );
    return { id, card };
  };

  const expectUnchanged = (before: Snapshot) => {
    expect(snapshot(t, slack)).toEqual(before);
  };

  beforeAll(async () => {
    slack = await startFakeSlack({ rateLimit: false });
    t = await startTestBot({ slack, runbooks: { 'strict.yaml': STRICT_RUNBOOK, 'loose.yaml': LOOSE_RUNBOOK } });
  });

  afterAll(async () => {
    await t?.stop();
    await slack?.close();
  });

  describe('webhook authentication', () => {
    const body = () => firing('{}:{auth="probe"}');

    it.each([
      ['no Authorization header', {}],
      ['a wrong bearer token', { authorization: 'Bearer not-the-token' }],
      ['the token without the Bearer scheme', { authorization: WEBHOOK_TOKEN }],
      ['the Basic scheme', { authorization: `Basic ${Buffer.from(`alertmanager:${WEBHOOK_TOKEN}`).toString('base64')}` }],
      ['the Basic scheme carrying the raw token', { authorization: `Basic ${WEBHOOK_TOKEN}` }],
      ['a bearer token with trailing junk', { authorization: `Bearer ${WEBHOOK_TOKEN}x` }],
    ])('refuses %s with 401 and stores nothing', async (_what, headers: Record<string, string>) => {
      const before = snapshot(t, slack);
      const res = await t.postWebhook(body(), headers);
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('unauthorized');
      expect(String(res.json.message)).toMatch(/Authorization: Bearer/);
      await sleep(100);
      expectUnchanged(before);
      expect(await incidents()).toHaveLength(0);
    });

    it('accepts the bearer scheme in any case (RFC 9110): the request gets past auth to body checks', async () => {
      const res = await t.postWebhook('{not json', { authorization: `bearer ${WEBHOOK_TOKEN}` });
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('invalid_json');
    });

    it('refuses a bad token even when the body is garbage (auth is checked first)', async () => {
      const res = await t.postWebhook('{not json', { authorization: 'Bearer nope' });
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('unauthorized');
    });
  });

  describe('webhook payload validation', () => {
    it('answers 400 invalid_json for a malformed body', async () => {
      const before = snapshot(t, slack);
      for (const bad of ['{"version":"4",', '', 'null x', "{'version':'4'}"]) {
        const res = await t.postWebhook(bad, AUTH);
        expect(res.status, `body ${JSON.stringify(bad)}`).toBe(400);
        expect(res.json.error).toBe('invalid_json');
        expect(String(res.json.message)).toMatch(/not valid JSON/);
      }
      await sleep(100);
      expectUnchanged(before);
    });

    const invalid: Array<[string, (n: Notification) => unknown, RegExp]> = [
      [
        'an alert without fingerprint',
        (n) => {
          delete (n.alerts[0] as Partial<Notification['alerts'][number]>).fingerprint;
          return n;
        },
        /alerts\.0\.fingerprint/,
      ],
      ['version 3', (n) => ({ ...n, version: '3' }), /^invalid Alertmanager payload: version:/],
      ['a missing version', (n) => ({ ...n, version: undefined }), /version/],
      ['an empty alerts array', (n) => ({ ...n, alerts: [] }), /: alerts:/],
      ['a JSON array instead of an object', (n) => [n], /\(root\)/],
      ['an unknown status', (n) => ({ ...n, status: 'pending' }), /status/],
      [
        'a bad startsAt',
        (n) => {
          n.alerts[0]!.startsAt = 'yesterday';
          return n;
        },
        /alerts\.0\.startsAt.*RFC 3339/,
      ],
      [
        'a label value over 16 KiB',
        (n) => {
          n.alerts[0]!.labels.instance = 'x'.repeat(16 * 1024 + 1);
          return n;
        },
        /alerts\.0\.labels\.instance/,
      ],
      [
        'more than 64 labels',
        (n) => {
          for (let i = 0; i < 65; i++) n.alerts[0]!.labels[`extra_${i}`] = 'v';
          return n;
        },
        /alerts\.0\.labels: at most 64 entries/,
      ],
      [
        'more than 64 common labels',
        (n) => {
          for (let i = 0; i < 65; i++) n.commonLabels[`extra_${i}`] = 'v';
          return n;
        },
        /commonLabels: at most 64 entries/,
      ],
      [
        'a non-string label value',
        (n) => {
          (n.alerts[0]!.labels as Record<string, unknown>).instance = 42;
          return n;
        },
        /alerts\.0\.labels\.instance/,
      ],
      ['a negative truncatedAlerts', (n) => ({ ...n, truncatedAlerts: -1 }), /truncatedAlerts/],
      ['an empty groupKey', (n) => ({ ...n, groupKey: '' }), /groupKey/],
    ];

    it.each(invalid)('answers 400 invalid_payload naming the field for %s', async (_what, mutate, message) => {
      const before = snapshot(t, slack);
      const res = await t.postWebhook(JSON.stringify(mutate(firing('{}:{invalid="payload"}'))), AUTH);
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('invalid_payload');
      expect(String(res.json.message)).toMatch(message);
      expect(Array.isArray(res.json.issues)).toBe(true);
      await sleep(50);
      expectUnchanged(before);
    });

    it('never stored an incident or posted a card for any refused request', async () => {
      await sleep(200);
      expect(await incidents()).toHaveLength(0);
      expect(slack.callsTo('chat.postMessage')).toHaveLength(0);
      expect(botCalls(slack)).toEqual([]);
    });

    it('accepts unknown extra fields from newer Alertmanagers (200)', async () => {
      const n = firing('{}:{extra="fields"}');
      const body = {
        ...n,
        notification_reason: 'repeat',
        routeLabels: { team: 'core' },
        someFutureObject: { nested: [1, 2, 3] },
        alerts: n.alerts.map((a) => ({ ...a, silencedBy: [], inhibitedBy: null, extraAlertField: 'whatever' })),
      };
      const res = await t.postWebhook(body);
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      expect(res.json).toMatchObject({ status: 'stored', created: true });
      const list = await incidents();
      expect(list).toHaveLength(1);
      expect(list[0]!.groupKey).toBe('{}:{extra="fields"}');
      await slack.waitFor(() => slack.topLevel(ALERT_CHANNEL).length === 1, 10_000, 'the card of the accepted notification');
    });
  });

  describe('Slack request verification', () => {
    let incidentId: number;
    let card: StoredMessage;
    const actionId = () => `run-step:${incidentId}:loose-echo:echo`;

    beforeAll(async () => {
      ({ id: incidentId, card } = await fireAndWaitForCard(firing('{}:{slack="verification"}', { service: 'inject-loose', instance: 'web-1:80' })));
      expect(stepButtonIds(card.blocks)).toEqual([actionId()]);
      await settled(t, slack);
    });

    const signedBody = () =>
      blockActionsBody({
        user: { id: ALICE.userId, name: ALICE.userName },
        channel: ALERT_CHANNEL,
        messageTs: card.ts,
        actionId: actionId(),
        value: actionId(),
      });

    const expectNoEffect = async (before: Snapshot) => {
      await sleep(300);
      expectUnchanged(before);
      expect(await stepRuns(incidentId)).toEqual([]);
    };

    it('refuses a press signed with the wrong secret (401), with no effect', async () => {
      const before = snapshot(t, slack);
      const res = await t.press({ ...ALICE, actionId: actionId(), messageTs: card.ts, secret: 'not-the-signing-secret' });
      expect(res.status).toBe(401);
      await expectNoEffect(before);
    });

    it('refuses a correctly signed press whose timestamp is 6 minutes old (401), with no effect', async () => {
      const before = snapshot(t, slack);
      const res = await t.press({ ...ALICE, actionId: actionId(), messageTs: card.ts, timestampSeconds: Math.floor(Date.now() / 1000) - 6 * 60 });
      expect(res.status).toBe(401);
      await expectNoEffect(before);
    });

    it('refuses a correctly signed press whose timestamp is 6 minutes in the future (401), with no effect', async () => {
      const before = snapshot(t, slack);
      const res = await t.press({ ...ALICE, actionId: actionId(), messageTs: card.ts, timestampSeconds: Math.floor(Date.now() / 1000) + 6 * 60 });
      expect(res.status).toBe(401);
      await expectNoEffect(before);
    });

    it('refuses a body modified after signing (401), with no effect', async () => {
      const before = snapshot(t, slack);
      const body = signedBody();
      const headers = signSlackRequest(SIGNING_SECRET, body);
      // Same signature, but the attacker swapped the user for an approver's id.
      const tampered = body.replace(encodeURIComponent(ALICE.userId), encodeURIComponent('U0BOB'));
      expect(tampered).not.toBe(body);
      const res = await postSlack(tampered, { ...headers });
      expect(res.status).toBe(401);
      await expectNoEffect(before);
    });

    it('refuses requests without signature headers or with a malformed signature (401)', async () => {
      const before = snapshot(t, slack);
      const body = signedBody();
      const headers = signSlackRequest(SIGNING_SECRET, body);
      const noSig = await postSlack(body, { 'content-type': headers['content-type'] });
      expect(noSig.status).toBe(401);
      const badSig = await postSlack(body, { ...headers, 'x-slack-signature': 'v0=deadbeef' });
      expect(badSig.status).toBe(401);
      const badTs = await postSlack(body, { ...headers, 'x-slack-request-timestamp': 'not-a-number' });
      expect(badTs.status).toBe(401);
      await expectNoEffect(before);
    });

    it.each(['run-step:abc', 'approve:', 'whatever', 'run-step:1:Loose-Echo:echo', 'deny:1:2', 'approve:-1', 'run-step:1:loose-echo:echo:extra'])(
      'acknowledges an unparseable button id %j and explains privately, storing nothing',
      async (buttonId) => {
        const before = snapshot(t, slack);
        const res = await t.press({ ...ALICE, actionId: buttonId, messageTs: card.ts });
        expect(res.status).toBe(200);
        const told = await slack.waitFor(() => slack.ephemerals.slice(before.ephemerals).find((e) => e.user === ALICE.userId), 5_000, 'the private explanation');
        expect(told.text).toMatch(/not one the incident bot knows/);
        expect(told.channel).toBe(ALERT_CHANNEL);
        await sleep(100);
        const after = snapshot(t, slack);
        expect({ ...after, slackCalls: 0, ephemerals: 0 }).toEqual({ ...before, slackCalls: 0, ephemerals: 0 });
        expect(after.ephemerals).toBe(before.ephemerals + 1);
        // The only chat calls were looking at the user and telling them; nothing in the channel.
        const newCalls = botCalls(slack).slice(before.slackCalls).map((c) => c.method);
        expect(newCalls.filter((m) => m === 'chat.postMessage' || m === 'chat.update')).toEqual([]);
      },
    );

    it('still runs a correctly signed press (control: the refusals above were not for another reason)', async () => {
      const res = await t.press({ ...ALICE, actionId: actionId(), messageTs: card.ts });
      expect(res.status).toBe(200);
      await slack.waitFor(() => slack.threadReplies(ALERT_CHANNEL, card.ts).find((m) => /Echo argv\* succeeded/.test(m.text)), 10_000, 'the step result');
      expect(await stepRuns(incidentId)).toHaveLength(1);
      await settled(t, slack);
      // Bolt, given only a token, asks Slack who the bot is (auth.test) before every listener runs:
      // the ack would wait for that round trip. The bot's presses must not.
      expect(slack.callsTo('auth.test')).toEqual([]);
    });
  });

  describe('label injection', () => {
    const hostile = () => ({
      subshell: `$(touch ${pwned()})`,
      backticks: `\`touch ${pwned()}\``,
      semicolon: 'a; reboot',
      newline: `web-1:80\ntouch ${pwned()}`,
    });

    it.each(['subshell', 'backticks', 'semicolon', 'newline'] as const)(
      'a strict pattern keeps a %s instance label from being offered or run',
      async (kind) => {
        const value = hostile()[kind];
        const { id, card } = await fireAndWaitForCard(firing(`{}:{inject="strict-${kind}"}`, { service: 'inject-strict', instance: value }));
        // The card offers no button for the runbook and says why.
        expect(stepButtonIds(card.blocks)).toEqual([]);
        const text = messageText(card);
        expect(text).toContain('Not offered: strict-svc: param \\"instance\\" from label \\"instance\\"');
        expect(text).toMatch(kind === 'newline' ? /contains a line break or NUL character/ : /does not match \[a-z0-9\.-\]\+:\[0-9\]\+/);
        await settled(t, slack);

        // A forged press of the button the card did not offer is refused privately and audited.
        const before = snapshot(t, slack);
        const res = await t.press({ ...ALICE, actionId: `run-step:${id}:strict-svc:probe`, messageTs: card.ts });
        expect(res.status).toBe(200);
        const told = await slack.waitFor(() => slack.ephemerals.slice(before.ephemerals).find((e) => e.user === ALICE.userId), 5_000, 'the private refusal');
        expect(told.text).toMatch(/Runbook "strict-svc" cannot run for this incident/);
        const trail = await audit(id);
        const refusal = trail.find((e) => e.kind === 'step.refused');
        expect(refusal, JSON.stringify(trail.map((e) => e.kind))).toBeDefined();
        expect(refusal!.actor).toBe(`slack:${ALICE.userId}`);
        expect(refusal!.data).toMatchObject({ runbook: 'strict-svc', step: 'probe' });
        expect(await stepRuns(id)).toEqual([]);
        await sleep(300);
        expect(botCalls(slack).slice(before.slackCalls).filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update')).toEqual([]);
        expect(fs.existsSync(pwned())).toBe(false);
      },
    );

    it.each(['subshell', 'backticks', 'semicolon'] as const)(
      'a permissive pattern passes a %s instance label as exactly one argument, never to a shell',
      async (kind) => {
        const value = hostile()[kind];
        const { id, card } = await fireAndWaitForCard(firing(`{}:{inject="loose-${kind}"}`, { service: 'inject-loose', instance: value }));
        const button = `run-step:${id}:loose-echo:echo`;
        expect(stepButtonIds(card.blocks)).toEqual([button]);
        const res = await t.press({ ...ALICE, actionId: button, messageTs: card.ts });
        expect(res.status).toBe(200);
        const result = await slack.waitFor(
          () => slack.threadReplies(ALERT_CHANNEL, card.ts).find((m) => /Echo argv\* (succeeded|failed|timed out)/.test(m.text)),
          10_000,
          'the step result in the thread',
        );
        expect(result.text).toMatch(/Echo argv\* succeeded: exit 0/);
        const fenced = /```\n([\s\S]*?)\n```/.exec(result.text);
        expect(fenced, result.text).not.toBeNull();
        // Thread text escapes &, < and >; none of the hostile values use them.
        expect(JSON.parse(fenced![1]!)).toEqual([value]);
        const [run] = await stepRuns(id);
        expect(run?.state).toBe('succeeded');
        expect(run?.params).toEqual({ x: value });
        expect(JSON.parse(run!.result!.outputTail)).toEqual([value]);
        expect(fs.existsSync(pwned())).toBe(false);
      },
    );

    it('a permissive pattern still refuses a newline in a label value', async () => {
      const value = hostile().newline;
      const { id, card } = await fireAndWaitForCard(firing('{}:{inject="loose-newline"}', { service: 'inject-loose', instance: value }));
      expect(stepButtonIds(card.blocks)).toEqual([]);
      expect(messageText(card)).toMatch(/Not offered: loose-echo: .*contains a line break or NUL character/);
      await settled(t, slack);
      const before = snapshot(t, slack);
      const res = await t.press({ ...ALICE, actionId: `run-step:${id}:loose-echo:echo`, messageTs: card.ts });
      expect(res.status).toBe(200);
      const told = await slack.waitFor(() => slack.ephemerals.slice(before.ephemerals).find((e) => e.user === ALICE.userId), 5_000, 'the private refusal');
      expect(told.text).toMatch(/cannot run for this incident.*line break/);
      expect((await audit(id)).map((e) => e.kind)).toContain('step.refused');
      expect(await stepRuns(id)).toEqual([]);
      expect(fs.existsSync(pwned())).toBe(false);
    });
  });

  describe('unknown targets and routes', () => {
    it('refuses a forged button for an unknown incident privately, and audits it', async () => {
      await settled(t, slack);
      const before = snapshot(t, slack);
      const card = slack.topLevel(ALERT_CHANNEL)[0]!;
      const res = await t.press({ ...ALICE, actionId: 'run-step:999:loose-echo:echo', messageTs: card.ts });
      expect(res.status).toBe(200);
      const told = await slack.waitFor(() => slack.ephemerals.slice(before.ephemerals).find((e) => e.user === ALICE.userId), 5_000, 'the private refusal');
      expect(told.text).toMatch(/Incident #999 does not exist/);
      await sleep(100);
      const after = snapshot(t, slack);
      expect(after.audit).toBe(before.audit + 1);
      expect(after.stepRuns).toBe(before.stepRuns);
      expect(after.incidents).toBe(before.incidents);
      // The refusal names no existing incident, so it is audited without one.
      const db = new Database(t.dbFile, { readonly: true, fileMustExist: true });
      try {
        const row = db.prepare('SELECT incident_id, actor, kind, data FROM audit_events ORDER BY seq DESC LIMIT 1').get() as {
          incident_id: number | null;
          actor: string;
          kind: string;
          data: string;
        };
        expect(row).toMatchObject({ incident_id: null, actor: `slack:${ALICE.userId}`, kind: 'step.refused' });
        expect(JSON.parse(row.data)).toMatchObject({ incidentId: 999 });
      } finally {
        db.close();
      }
      expect(botCalls(slack).slice(before.slackCalls).filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update')).toEqual([]);
    });

    it('refuses a forged approval of an unknown run privately, and audits it', async () => {
      const before = snapshot(t, slack);
      const card = slack.topLevel(ALERT_CHANNEL)[0]!;
      const res = await t.press({ ...ALICE, actionId: 'approve:4242', messageTs: card.ts });
      expect(res.status).toBe(200);
      const told = await slack.waitFor(() => slack.ephemerals.slice(before.ephemerals).find((e) => e.user === ALICE.userId), 5_000, 'the private refusal');
      expect(told.text).toMatch(/Run 4242 does not exist/);
      await sleep(100);
      const after = snapshot(t, slack);
      expect(after.audit).toBe(before.audit + 1);
      expect(after.approvals).toBe(before.approvals);
    });

    it('answers the audit route with 404 for an unknown incident and 400 for a bad id', async () => {
      const missing = await fetch(`${t.url}/incidents/999/audit`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: 'not_found', message: expect.stringContaining('999') as unknown });
      for (const bad of ['abc', '1.5', '-1', '1e3', '%20']) {
        const res = await fetch(`${t.url}/incidents/${bad}/audit`);
        expect(res.status, bad).toBe(400);
        expect(await res.json()).toMatchObject({ error: 'invalid_id' });
      }
      const ok = await fetch(`${t.url}/incidents/1/audit`);
      expect(ok.status).toBe(200);
      const { events } = (await ok.json()) as { events: AuditEvent[] };
      expect(events[0]?.kind).toBe('alert.received');
    });

    it('answers 404 for an unknown route and 405 for a wrong method', async () => {
      const unknown = await fetch(`${t.url}/webhooks/prometheus`, { method: 'POST', body: '{}' });
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ error: 'not_found' });

      const before = snapshot(t, slack);
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await fetch(`${t.url}/webhooks/alertmanager`, { method, headers: AUTH });
        expect(res.status, method).toBe(405);
        expect(res.headers.get('allow')).toBe('POST');
        expect(await res.json()).toMatchObject({ error: 'method_not_allowed' });
      }
      const audit = await fetch(`${t.url}/incidents/1/audit`, { method: 'POST' });
      expect(audit.status).toBe(405);
      expectUnchanged(before);
    });
  });
});

describe('ingress: body size limit', () => {
  const LIMIT = 65536;
  let slack: FakeSlack;
  let t: TestBot;

  beforeAll(async () => {
    slack = await startFakeSlack({ rateLimit: false });
    t = await startTestBot({ slack, runbooks: { 'loose.yaml': LOOSE_RUNBOOK }, env: { WEBHOOK_MAX_BYTES: String(LIMIT) } });
  });

  afterAll(async () => {
    await t?.stop();
    await slack?.close();
  });

  /** A valid payload padded with JSON whitespace to exactly `bytes` bytes. */
  const paddedTo = (bytes: number, groupKey: string): string => {
    const json = JSON.stringify(firing(groupKey));
    const size = Buffer.byteLength(json);
    expect(size).toBeLessThan(bytes);
    return `${json}${' '.repeat(bytes - size)}`;
  };

  it('answers 413 to a ~100 KiB body and stores nothing', async () => {
    const body = paddedTo(100 * 1024, '{}:{size="100k"}');
    const res = await t.postWebhook(body);
    expect(res.status).toBe(413);
    expect(res.json.error).toBe('body_too_large');
    expect(String(res.json.message)).toContain(String(LIMIT));
    await sleep(200);
    expect(snapshot(t, slack)).toMatchObject({ incidents: 0, notifications: 0, audit: 0, outbox: 0, slackCalls: 0 });
  });

  it('answers 413 to one byte over the limit', async () => {
    const res = await t.postWebhook(paddedTo(LIMIT + 1, '{}:{size="over"}'));
    expect(res.status).toBe(413);
    expect(await t.bot.store.transaction((tx) => tx.listIncidents({ limit: 100 }))).toHaveLength(0);
  });

  it('answers 413 to an oversized chunked body without Content-Length', async () => {
    const chunk = Buffer.from(' '.repeat(16 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(Buffer.from(JSON.stringify(firing('{}:{size="chunked"}'))));
        for (let i = 0; i < 7; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await fetch(`${t.url}/webhooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...AUTH },
      body: stream,
      duplex: 'half',
    });
    expect(res.status).toBe(413);
    expect(await t.bot.store.transaction((tx) => tx.listIncidents({ limit: 100 }))).toHaveLength(0);
  });

  it('accepts a valid body of exactly the limit (not 413)', async () => {
    const body = paddedTo(LIMIT, '{}:{size="exact"}');
    expect(Buffer.byteLength(body)).toBe(LIMIT);
    const res = await t.postWebhook(body);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json).toMatchObject({ status: 'stored', created: true });
    expect(await t.bot.store.transaction((tx) => tx.listIncidents({ limit: 100 }))).toHaveLength(1);
  });

  it('answers a schema error, not 413, for an invalid body of exactly the limit', async () => {
    const n = firing('{}:{size="exact-invalid"}');
    const json = JSON.stringify({ ...n, version: '3' });
    const body = `${json}${' '.repeat(LIMIT - Buffer.byteLength(json))}`;
    const res = await t.postWebhook(body);
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_payload');
    expect(String(res.json.message)).toMatch(/version/);
  });
});
