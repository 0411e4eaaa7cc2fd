import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotAllowedError } from '../../../src/domain/errors.js';
import type { DeliveryTarget } from '../../../src/core/events.js';
import { recordNotification } from '../../../src/core/notifications.js';
import { stepPolicy } from '../../../src/core/policy.js';
import { loadPolicy, policySchema, type Policy } from '../../../src/settings/policy.js';
import { decideStep, expireStaleRequests, requestStep, type StepContext } from '../../../src/core/steps.js';
import type { Runbook } from '../../../src/runbooks/schema.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { ALICE, BOB, CAROL, DAVE, alert, at, gitcortexRunbook, notification } from './factories.js';

const TARGETS: DeliveryTarget[] = [{ platform: 'slack', channel: 'C0ALERTS' }];

const POLICY = {
  roles: { oncall: ['U0ALICE', 'U0BOB', 'S0SRE'], leads: ['U0BOB', 'slack:U0DAVE'] },
  defaults: { request: ['oncall'], approve: ['oncall'], approvalTtlMinutes: 15 },
  rules: [{ runbook: 'gitcortex', step: 'wipe*', approve: ['leads'], approvers: 1 }],
  environments: { label: 'env', scopes: { prod: { extraApprovers: 1 } } },
  freezes: [{ from: at(1000), to: at(2000), reason: 'release freeze', environments: ['prod'] }],
};

/** A runbook with a danger step and a rule-governed step beside the shared ones. */
function runbook(): Runbook {
  return gitcortexRunbook(`
  - id: wipe-cache
    title: Wipe cache
    action: exec
    run: ['true']
    changes: true
  - id: drop
    title: Drop table
    action: exec
    run: ['true']
    changes: true
    danger: true
`);
}

async function refused(p: Promise<unknown>): Promise<NotAllowedError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof NotAllowedError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('policy file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'policy-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('loads a valid policy and names the file and path of every problem in an invalid one', async () => {
    const good = path.join(dir, 'good.yaml');
    await writeFile(good, 'roles: { oncall: [U1] }\ndefaults: { approve: [oncall] }\n');
    expect((await loadPolicy(good, [])).defaults).toMatchObject({ approve: ['oncall'], dangerApprovers: 2, approvalTtlMinutes: 15 });

    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, `roles: { oncall: [U1] }\ndefaults: { approve: [ops] }\nfreezes: [{ from: '${at(10)}', to: '${at(5)}', reason: x }]\nextra: 1\n`);
    const message = await loadPolicy(bad, []).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(message).toContain(`${bad}: (root): Unrecognized key: "extra"`);
    await writeFile(bad, `roles: { oncall: [U1] }\ndefaults: { approve: [ops] }\nfreezes: [{ from: '${at(10)}', to: '${at(5)}', reason: x }]\n`);
    const second = await loadPolicy(bad, []).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(second).toContain(`${bad}: defaults.approve.0: unknown role "ops" (roles: oncall)`);
    expect(second).toContain(`${bad}: freezes.0.to: a freeze must end after it starts`);
    await expect(loadPolicy(path.join(dir, 'missing.yaml'), [])).rejects.toThrow(/missing\.yaml: cannot read the policy/);
  });

  it('without a file, APPROVERS become the approvers', async () => {
    const p = await loadPolicy(undefined, ['U0BOB']);
    expect(stepPolicy(p, 'gitcortex', runbook().steps.find((s) => s.id === 'restart')!, {}).approvers).toEqual(['U0BOB']);
    expect(stepPolicy(await loadPolicy(undefined, []), 'gitcortex', runbook().steps.find((s) => s.id === 'restart')!, {}).approvers).toBeUndefined();
  });
});

describe('stepPolicy', () => {
  const policy: Policy = policySchema.parse(POLICY);
  const step = (id: string) => runbook().steps.find((s) => s.id === id)!;

  it('needs two approvers for danger steps, and never counts the requester', () => {
    expect(stepPolicy(policy, 'gitcortex', step('drop'), {})).toMatchObject({ requiredApprovals: 2, selfApprove: false });
    expect(stepPolicy(policy, 'gitcortex', step('flush'), {})).toMatchObject({ requiredApprovals: 1, selfApprove: true });
  });

  it('applies the first matching rule by glob, and environment scoping on top', () => {
    expect(stepPolicy(policy, 'gitcortex', step('wipe-cache'), {})).toMatchObject({ approvers: ['U0BOB', 'slack:U0DAVE'], requiredApprovals: 1 });
    expect(stepPolicy(policy, 'gitcortex', step('restart'), { env: 'prod' })).toMatchObject({ requiredApprovals: 2, environment: 'prod' });
    expect(stepPolicy(policy, 'gitcortex', step('drop'), { env: 'prod' }).requiredApprovals).toBe(3);
    expect(stepPolicy(policy, 'gitcortex', step('status'), { env: 'prod' })).toMatchObject({ requiredApprovals: 0, requesters: undefined });
  });
});

