import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/core/engine.js';
import { NotAllowedError } from '../../../src/domain/errors.js';
import type { DeliveryTarget } from '../../../src/core/events.js';
import { recordNotification } from '../../../src/core/notifications.js';
import { approvalRefusal, type Actor } from '../../../src/core/policy.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { auditRefusal, decideStep, requestStep, type StepContext } from '../../../src/core/steps.js';
import { createMetrics } from '../../../src/metrics.js';
import { parseRunbook } from '../../../src/runbooks/loader.js';
import type { Runbook } from '../../../src/runbooks/schema.js';
import { defaultPolicy } from '../../../src/settings/policy.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { ALICE, BOB, CAROL, DAVE, actor, alert, at, gitcortexRunbook, notification, recordNow, silentLog, waitFor } from './factories.js';
import { localStepRunner } from '../../../src/runbooks/index.js';

const TARGETS: DeliveryTarget[] = [{ platform: 'slack', channel: 'C0ALERTS' }];

/** The refusal a promise rejects with; fails the test if it resolves or rejects with something else. */
async function refusal(p: Promise<unknown>): Promise<NotAllowedError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof NotAllowedError) return error;
    throw error;
  }
  throw new Error('expected a NotAllowedError');
}

/** A step policy naming these approvers (none: anyone but the requester). */
const ap = (ids: string[]) => ({ approvers: ids.length > 0 ? ids : undefined, approverRoles: undefined });

describe('requestStep / decideStep', () => {
  let store: SqliteStore;
  let runbook: Runbook;
  let incidentId: number;

  // Requests alone: the ack a request makes on an unowned incident has tests of its own below.
  const quiet = () => {
    const policy = defaultPolicy([]);
    return { ...policy, defaults: { ...policy.defaults, acknowledgeOnRequest: false } };
  };
  const ctx = (over: Partial<StepContext> = {}): StepContext => ({ runbooks: [runbook], policy: quiet(), now: at(100), ...over });
  const request = (who: Actor, step: string, c = ctx(), incident = incidentId, rb = 'gitcortex') =>
    store.transaction((tx) => requestStep(tx, c, who, incident, rb, step));
  const decide = (who: Actor, runId: number, decision: 'approve' | 'deny', c = ctx()) =>
    store.transaction((tx) => decideStep(tx, c, who, runId, decision));
  const run = (id: number) => store.transaction((tx) => tx.getStepRun(id));
  const audit = () => store.transaction((tx) => tx.listAudit(incidentId));
  const replies = async () =>
    (await store.transaction((tx) => tx.pendingOutbox(1000))).filter((m) => m.kind === 'reply').map((m) => m.payload as { text: string; buttons?: unknown[] });
  const approvals = (runId: number) => store.transaction((tx) => tx.listApprovals(runId));

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    runbook = gitcortexRunbook();
    ({ incidentId } = await store.transaction((tx) => recordNotification(tx, notification([alert('gitcortex-1:3001')]), at(0), TARGETS)));
    // Start each test with an empty outbox, as if the card had been posted.
    await store.transaction(async (tx) => {
      for (const m of await tx.pendingOutbox(100)) await tx.completeOutbox(m.id, at(1));
    });
  });

  afterEach(async () => {
    await store.close();
  });

  describe('requesting', () => {
    it('makes the requester the owner of an unowned firing incident (the default), once', async () => {
      const withAck = ctx({ policy: defaultPolicy([]) });
      await request(ALICE, 'status', withAck);
      const incident = await store.transaction((tx) => tx.getIncident(incidentId));
      expect(incident?.acknowledgement).toMatchObject({ by: 'slack:U0ALICE', byName: 'alice', at: at(100) });
      expect((await audit()).map((e) => [e.kind, e.actor]).slice(-2)).toEqual([
        ['incident.ack', 'slack:U0ALICE'],
        ['step.requested', 'slack:U0ALICE'],
      ]);
      // A second requester does not take it over.
      await request(BOB, 'restart', withAck);
      expect((await store.transaction((tx) => tx.getIncident(incidentId)))?.acknowledgement?.by).toBe('slack:U0ALICE');
      expect((await audit()).filter((e) => e.kind === 'incident.ack')).toHaveLength(1);
    });

    it('leaves ownership to the Acknowledge button when the policy says acknowledgeOnRequest: false', async () => {
      await request(ALICE, 'status');
      expect((await store.transaction((tx) => tx.getIncident(incidentId)))?.acknowledgement).toBeNull();
    });

    it('approves a read-only step at once', async () => {
      const r = await request(ALICE, 'status');
      expect(r).toMatchObject({
        incidentId,
        runbook: 'gitcortex',
        step: 'status',
        stepTitle: 'Service status',
        state: 'approved',
        changes: false,
        requiredApprovals: 0,
        requestedBy: 'U0ALICE',
        requestedByName: 'alice',
        platform: 'slack',
        params: { instance: 'gitcortex-1:3001', unit: 'gitcortex' },
      });
      const events = await audit();
      expect(events.at(-1)).toMatchObject({ kind: 'step.requested', actor: 'slack:U0ALICE', text: '🔎 alice runs *Service status* (read-only, no approval needed).' });
      // The thread's message carries the time to the second; the audit record has it in its own field.
      expect(await replies()).toEqual([{ text: `🔎 ${at(100).slice(11, 19)} alice runs *Service status* (read-only, no approval needed).` }]);
    });

    it('leaves a changing step requested, with Approve and Deny buttons in the queued reply', async () => {
      const r = await request(ALICE, 'restart');
      expect(r).toMatchObject({ state: 'requested', changes: true, requiredApprovals: 1, selfApprove: false });
      const text = '🙋 alice asks to run *Restart GitCortex* — needs 1 approval. The request expires in 15 min.';
      expect(await replies()).toEqual([
        {
          text: text.replace('🙋 ', `🙋 ${at(100).slice(11, 19)} `),
          buttons: [
            { action: 'approve', id: `approve:${r.id}`, label: 'Approve', value: `approve:${r.id}`, style: 'primary' },
            { action: 'deny', id: `deny:${r.id}`, label: 'Deny', value: `deny:${r.id}`, style: 'danger' },
          ],
        },
      ]);
      expect((await audit()).at(-1)).toMatchObject({ kind: 'step.requested', text, data: { runId: r.id, runbook: 'gitcortex', step: 'restart' } });
      // The card is refreshed to show the request.
      expect((await store.transaction((tx) => tx.pendingOutbox(100))).filter((m) => m.kind === 'card')).toHaveLength(1);
    });

    it('says how many approvals a step needs', async () => {
      await request(ALICE, 'migrate');
      expect((await replies())[0]?.text).toBe(`🙋 ${at(100).slice(11, 19)} alice asks to run *Migrate schema* — needs 2 approvals. The request expires in 15 min.`);
    });

    it('refuses a second request while the step is active, with audit info', async () => {
      const first = await request(ALICE, 'restart');
      const before = await audit();
      const error = await refusal(request(BOB, 'restart'));
      expect(error.code).toBe('not_allowed');
      expect(error.message).toBe(`"Restart GitCortex" was already requested by alice and is requested (run ${first.id}).`);
      expect(error.audit).toEqual({ incidentId, kind: 'step.refused', data: { runbook: 'gitcortex', step: 'restart', runId: first.id } });
      // The refused transaction wrote nothing.
      expect(await audit()).toEqual(before);
      expect(await store.transaction((tx) => tx.listStepRuns(incidentId))).toHaveLength(1);

      // An approved read-only step that has not run yet is active too.
      const status = await request(ALICE, 'status');
      expect((await refusal(request(ALICE, 'status'))).audit?.data).toMatchObject({ runId: status.id });
    });

    it('allows a new request once the previous run finished', async () => {
      const first = await request(ALICE, 'restart');
      await decide(ALICE, first.id, 'deny');
      const second = await request(ALICE, 'restart');
      expect(second.id).not.toBe(first.id);
      expect(second.state).toBe('requested');
    });

    it('refuses unknown incidents, runbooks and steps, and runbooks that do not apply', async () => {
      const noIncident = await refusal(request(ALICE, 'restart', ctx(), 999));
      expect(noIncident.message).toBe('Incident #999 does not exist.');
      expect(noIncident.audit).toEqual({ incidentId: null, kind: 'step.refused', data: { incidentId: 999 } });

      const noRunbook = await refusal(request(ALICE, 'restart', ctx(), incidentId, 'nope'));
      expect(noRunbook.audit).toMatchObject({ incidentId, kind: 'step.refused', data: { runbook: 'nope', step: 'restart' } });
      expect(noRunbook.message).toContain('no runbook named "nope"');

      expect((await refusal(request(ALICE, 'reboot'))).message).toBe('Runbook "gitcortex" has no step "reboot".');

      const other = await store.transaction((tx) =>
        recordNotification(tx, notification([alert('shop-1:8080', { labels: { service: 'shop' } })], { groupKey: 'shop', groupLabels: { service: 'shop' } }), at(5), TARGETS),
      );
      expect((await refusal(request(ALICE, 'restart', ctx(), other.incidentId))).message).toContain('does not apply');
    });
  });

  describe('deciding', () => {
    it('does not let the requester approve their own changing step', async () => {
      const r = await request(ALICE, 'restart');
      const error = await refusal(decide(ALICE, r.id, 'approve'));
      expect(error.message).toBe('You requested "Restart GitCortex", so you cannot approve it: a teammate must.');
      expect(error.audit).toEqual({ incidentId, kind: 'approval.refused', data: { runId: r.id, decision: 'approve' } });
      expect((await run(r.id))?.state).toBe('requested');
      expect(await approvals(r.id)).toEqual([]);

      const approved = await decide(BOB, r.id, 'approve');
      expect(approved.state).toBe('approved');
      expect((await audit()).at(-1)).toMatchObject({
        kind: 'step.approved',
        actor: 'slack:U0BOB',
        text: '👍 bob approved *Restart GitCortex* (1/1). Running it now.',
        data: { runId: r.id, approvals: ['slack:U0BOB'] },
      });
    });

    it('lets the requester approve when the step allows selfApprove', async () => {
      const r = await request(ALICE, 'flush');
      expect(r).toMatchObject({ state: 'requested', selfApprove: true });
      expect((await decide(ALICE, r.id, 'approve')).state).toBe('approved');
    });

    it('limits approvals to the listed users and groups', async () => {
      const approvers = ['U0BOB', 'S0SRE'];
      const c = ctx({ policy: defaultPolicy(approvers) });
      const r1 = await request(ALICE, 'restart', c);
      const error = await refusal(decide(DAVE, r1.id, 'approve', c));
      // The refusal names the role, never the ids that would pass.
      expect(error.message).toBe('You are not an approver for "Restart GitCortex": approvals come from the approvers role.');
      expect(error.audit?.kind).toBe('approval.refused');
      // A non-approver cannot deny either.
      await refusal(decide(DAVE, r1.id, 'deny', c));
      // By group membership.
      expect((await decide(CAROL, r1.id, 'approve', c)).state).toBe('approved');

      // By user id.
      const r2 = await request(ALICE, 'flush', c);
      expect((await decide(BOB, r2.id, 'approve', c)).state).toBe('approved');
    });

    it('needs two distinct users when a step asks for two approvals', async () => {
      const r = await request(ALICE, 'migrate');
      expect(r.requiredApprovals).toBe(2);

      const afterBob = await decide(BOB, r.id, 'approve');
      expect(afterBob.state).toBe('requested');
      expect((await audit()).at(-1)?.text).toBe('👍 bob approved *Migrate schema* (1/2).');

      const again = await refusal(decide(BOB, r.id, 'approve'));
      expect(again.message).toBe('You already decided on "Migrate schema".');
      expect(again.message).toContain('already decided');
      expect(again.audit).toEqual({ incidentId, kind: 'approval.refused', data: { runId: r.id, decision: 'approve' } });
      expect((await run(r.id))?.state).toBe('requested');

      const afterCarol = await decide(CAROL, r.id, 'approve');
      expect(afterCarol.state).toBe('approved');
      expect((await audit()).at(-1)?.text).toBe('👍 carol approved *Migrate schema* (2/2). Running it now.');
      expect((await approvals(r.id)).map((a) => a.approver)).toEqual(['slack:U0BOB', 'slack:U0CAROL']);
    });

    it('treats a deny by the requester as a withdrawal, and a deny by someone else as a denial', async () => {
      const r1 = await request(ALICE, 'restart');
      expect((await decide(ALICE, r1.id, 'deny')).state).toBe('denied');
      expect((await audit()).at(-1)).toMatchObject({ kind: 'step.denied', text: '🚫 alice withdrew *Restart GitCortex*.' });

      const r2 = await request(ALICE, 'restart');
      expect((await decide(BOB, r2.id, 'deny')).state).toBe('denied');
      expect((await audit()).at(-1)).toMatchObject({ kind: 'step.denied', actor: 'slack:U0BOB', text: '🚫 bob denied *Restart GitCortex*.' });
    });

    it('adds each decision to the request message by an edit: buttons kept while approvals are missing, gone once settled', async () => {
      const edits = async () =>
        (await store.transaction((tx) => tx.pendingOutbox(1000))).filter((m) => m.kind === 'edit').map((m) => ({ subject: m.subject, ...(m.payload as { text: string; buttons?: unknown[] }) }));
      const migrate = await request(ALICE, 'migrate');
      const asked = (await replies()).at(-1)?.text;
      await decide(BOB, migrate.id, 'approve');
      // One of two approvals: the line is added, Approve and Deny stay for the second approver.
      const [first] = await edits();
      expect(first).toMatchObject({ subject: `run:${migrate.id}`, text: `${asked}\n👍 ${at(100).slice(11, 19)} approved by bob (1/2)` });
      expect(first?.buttons?.map((b) => (b as { id: string }).id)).toEqual([`approve:${migrate.id}`, `deny:${migrate.id}`]);
      await decide(CAROL, migrate.id, 'approve', ctx({ now: at(165) }));
      expect((await edits())[1]).toEqual({ subject: `run:${migrate.id}`, text: `${first?.text}\n👍 ${at(165).slice(11, 19)} approved by carol (2/2): running it now` });
      // No message of its own for a decision: the thread holds the request only.
      expect((await replies()).filter((r) => r.text.includes('Migrate schema'))).toHaveLength(1);

      const withdrawn = await request(ALICE, 'restart');
      await decide(ALICE, withdrawn.id, 'deny');
      const denied = await request(ALICE, 'restart');
      await decide(BOB, denied.id, 'deny');
      // The request waits past its 15 minutes: the next press expires it.
      const stale = await request(ALICE, 'restart', ctx({ now: at(200) }));
      expect((await decide(BOB, stale.id, 'approve', ctx({ now: at(200 + 15 * 60) }))).state).toBe('expired');
      expect((await edits()).slice(2).map((e) => [e.subject, e.text.split('\n').at(-1)])).toEqual([
        [`run:${withdrawn.id}`, `🚫 ${at(100).slice(11, 19)} withdrawn by alice`],
        [`run:${denied.id}`, `🚫 ${at(100).slice(11, 19)} denied by bob`],
        [`run:${stale.id}`, `⌛ ${at(200 + 15 * 60).slice(11, 19)} expired: not approved within 15 min`],
      ]);
      expect((await edits()).slice(1).every((e) => !('buttons' in e))).toBe(true);
    });

    it('refuses decisions on runs that are no longer waiting, or do not exist', async () => {
      const denied = await request(ALICE, 'restart');
      await decide(BOB, denied.id, 'deny');
      const late = await refusal(decide(CAROL, denied.id, 'approve'));
      expect(late.message).toBe('"Restart GitCortex" is already denied; nothing to approve.');
      expect(late.audit).toEqual({ incidentId, kind: 'approval.refused', data: { runId: denied.id, decision: 'approve' } });

      const readOnly = await request(ALICE, 'status');
      expect((await refusal(decide(BOB, readOnly.id, 'deny'))).message).toBe('"Service status" is already approved; nothing to deny.');

      await store.transaction((tx) => tx.transitionStepRun(readOnly.id, ['approved'], 'succeeded', at(200)));
      expect((await refusal(decide(BOB, readOnly.id, 'approve'))).message).toContain('is already succeeded');

      const missing = await refusal(decide(BOB, 4242, 'approve'));
      expect(missing.audit).toEqual({ incidentId: null, kind: 'approval.refused', data: { runId: 4242 } });
    });

    it('records a refusal in a transaction of its own', async () => {
      const r = await request(ALICE, 'restart');
      const error = await refusal(decide(ALICE, r.id, 'approve'));
      await store.transaction((tx) => auditRefusal(tx, ALICE, error, at(150)));
      const last = (await audit()).at(-1);
      expect(last).toMatchObject({
        at: at(150),
        kind: 'approval.refused',
        actor: 'slack:U0ALICE',
        text: `⛔ alice was refused: ${error.message}`,
        data: { reason: error.message, runId: r.id, decision: 'approve' },
      });
      // Refusals are private: nothing is queued for the thread.
      expect(await replies()).toHaveLength(1);
    });
  });
});