describe('policy in requests and approvals', () => {
  let store: SqliteStore;
  let incidentId: number;
  let prodIncident: number;
  const policy = policySchema.parse(POLICY);
  const ctx = (now = at(100)): StepContext => ({ runbooks: [runbook()], policy, now });

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    incidentId = (await store.transaction((tx) => recordNotification(tx, notification([alert('gitcortex-1:3001')]), at(0), TARGETS))).incidentId;
    const prod = notification([alert('gitcortex-2:3001', { labels: { env: 'prod' } })], {
      groupKey: 'prod-group',
      commonLabels: { alertname: 'HighLatency', service: 'gitcortex', instance: 'gitcortex-2:3001', env: 'prod' },
    });
    prodIncident = (await store.transaction((tx) => recordNotification(tx, prod, at(0), TARGETS))).incidentId;
  });
  afterEach(() => store.close());

  const request = (who: typeof ALICE, step: string, c = ctx(), incident = incidentId) => store.transaction((tx) => requestStep(tx, c, who, incident, 'gitcortex', step));
  const decide = (who: typeof ALICE, runId: number, c = ctx()) => store.transaction((tx) => decideStep(tx, c, who, runId, 'approve'));

  it('refuses a changing step to someone outside the requesting roles, but not a read-only one', async () => {
    const e = await refused(request(DAVE, 'restart'));
    expect(e.message).toMatch(/You may not request "Restart GitCortex"/);
    expect(e.audit?.kind).toBe('step.refused');
    expect((await request(DAVE, 'status')).state).toBe('approved');
    expect((await request(CAROL, 'restart')).state).toBe('requested'); // via the S0SRE group
  });

  it('refuses approvals from outside the approving roles, and counts distinct approvers for danger steps', async () => {
    const run = await request(ALICE, 'drop');
    expect(run.requiredApprovals).toBe(2);
    expect((await refused(decide(ALICE, run.id))).message).toMatch(/cannot approve it/);
    expect((await refused(decide(DAVE, run.id))).message).toMatch(/not an approver/);
    expect((await decide(BOB, run.id)).state).toBe('requested');
    expect((await decide(CAROL, run.id)).state).toBe('approved');
  });

  it('refuses changing steps during a freeze of their environment, with the reason, at request and at approval', async () => {
    const during = ctx(at(1500));
    const e = await refused(request(ALICE, 'restart', during, prodIncident));
    expect(e.message).toBe(`Change freeze until ${at(2000)}: release freeze. "Restart GitCortex" changes a system, so it is refused until then.`);
    // Read-only steps still run, and other environments are not frozen.
    expect((await request(ALICE, 'status', during, prodIncident)).state).toBe('approved');
    expect((await request(ALICE, 'restart', during, incidentId)).state).toBe('requested');
    // Requested before the freeze, approved during it: refused too.
    const before = await request(ALICE, 'flush', ctx(at(900)), prodIncident);
    expect((await refused(decide(BOB, before.id, during))).message).toMatch(/^Change freeze until/);
  });

  it('expires requests nobody approved in time, at approval and by the sweeper', async () => {
    const a = await request(ALICE, 'restart', ctx(at(0)));
    const late = ctx(at(15 * 60 + 1));
    // The press finds it expired: recorded for everyone (the engine then tells the presser).
    expect((await decide(BOB, a.id, late)).state).toBe('expired');
    expect((await store.transaction((tx) => tx.getStepRun(a.id)))?.state).toBe('expired');
    expect((await refused(decide(BOB, a.id, late))).message).toMatch(/already expired/);

    const b = await request(ALICE, 'flush', ctx(at(10)));
    expect(await store.transaction((tx) => expireStaleRequests(tx, ctx(at(60))))).toBe(0);
    expect(await store.transaction((tx) => expireStaleRequests(tx, ctx(at(10 + 15 * 60))))).toBe(1);
    expect((await store.transaction((tx) => tx.getStepRun(b.id)))?.state).toBe('expired');
    const kinds = (await store.transaction((tx) => tx.listAudit(incidentId))).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'step.expired')).toHaveLength(2);
  });
});

describe('the shipped example policy', () => {
  it('loads and gives danger steps two approvers', async () => {
    const p = await loadPolicy(path.join(process.cwd(), 'manifests', 'policy.example.yaml'), []);
    expect(p.defaults.dangerApprovers).toBe(2);
    expect(p.freezes[0]?.reason).toBe('holiday change freeze');
  });
});