describe('approvalRefusal', () => {
  const runOf = (over: Partial<Parameters<typeof approvalRefusal>[1]> = {}): Parameters<typeof approvalRefusal>[1] => ({
    id: 7,
    incidentId: 1,
    runbook: 'gitcortex',
    step: 'restart',
    stepTitle: 'Restart GitCortex',
    params: {},
    platform: 'slack',
    requestedBy: 'U0ALICE',
    requestedByName: 'alice',
    changes: true,
    requiredApprovals: 1,
    selfApprove: false,
    state: 'requested',
    createdAt: at(0),
    updatedAt: at(0),
    startedAt: null,
    finishedAt: null,
    result: null,
    runner: null,
    process: null,
    ...over,
  });

  it('lets anyone but the requester approve when no approvers are configured', () => {
    expect(approvalRefusal(BOB, runOf(), ap([]), 'approve')).toBeUndefined();
    expect(approvalRefusal(ALICE, runOf(), ap([]), 'approve')).toMatch(/cannot approve it/);
    expect(approvalRefusal(ALICE, runOf({ selfApprove: true }), ap([]), 'approve')).toBeUndefined();
  });

  it('always lets the requester withdraw, approver or not', () => {
    expect(approvalRefusal(ALICE, runOf(), ap(['U0BOB']), 'deny')).toBeUndefined();
  });

  it('matches approvers by user id or by one of the groups', () => {
    expect(approvalRefusal(BOB, runOf(), ap(['U0BOB']), 'approve')).toBeUndefined();
    expect(approvalRefusal(CAROL, runOf(), ap(['S0SRE']), 'approve')).toBeUndefined();
    expect(approvalRefusal(actor('U0EVE', 'eve', ['S0OTHER']), runOf(), ap(['S0SRE', 'U0BOB']), 'approve')).toMatch(/not an approver/);
  });

  it('does not take the same user id on another platform for the requester', () => {
    expect(approvalRefusal({ ...ALICE, platform: 'discord' }, runOf(), ap([]), 'approve')).toBeUndefined();
  });
});

describe('Engine without a chat platform', () => {
  let dir: string;
  let store: SqliteStore;
  /** The engine under test, stopped after each test. */
  let running: Engine | undefined;
  let metrics: ReturnType<typeof createMetrics>;

  const makeEngine = (runbooks: Runbook[], approvers: string[] = []): Engine => {
    metrics = createMetrics(() => Promise.resolve(0));
    running = new Engine({
      store,
      runbooks,
      runner: localStepRunner,
      platforms: [],
      route: () => [],
      policy: defaultPolicy(approvers),
      clock: () => new Date(),
      log: silentLog,
      redact: createRedactor(['super-secret-token-value']),
      env: { PATH: process.env.PATH },
      metrics,
      outboxPollMs: 20,
      executorPollMs: 20,
    });
    return running;
  };

  /** A runbook whose changing step really runs node and writes a file. */
  const writerRunbook = (out: string): Runbook =>
    parseRunbook(
      `
name: writer
match: { service: gitcortex }
params:
  unit: { default: gitcortex, pattern: '[a-z0-9@._-]+' }
steps:
  - id: write
    title: Write marker
    action: exec
    run: ${JSON.stringify([process.execPath, '-e', 'require("node:fs").writeFileSync(process.argv[1], "restarted " + process.argv[2])', out, '{{unit}}'])}
    changes: true
    timeoutSeconds: 20
`,
      'writer.yaml',
    );

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'engine-test-'));
    store = new SqliteStore(path.join(dir, 'bot.db'));
  });

  afterEach(async () => {
    await running?.stop(2000);
    running = undefined;
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const stateOf = async (runId: number) => (await store.transaction((tx) => tx.getStepRun(runId)))?.state;

  it('requests, approves and runs a real exec step, and audits every refusal', async () => {
    const out = path.join(dir, 'marker.txt');
    const engine = makeEngine([writerRunbook(out)]);
    await engine.start();

    const { incidentId, created } = await recordNow(engine, notification([alert('gitcortex-1:3001')]));
    expect(created).toBe(true);

    const requested = (await engine.requestStep(ALICE, incidentId, 'writer', 'write'))!;
    expect(requested.state).toBe('requested');
    await expect(engine.requestStep(BOB, incidentId, 'writer', 'write')).rejects.toBeInstanceOf(NotAllowedError);
    await expect(engine.decide(ALICE, requested.id, 'approve')).rejects.toThrow(/cannot approve it/);
    expect(await stateOf(requested.id)).toBe('requested');

    const approved = await engine.decide(BOB, requested.id, 'approve');
    expect(approved.state).toBe('approved');
    await waitFor(async () => (await stateOf(requested.id)) === 'succeeded', 10_000, 'the step to succeed');

    expect(await readFile(out, 'utf8')).toBe('restarted gitcortex');
    // A click after the run started is refused and audited too.
    await expect(engine.decide(CAROL, requested.id, 'approve')).rejects.toThrow(/already succeeded/);

    const finished = await store.transaction((tx) => tx.getStepRun(requested.id));
    expect(finished).toMatchObject({ state: 'succeeded', result: { status: 'succeeded', exitCode: 0 } });
    expect(finished?.startedAt).not.toBeNull();
    expect(finished?.finishedAt).not.toBeNull();

    const trail = await engine.auditTrail(incidentId);
    expect(trail?.map((e) => [e.kind, e.actor])).toEqual([
      ['alert.received', 'system'],
      ['incident.ack', 'slack:U0ALICE'],
      ['step.requested', 'slack:U0ALICE'],
      ['step.refused', 'slack:U0BOB'],
      ['approval.refused', 'slack:U0ALICE'],
      ['step.approved', 'slack:U0BOB'],
      ['step.started', 'system'],
      ['step.finished', 'system'],
      ['approval.refused', 'slack:U0CAROL'],
    ]);
    expect(trail?.find((e) => e.kind === 'step.started')?.text).toContain('will run');
    expect(trail?.find((e) => e.kind === 'step.finished')?.text).toMatch(/^✅ \*Write marker\* succeeded: exit 0/);
    expect(trail?.find((e) => e.kind === 'approval.refused')?.data).toMatchObject({ runId: requested.id, decision: 'approve' });
    expect(await engine.auditTrail(9999)).toBeUndefined();

    const stepRuns = await metrics.stepRuns.get();
    expect(stepRuns.values).toEqual([expect.objectContaining({ labels: { result: 'succeeded' }, value: 1 })]);
    // No targets: nothing is queued for chat.
    expect(await store.transaction((tx) => tx.countPendingOutbox())).toBe(0);
  });

  it('runs a read-only step without approval', async () => {
    const out = path.join(dir, 'status.txt');
    const rb = parseRunbook(
      `
name: reader
match: {}
steps:
  - id: look
    title: Look around
    action: exec
    run: ${JSON.stringify([process.execPath, '-e', 'require("node:fs").writeFileSync(process.argv[1], "looked"); console.log("token=super-secret-token-value")', out])}
`,
      'reader.yaml',
    );
    const engine = makeEngine([rb]);
    await engine.start();
    const { incidentId } = await recordNow(engine, notification([alert('gitcortex-1:3001')]));
    const r = (await engine.requestStep(DAVE, incidentId, 'reader', 'look'))!;
    expect(r.state).toBe('approved');
    await waitFor(async () => (await stateOf(r.id)) === 'succeeded', 10_000, 'the read-only step');
    expect(await readFile(out, 'utf8')).toBe('looked');
    const finished = (await engine.auditTrail(incidentId))?.find((e) => e.kind === 'step.finished');
    expect(finished?.text).not.toContain('super-secret-token-value');
  });

  it('marks a step left running by a crash as interrupted at start, and does not run it again', async () => {
    const out = path.join(dir, 'never.txt');
    const { incidentId } = await store.transaction((tx) => recordNotification(tx, notification([alert('gitcortex-1:3001')]), at(0), []));
    const stuck = await store.transaction((tx) =>
      tx.insertStepRun({
        incidentId,
        runbook: 'writer',
        step: 'write',
        stepTitle: 'Write marker',
        params: { unit: 'gitcortex' },
        platform: 'slack',
        requestedBy: 'U0ALICE',
        requestedByName: 'alice',
        changes: true,
        requiredApprovals: 1,
        selfApprove: false,
        state: 'running',
        createdAt: at(1),
      }),
    );
    const engine = makeEngine([writerRunbook(out)]);
    await engine.start();
    expect(await stateOf(stuck.id)).toBe('interrupted');
    expect((await engine.auditTrail(incidentId))?.map((e) => e.kind)).toEqual(['alert.received', 'step.interrupted']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(readFile(out, 'utf8')).rejects.toThrow();
  });
});
