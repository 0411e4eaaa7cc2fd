/**
 * The behaviour every `Store` implementation must have, as a reusable suite. SQLite runs it in
 * sqlite-store.test.ts, PostgreSQL in postgres-store.test.ts.
 *
 * Raw SQL given to `harness.sql` is plain, parameter-free SQL that SQLite and PostgreSQL both
 * accept (numbers inline, text as '' -quoted literals).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAudit, auditHash, firstBrokenLink } from '../../../src/core/audit.js';
import type { StepState } from '../../../src/core/card.js';
import type { NewAuditEvent, NewIncident, NewStepRun } from '../../../src/core/domain.js';
import type { Migration } from '../../../src/store/migrations.js';
import type { Store, StoreTx } from '../../../src/core/ports/store.js';

export type RawRow = Record<string, unknown>;

/** One empty database per test, plus the ways the contract reaches it from outside the Store. */
export interface StoreHarness {
  /** The migrations this store applies (each store has its own, with the same versions). */
  migrations: readonly Migration[];
  /** Opens a Store on this harness's database (again): what a restarted bot does. Migrations run on open. */
  open(): Promise<Store>;
  /** Raw SQL through a connection of its own, as an operator (or an attacker) with database access would. */
  sql(query: string): Promise<RawRow[]>;
  /** Closes the raw connection and removes the database. Stores opened with `open` are closed by the contract. */
  dispose(): Promise<void>;
}

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
/** ISO time `s` seconds after T0. */
export const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

export function newIncident(groupKey: string, episode = 1, overrides: Partial<NewIncident> = {}): NewIncident {
  return {
    groupKey,
    episode,
    status: 'firing',
    severity: 'warning',
    title: `HighLatency on ${groupKey}`,
    receiver: 'chatops-bot',
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: { alertname: 'HighLatency', service: 'gitcortex' },
    commonAnnotations: { summary: 'p99 over 2s' },
    externalUrl: 'http://alertmanager.example:9093',
    truncatedAlerts: 0,
    previousIncidentId: null,
    targets: [{ platform: 'slack', channel: 'C0ALERTS' }],
    createdAt: at(0),
    updatedAt: at(0),
    lastSeenAt: at(0),
    resolvedAt: null,
    ...overrides,
  };
}

export function newStepRun(incidentId: number, overrides: Partial<NewStepRun> = {}): NewStepRun {
  return {
    incidentId,
    runbook: 'gitcortex',
    step: 'restart',
    stepTitle: 'Restart GitCortex',
    params: { unit: 'gitcortex' },
    platform: 'slack',
    requestedBy: 'U0ALICE',
    requestedByName: 'alice',
    changes: true,
    requiredApprovals: 1,
    selfApprove: false,
    state: 'requested',
    createdAt: at(1),
    ...overrides,
  };
}

function auditEvent(incidentId: number | null, n: number, overrides: Partial<NewAuditEvent> = {}): NewAuditEvent {
  return { at: at(n), incidentId, actor: 'system', kind: 'test.event', text: `event ${n}`, data: { n }, ...overrides };
}

const sqlText = (s: string): string => `'${s.replaceAll("'", "''")}'`;

export function storeContract(name: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;
    const opened: Store[] = [];

    const open = async (): Promise<Store> => {
      const s = await harness.open();
      opened.push(s);
      return s;
    };
    const tx = <T>(work: (tx: StoreTx) => Promise<T>, s: Store = store): Promise<T> => s.transaction(work);
    const seedIncident = (groupKey = 'g1', episode = 1) => tx((t) => t.insertIncident(newIncident(groupKey, episode)));

    beforeEach(async () => {
      harness = await makeStore();
      store = await open();
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await harness.dispose();
    });

    describe('schema and durability', () => {
      it('applies each migration once, and a reopened store keeps the data', async () => {
        const incident = await seedIncident();
        await tx((t) => t.enqueueOutbox({ platform: 'slack', channel: 'C1', incidentId: incident.id, kind: 'card', payload: null, at: at(0) }));
        await store.close();
        opened.splice(opened.indexOf(store), 1);

        const again = await open();
        await open(); // a third open must not re-apply anything either
        expect(await tx((t) => t.getIncident(incident.id), again)).toEqual(incident);
        expect(await tx((t) => t.countPendingOutbox(), again)).toBe(1);

        const versions = await harness.sql('SELECT version, COUNT(*) AS n FROM schema_migrations GROUP BY version ORDER BY version');
        // Every store applies the same numbered migrations (written in its own SQL dialect).
        expect(versions.map((r) => [Number(r.version), Number(r.n)])).toEqual(harness.migrations.map((m) => [m.version, 1]));
      });

      it('answers ping', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe('transactions', () => {
      it('commits what the callback wrote and returns its value', async () => {
        const result = await tx(async (t) => {
          const i = await t.insertIncident(newIncident('g1'));
          await t.insertNotification('key-1', i.id, at(0));
          return i.id;
        });
        expect(await tx((t) => t.hasNotification('key-1'))).toBe(true);
        expect((await tx((t) => t.getIncident(result)))?.groupKey).toBe('g1');
      });

      it('rolls back everything a throwing callback wrote, and stays usable', async () => {
        const kept = await seedIncident('kept');
        const boom = new Error('boom');
        await expect(
          tx(async (t) => {
            const i = await t.insertIncident(newIncident('doomed'));
            await t.insertNotification('doomed-key', i.id, at(0));
            await t.upsertAlert({ incidentId: i.id, fingerprint: 'f1', status: 'firing', labels: { a: 'b' }, annotations: {}, startsAt: at(0), endsAt: null, generatorUrl: null });
            await t.saveCardMessage(i.id, { platform: 'slack', channel: 'C1', messageId: '1.1', threadId: '1.1' });
            const run = await t.insertStepRun(newStepRun(i.id));
            await t.insertApproval({ runId: run.id, approver: 'U0BOB', approverName: 'bob', decision: 'approve', at: at(2) });
            await appendAudit(t, auditEvent(i.id, 1));
            await t.enqueueOutbox({ platform: 'slack', channel: 'C1', incidentId: i.id, kind: 'card', payload: null, at: at(0) });
            await t.updateIncident(kept.id, { title: 'changed by the doomed transaction' });
            throw boom;
          }),
        ).rejects.toBe(boom);

        await tx(async (t) => {
          expect(await t.latestIncidentOfGroup('doomed')).toBeUndefined();
          expect(await t.hasNotification('doomed-key')).toBe(false);
          expect(await t.listIncidents({ limit: 10 })).toEqual([kept]);
          expect(await t.countPendingOutbox()).toBe(0);
          expect(await t.lastAuditHash(null)).toBe('');
          expect(await t.listStepRunsInState('requested', 10)).toEqual([]);
        });
        const counts = await harness.sql(
          'SELECT (SELECT COUNT(*) FROM alerts) AS alerts, (SELECT COUNT(*) FROM card_messages) AS cards, (SELECT COUNT(*) FROM approvals) AS approvals, (SELECT COUNT(*) FROM audit_events) AS audit',
        );
        expect(counts.map((r) => Object.values(r).map(Number))).toEqual([[0, 0, 0, 0]]);

        // The store still works after a rollback.
        const next = await seedIncident('after');
        expect(next.groupKey).toBe('after');
      });

      it('rolls back when a statement fails half way (unique group key and episode)', async () => {
        await seedIncident('g1', 1);
        await expect(
          tx(async (t) => {
            await t.insertIncident(newIncident('g2', 1));
            await t.insertIncident(newIncident('g1', 1));
          }),
        ).rejects.toThrow();
        expect(await tx((t) => t.latestIncidentOfGroup('g2'))).toBeUndefined();
      });

      it('serializes concurrent transactions: interleaved read-then-increment loses no update', async () => {
        const incident = await seedIncident();
        const increment = () =>
          tx(async (t) => {
            const before = (await t.getIncident(incident.id))?.truncatedAlerts ?? NaN;
            // More awaits between the read and the write, to give another transaction every chance to interleave.
            await t.listAlerts(incident.id);
            await t.countPendingOutbox();
            await t.updateIncident(incident.id, { truncatedAlerts: before + 1 });
            return before;
          });
        const seen = await Promise.all(Array.from({ length: 20 }, increment));
        expect((await tx((t) => t.getIncident(incident.id)))?.truncatedAlerts).toBe(20);
        // Each transaction read a different value: none ran on a stale snapshot.
        expect(new Set(seen).size).toBe(20);
      });

      it('keeps a failing transaction from disturbing concurrent ones', async () => {
        const incident = await seedIncident();
        const results = await Promise.allSettled([
          tx((t) => t.updateIncident(incident.id, { title: 'first' })),
          tx(async (t) => {
            await t.updateIncident(incident.id, { title: 'rolled back' });
            throw new Error('nope');
          }),
          tx((t) => t.insertNotification('k', incident.id, at(1))),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect((await tx((t) => t.getIncident(incident.id)))?.title).toBe('first');
        expect(await tx((t) => t.hasNotification('k'))).toBe(true);
      });
    });

    describe('incidents, alerts, notifications, cards', () => {
      it('counts incidents by status', async () => {
        await seedIncident('a');
        await seedIncident('b');
        await tx((t) => t.insertIncident(newIncident('c', 1, { status: 'resolved', resolvedAt: at(5) })));
        expect(await tx((t) => Promise.all([t.countIncidents('firing'), t.countIncidents('resolved')]))).toEqual([2, 1]);
      });

      it('finds the latest episode of a group and lists incidents newest first', async () => {
        const e1 = await seedIncident('g1', 1);
        const other = await seedIncident('g2', 1);
        const e2 = await tx((t) => t.insertIncident(newIncident('g1', 2, { previousIncidentId: e1.id })));
        await tx((t) => t.updateIncident(e1.id, { status: 'resolved', resolvedAt: at(5) }));

        expect(await tx((t) => t.latestIncidentOfGroup('g1'))).toEqual(e2);
        expect(await tx((t) => t.latestIncidentOfGroup('nope'))).toBeUndefined();
        expect((await tx((t) => t.listIncidents({ limit: 10 }))).map((i) => i.id)).toEqual([e2.id, other.id, e1.id]);
        expect((await tx((t) => t.listIncidents({ status: 'firing', limit: 1 }))).map((i) => i.id)).toEqual([e2.id]);
        expect((await tx((t) => t.listIncidents({ status: 'resolved', limit: 10 }))).map((i) => [i.id, i.resolvedAt])).toEqual([[e1.id, at(5)]]);
      });

      it('round-trips incident patches, JSON fields included', async () => {
        const i = await seedIncident();
        const patch = { severity: 'critical', commonLabels: { service: 'shop', 'odd "key"': 'ü ✓' }, truncatedAlerts: 3, lastSeenAt: at(9) } as const;
        await tx((t) => t.updateIncident(i.id, patch));
        await tx((t) => t.updateIncident(i.id, {})); // an empty patch is a no-op
        expect(await tx((t) => t.getIncident(i.id))).toEqual({ ...i, ...patch });
      });

      it('starts an incident with no lifecycle, and round-trips acknowledgement, silence, resolution and escalation (null clears)', async () => {
        const i = await seedIncident();
        expect(i).toMatchObject({ acknowledgement: null, silence: null, resolution: null, escalation: null });
        expect(await tx((t) => t.getIncident(i.id))).toEqual(i);
        const lifecycle = {
          acknowledgement: { by: 'slack:U1', byName: 'Ada', at: at(60) },
          silence: { id: 'b3c1-…', by: 'slack:U2', byName: 'Grace "G"', at: at(61), until: at(3661) },
          resolution: { by: 'slack:U1', byName: 'Ada', at: at(120), note: 'fixed ✓' },
          escalation: { level: 2, at: at(90) },
        };
        await tx((t) => t.updateIncident(i.id, lifecycle));
        expect(await tx((t) => t.getIncident(i.id))).toEqual({ ...i, ...lifecycle });
        await tx((t) => t.updateIncident(i.id, { silence: null, escalation: null }));
        expect(await tx((t) => t.getIncident(i.id))).toEqual({ ...i, ...lifecycle, silence: null, escalation: null });
        expect(await harness.sql(`SELECT silence FROM incidents WHERE id = ${i.id}`)).toEqual([{ silence: null }]);
      });

      it('advanceEscalation claims each level once, only from the level given, and only while firing and unacknowledged', async () => {
        const i = await seedIncident();
        // Two workers race for the first level: exactly one claims it.
        const claims = await Promise.all([tx((t) => t.advanceEscalation(i.id, 0, 1, at(300))), tx((t) => t.advanceEscalation(i.id, 0, 1, at(300)))]);
        expect(claims.filter(Boolean)).toHaveLength(1);
        expect((await tx((t) => t.getIncident(i.id)))?.escalation).toEqual({ level: 1, at: at(300) });
        expect(await tx((t) => t.advanceEscalation(i.id, 0, 2, at(900)))).toBe(false);
        expect(await tx((t) => t.advanceEscalation(i.id, 1, 3, at(900)))).toBe(true);
        expect((await tx((t) => t.getIncident(i.id)))?.escalation).toEqual({ level: 3, at: at(900) });
        await tx((t) => t.updateIncident(i.id, { acknowledgement: { by: 'slack:U1', byName: 'Ada', at: at(901) } }));
        expect(await tx((t) => t.advanceEscalation(i.id, 3, 4, at(1500)))).toBe(false);
        const r = await seedIncident('g2');
        await tx((t) => t.updateIncident(r.id, { status: 'resolved', resolvedAt: at(10) }));
        expect(await tx((t) => t.advanceEscalation(r.id, 0, 1, at(300)))).toBe(false);
        expect(await tx((t) => t.advanceEscalation(999, 0, 1, at(300)))).toBe(false);
      });

      it('upserts alerts by fingerprint and says whether each was new', async () => {
        const i = await seedIncident();
        const alert = { incidentId: i.id, fingerprint: 'f1', status: 'firing' as const, labels: { instance: 'a:1' }, annotations: {}, startsAt: at(0), endsAt: null, generatorUrl: 'http://prom/graph' };
        expect(await tx((t) => t.upsertAlert(alert))).toBe('inserted');
        expect(await tx((t) => t.upsertAlert({ ...alert, status: 'resolved', endsAt: at(3) }))).toBe('updated');
        expect(await tx((t) => t.upsertAlert({ ...alert, fingerprint: 'f0', startsAt: at(-5), generatorUrl: null }))).toBe('inserted');
        const alerts = await tx((t) => t.listAlerts(i.id));
        expect(alerts.map((a) => [a.fingerprint, a.status, a.endsAt])).toEqual([
          ['f0', 'firing', null],
          ['f1', 'resolved', at(3)],
        ]);
      });

      it('remembers notification keys, each once', async () => {
        const i = await seedIncident();
        expect(await tx((t) => t.hasNotification('k1'))).toBe(false);
        await tx((t) => t.insertNotification('k1', i.id, at(0)));
        expect(await tx((t) => t.hasNotification('k1'))).toBe(true);
        await expect(tx((t) => t.insertNotification('k1', i.id, at(1)))).rejects.toThrow();
      });

      it('saves one card message per incident, platform and channel', async () => {
        const i = await seedIncident();
        await tx((t) => t.saveCardMessage(i.id, { platform: 'slack', channel: 'C1', messageId: '1.1', threadId: '1.1' }));
        await tx((t) => t.saveCardMessage(i.id, { platform: 'slack', channel: 'C2', messageId: '2.1', threadId: '2.1' }));
        await tx((t) => t.saveCardMessage(i.id, { platform: 'slack', channel: 'C1', messageId: '1.2', threadId: '1.2' }));
        expect(await tx((t) => t.getCardMessage(i.id, 'slack', 'C1'))).toEqual({ incidentId: i.id, platform: 'slack', channel: 'C1', messageId: '1.2', threadId: '1.2' });
        expect(await tx((t) => t.getCardMessage(i.id, 'discord', 'C1'))).toBeUndefined();
        expect((await tx((t) => t.listCardMessages(i.id))).map((c) => c.channel)).toEqual(['C1', 'C2']);
      });

      it('enforces references to incidents', async () => {
        await expect(tx((t) => t.insertNotification('k', 999, at(0)))).rejects.toThrow();
        await expect(tx((t) => t.enqueueOutbox({ platform: 'slack', channel: 'C1', incidentId: 999, kind: 'reply', payload: {}, at: at(0) }))).rejects.toThrow();
      });
    });

    describe('step runs and approvals', () => {
      it('inserts a run with nothing started or finished yet', async () => {
        const i = await seedIncident();
        const run = await tx((t) => t.insertStepRun(newStepRun(i.id)));
        expect(run).toEqual({ ...newStepRun(i.id), id: run.id, updatedAt: at(1), startedAt: null, finishedAt: null, result: null, runner: null, requestedSession: null, process: null });
        expect(await tx((t) => t.getStepRun(run.id))).toEqual(run);
        expect(await tx((t) => t.activeStepRun(i.id, 'gitcortex', 'restart'))).toEqual(run);
      });

      it('finds the active run of a step per alert: another alert\'s run does not count, a run for no alert counts for all', async () => {
        const i = await seedIncident();
        const forAlert = (fingerprint: string, state: NewStepRun['state'] = 'requested') =>
          newStepRun(i.id, { state, params: { instance: fingerprint, '@alert': fingerprint, '@alert-label': `instance=${fingerprint}` } });
        const host1 = await tx((t) => t.insertStepRun(forAlert('host1')));
        expect(await tx((t) => t.activeStepRun(i.id, 'gitcortex', 'restart', 'host1'))).toEqual(host1);
        expect(await tx((t) => t.activeStepRun(i.id, 'gitcortex', 'restart', 'host2'))).toBeUndefined();
        // A request for no particular alert meets any unfinished run of the step.
        expect(await tx((t) => t.activeStepRun(i.id, 'gitcortex', 'restart'))).toEqual(host1);
        const host2 = await tx((t) => t.insertStepRun(forAlert('host2', 'running')));
        expect(await tx((t) => t.activeStepRun(i.id, 'gitcortex', 'restart', 'host2'))).toEqual(host2);
        expect(await tx((t) => t.activeStepRun(i.id, 'gitcortex', 'restart', 'host1'))).toEqual(host1);
        // Finished runs never count.
        await tx((t) => t.transitionStepRun(host1.id, ['requested'], 'denied', at(5)));
        expect(await tx((t) => t.activeStepRun(i.id, 'gitcortex', 'restart', 'host1'))).toBeUndefined();
        // A run for no particular alert (the whole group) stands in the way of every alert's.
        const whole = await tx((t) => t.insertStepRun(newStepRun(i.id)));
        expect(await tx((t) => t.activeStepRun(i.id, 'gitcortex', 'restart', 'host3'))).toEqual(whole);
        expect(await tx((t) => t.activeStepRun(i.id, 'gitcortex', 'restart', 'host2'))).toEqual(whole);
      });

      it('keeps a run\'s full output once (a second save is ignored), whole', async () => {
        const i = await seedIncident();
        const run = await tx((t) => t.insertStepRun(newStepRun(i.id)));
        expect(await tx((t) => t.getStepOutput(run.id))).toBeUndefined();
        const output = Array.from({ length: 5000 }, (_, n) => `line ${n} ✓`).join('\n');
        await tx((t) => t.saveStepOutput(run.id, output, at(2)));
        await tx((t) => t.saveStepOutput(run.id, 'again', at(3)));
        expect(await tx((t) => t.getStepOutput(run.id))).toBe(output);
      });

      it('transitionStepRun is conditional: of two racing approved→running transitions exactly one wins', async () => {
        const i = await seedIncident();
        const run = await tx((t) => t.insertStepRun(newStepRun(i.id, { state: 'approved' })));
        const claim = (who: number) => tx((t) => t.transitionStepRun(run.id, ['approved'], 'running', at(10 + who), { startedAt: at(10 + who) }));
        const outcomes = await Promise.all([claim(1), claim(2)]);
        expect(outcomes.filter(Boolean)).toHaveLength(1);
        const after = await tx((t) => t.getStepRun(run.id));
        expect(after?.state).toBe('running');
        expect(after?.startedAt).toBe(at(outcomes[0] ? 11 : 12));
      });

      it('transitionStepRun changes nothing from a state not listed, and stores the result when it does', async () => {
        const i = await seedIncident();
        const run = await tx((t) => t.insertStepRun(newStepRun(i.id, { state: 'running' })));
        expect(await tx((t) => t.transitionStepRun(run.id, ['approved', 'requested'], 'denied', at(5)))).toBe(false);
        expect(await tx((t) => t.getStepRun(run.id))).toEqual(run);

        const result = { status: 'succeeded' as const, summary: 'exit 0 in 1.2s', exitCode: 0, durationMs: 1200, outputTail: 'ok\n' };
        expect(await tx((t) => t.transitionStepRun(run.id, ['running'], 'succeeded', at(6), { finishedAt: at(6), result }))).toBe(true);
        const done = await tx((t) => t.getStepRun(run.id));
        expect(done).toMatchObject({ state: 'succeeded', updatedAt: at(6), finishedAt: at(6), result });
        expect(await tx((t) => t.activeStepRun(i.id, 'gitcortex', 'restart'))).toBeUndefined();
        expect(await tx((t) => t.transitionStepRun(9999, ['running'], 'failed', at(7)))).toBe(false);
      });

      it('lists runs by incident and by state, oldest first', async () => {
        const i = await seedIncident();
        const states: StepState[] = ['approved', 'requested', 'approved', 'succeeded'];
        const runs = [];
        for (const [n, state] of states.entries()) runs.push(await tx((t) => t.insertStepRun(newStepRun(i.id, { step: `s${n}`, state }))));
        expect((await tx((t) => t.listStepRuns(i.id))).map((r) => r.id)).toEqual(runs.map((r) => r.id));
        expect((await tx((t) => t.listStepRunsInState('approved', 10))).map((r) => r.step)).toEqual(['s0', 's2']);
        expect((await tx((t) => t.listStepRunsInState('approved', 1))).map((r) => r.step)).toEqual(['s0']);
      });

      it('records a running run\'s process group, and keeps an interrupted run\'s until it is marked ended', async () => {
        const i = await seedIncident();
        const proc = { pid: 4242, pgid: 4242, startedAt: 'boot-a:1234', host: 'host-a pid:[1]' };
        const queued = await tx((t) => t.insertStepRun(newStepRun(i.id, { state: 'approved' })));
        // Only a running run may start a program.
        expect(await tx((t) => t.recordStepProcess(queued.id, proc))).toBe(false);
        expect(await tx((t) => t.stepRunsThatMayRun('gitcortex', 'restart'))).toEqual([]);

        const run = await tx((t) => t.insertStepRun(newStepRun(i.id, { state: 'running' })));
        expect(await tx((t) => t.recordStepProcess(run.id, proc))).toBe(true);
        expect((await tx((t) => t.getStepRun(run.id)))?.process).toEqual({ ...proc, endedAt: null });
        // The next program of the same step replaces it.
        const next = { ...proc, pid: 4300, pgid: 4300, startedAt: 'boot-a:1300' };
        expect(await tx((t) => t.recordStepProcess(run.id, next))).toBe(true);
        expect((await tx((t) => t.stepRunsThatMayRun('gitcortex', 'restart'))).map((r) => [r.id, r.process?.pid])).toEqual([[run.id, 4300]]);
        expect(await tx((t) => t.stepRunsThatMayRun('gitcortex', 'other'))).toEqual([]);
        // Running runs are not leftovers; interrupted ones are, on their own host only.
        expect(await tx((t) => t.leftoverStepRuns(proc.host, 10))).toEqual([]);
        expect(await tx((t) => t.transitionStepRun(run.id, ['running'], 'interrupted', at(5), { finishedAt: at(5) }))).toBe(true);
        expect((await tx((t) => t.leftoverStepRuns(proc.host, 10))).map((r) => r.id)).toEqual([run.id]);
        expect(await tx((t) => t.leftoverStepRuns('host-b pid:[1]', 10))).toEqual([]);
        expect((await tx((t) => t.leftoverStepRuns(null, 10))).map((r) => r.id)).toEqual([run.id]);
        expect((await tx((t) => t.stepRunsThatMayRun('gitcortex', 'restart'))).map((r) => r.id)).toEqual([run.id]);

        expect(await tx((t) => t.endStepProcess(run.id, at(6)))).toBe(true);
        expect(await tx((t) => t.endStepProcess(run.id, at(7)))).toBe(false);
        expect((await tx((t) => t.getStepRun(run.id)))?.process).toEqual({ ...next, endedAt: at(6) });
        expect(await tx((t) => t.leftoverStepRuns(proc.host, 10))).toEqual([]);
        expect(await tx((t) => t.stepRunsThatMayRun('gitcortex', 'restart'))).toEqual([]);
        // An interrupted run that never started a program leaves nothing that may run.
        const early = await tx((t) => t.insertStepRun(newStepRun(i.id, { state: 'running' })));
        await tx((t) => t.transitionStepRun(early.id, ['running'], 'interrupted', at(8)));
        expect(await tx((t) => t.stepRunsThatMayRun('gitcortex', 'restart'))).toEqual([]);
        expect(await tx((t) => t.endStepProcess(early.id, at(9)))).toBe(false);
      });

      it('insertApproval is unique per run and approver', async () => {
        const i = await seedIncident();
        const run = await tx((t) => t.insertStepRun(newStepRun(i.id, { requiredApprovals: 2 })));
        const other = await tx((t) => t.insertStepRun(newStepRun(i.id, { step: 'other' })));
        const approve = (runId: number, approver: string, decision: 'approve' | 'deny' = 'approve', s = 2) =>
          tx((t) => t.insertApproval({ runId, approver, approverName: approver.toLowerCase(), decision, at: at(s) }));

        expect(await approve(run.id, 'U0BOB')).toBe(true);
        expect(await approve(run.id, 'U0BOB', 'deny', 3)).toBe(false);
        expect(await approve(run.id, 'U0CAROL', 'approve', 4)).toBe(true);
        expect(await approve(other.id, 'U0BOB')).toBe(true);
        // Two racing double clicks: one row.
        expect((await Promise.all([approve(other.id, 'U0CAROL'), approve(other.id, 'U0CAROL')])).filter(Boolean)).toHaveLength(1);

        const approvals = await tx((t) => t.listApprovals(run.id));
        expect(approvals.map((a) => [a.approver, a.decision])).toEqual([
          ['U0BOB', 'approve'],
          ['U0CAROL', 'approve'],
        ]);
        // The incident's approvals in one read: each run's, by run then time; another incident's are not among them.
        const elsewhere = await seedIncident('elsewhere');
        const far = await tx((t) => t.insertStepRun(newStepRun(elsewhere.id, { requiredApprovals: 1 })));
        await tx((t) => t.insertApproval({ runId: far.id, approver: 'U0DAN', approverName: 'dan', decision: 'approve', at: at(1), session: null }));
        const all = await tx((t) => t.listIncidentApprovals(i.id));
        expect(all.map((a) => [a.runId, a.approver])).toEqual([...(await tx((t) => t.listApprovals(run.id))), ...(await tx((t) => t.listApprovals(other.id)))].map((a) => [a.runId, a.approver]));
        expect(all.some((a) => a.runId === far.id)).toBe(false);
      });

      it('keeps the console session behind a request and behind each approval, and namespaced approvers apart', async () => {
        const i = await seedIncident();
        const run = await tx((t) => t.insertStepRun(newStepRun(i.id, { platform: 'console', requestedBy: 'alice', requestedSession: 'sess-a', requiredApprovals: 2 })));
        expect((await tx((t) => t.getStepRun(run.id)))?.requestedSession).toBe('sess-a');
        const approve = (approver: string, session: string | null) => tx((t) => t.insertApproval({ runId: run.id, approver, approverName: approver, decision: 'approve', at: at(2), session }));
        expect(await approve('slack:U1', null)).toBe(true);
        // The same id on another platform is another person.
        expect(await approve('discord:U1', null)).toBe(true);
        expect(await approve('console:bob', 'sess-b')).toBe(true);
        const approvals = await tx((t) => t.listApprovals(run.id));
        expect(approvals.map((a) => [a.approver, a.session])).toEqual([
          ['console:bob', 'sess-b'],
          ['discord:U1', null],
          ['slack:U1', null],
        ]);
      });
    });

    describe('outbox', () => {
      it('lists pending messages oldest first, due or not, and forgets completed ones', async () => {
        const a = await seedIncident('a');
        const b = await seedIncident('b');
        const enqueue = (incidentId: number, kind: 'card' | 'reply', payload: unknown, s: number) =>
          tx((t) => t.enqueueOutbox({ platform: 'slack', channel: 'C1', incidentId, kind, payload, at: at(s) }));
        const ids = [
          await enqueue(a.id, 'card', null, 0),
          await enqueue(a.id, 'reply', { text: 'a1' }, 0),
          await enqueue(b.id, 'card', null, 1),
          await enqueue(a.id, 'reply', { text: 'a2', buttons: [{ action: 'approve', id: 'approve:1', label: 'Approve', value: 'approve:1' }] }, 2),
          await enqueue(b.id, 'reply', { text: 'b1 ✓ <&>' }, 3),
        ];
        expect(ids).toEqual([...ids].sort((x, y) => x - y));

        const pending = await tx((t) => t.pendingOutbox(10));
        expect(pending.map((m) => m.id)).toEqual(ids);
        expect(pending[0]).toEqual({ id: ids[0], platform: 'slack', channel: 'C1', incidentId: a.id, kind: 'card', payload: null, attempts: 0, nextAttemptAt: at(0), lastError: null, createdAt: at(0) });
        expect(pending[3]?.payload).toEqual({ text: 'a2', buttons: [{ action: 'approve', id: 'approve:1', label: 'Approve', value: 'approve:1' }] });
        expect(pending[4]?.payload).toEqual({ text: 'b1 ✓ <&>' });
        expect((await tx((t) => t.pendingOutbox(2))).map((m) => m.id)).toEqual(ids.slice(0, 2));

        await tx((t) => t.retryOutbox(ids[0]!, at(100), 'Slack chat.postMessage: internal_error'));
        await tx((t) => t.completeOutbox(ids[2]!, at(4)));
        const after = await tx((t) => t.pendingOutbox(10));
        expect(after.map((m) => m.id)).toEqual([ids[0], ids[1], ids[3], ids[4]]);
        expect(after[0]).toMatchObject({ attempts: 1, nextAttemptAt: at(100), lastError: 'Slack chat.postMessage: internal_error' });
        expect(await tx((t) => t.countPendingOutbox())).toBe(4);
      });

      it('pendingCardSync finds the waiting card sync of exactly this card, and nothing once it is sent', async () => {
        const a = await seedIncident('a');
        const b = await seedIncident('b');
        const enqueue = (incidentId: number, kind: 'card' | 'reply', channel = 'C1', platform = 'slack') =>
          tx((t) => t.enqueueOutbox({ platform, channel, incidentId, kind, payload: kind === 'card' ? null : { text: 'x' }, at: at(0) }));

        expect(await tx((t) => t.pendingCardSync('slack', 'C1', a.id))).toBeUndefined();
        await enqueue(a.id, 'reply');
        await enqueue(a.id, 'card', 'C2');
        await enqueue(a.id, 'card', 'C1', 'discord');
        await enqueue(b.id, 'card');
        expect(await tx((t) => t.pendingCardSync('slack', 'C1', a.id))).toBeUndefined();

        const card = await enqueue(a.id, 'card');
        expect(await tx((t) => t.pendingCardSync('slack', 'C1', a.id))).toBe(card);
        await tx((t) => t.retryOutbox(card, at(60), 'rate limited'));
        expect(await tx((t) => t.pendingCardSync('slack', 'C1', a.id))).toBe(card);
        await tx((t) => t.completeOutbox(card, at(61)));
        expect(await tx((t) => t.pendingCardSync('slack', 'C1', a.id))).toBeUndefined();
      });

      it('a deferred card update leaves the outbox and marks its card, the earliest time kept, until cleared', async () => {
        const a = await seedIncident('a');
        const b = await seedIncident('b');
        for (const [incident, channel, ts] of [[a, 'C1', '1.1'], [a, 'C2', '2.1'], [b, 'C1', '3.1']] as const) {
          await tx((t) => t.saveCardMessage(incident.id, { platform: 'slack', channel, messageId: ts, threadId: ts }));
        }
        const enqueue = (incidentId: number, kind: 'card' | 'reply', channel = 'C1') =>
          tx((t) => t.enqueueOutbox({ platform: 'slack', channel, incidentId, kind, payload: kind === 'card' ? null : { text: 'x' }, at: at(0) }));
        const cardOfB = await enqueue(b.id, 'card');
        const replyOfB = await enqueue(b.id, 'reply');
        const cardOfA = await enqueue(a.id, 'card', 'C2');
        expect(await tx((t) => t.cardsWantingRefresh('slack', 10))).toEqual([]);

        await tx((t) => t.deferCardUpdate(cardOfB, { platform: 'slack', channel: 'C1', incidentId: b.id }, at(5)));
        await tx((t) => t.deferCardUpdate(cardOfA, { platform: 'slack', channel: 'C2', incidentId: a.id }, at(7)));
        // A later sync of the same card put off too: the card keeps its place in the queue.
        const laterCardOfB = await enqueue(b.id, 'card');
        await tx((t) => t.deferCardUpdate(laterCardOfB, { platform: 'slack', channel: 'C1', incidentId: b.id }, at(9)));
        expect((await tx((t) => t.pendingOutbox(10))).map((m) => m.id)).toEqual([replyOfB]);
        expect(await tx((t) => t.pendingCardSync('slack', 'C1', b.id))).toBeUndefined();
        expect(await tx((t) => t.cardsWantingRefresh('slack', 10))).toEqual([
          { platform: 'slack', channel: 'C1', incidentId: b.id },
          { platform: 'slack', channel: 'C2', incidentId: a.id },
        ]);
        expect(await tx((t) => t.cardsWantingRefresh('slack', 1))).toEqual([{ platform: 'slack', channel: 'C1', incidentId: b.id }]);
        expect(await tx((t) => t.cardsWantingRefresh('discord', 10))).toEqual([]);
        // The card itself is untouched.
        expect(await tx((t) => t.getCardMessage(b.id, 'slack', 'C1'))).toEqual({ incidentId: b.id, platform: 'slack', channel: 'C1', messageId: '3.1', threadId: '3.1' });

        expect(await tx((t) => t.clearCardRefresh({ platform: 'slack', channel: 'C1', incidentId: b.id }))).toBe(true);
        expect(await tx((t) => t.clearCardRefresh({ platform: 'slack', channel: 'C1', incidentId: b.id }))).toBe(false);
        expect(await tx((t) => t.cardsWantingRefresh('slack', 10))).toEqual([{ platform: 'slack', channel: 'C2', incidentId: a.id }]);
      });

      it('deferring a card update never removes a message that was sent', async () => {
        const a = await seedIncident('a');
        await tx((t) => t.saveCardMessage(a.id, { platform: 'slack', channel: 'C1', messageId: '1.1', threadId: '1.1' }));
        const card = await tx((t) => t.enqueueOutbox({ platform: 'slack', channel: 'C1', incidentId: a.id, kind: 'card', payload: null, at: at(0) }));
        await tx((t) => t.completeOutbox(card, at(1)));
        await tx((t) => t.deferCardUpdate(card, { platform: 'slack', channel: 'C1', incidentId: a.id }, at(2)));
        expect(await tx((t) => t.countPendingOutbox())).toBe(0);
        const [done] = await harness.sql(`SELECT state FROM outbox WHERE id = ${card}`);
        expect(done).toEqual({ state: 'done' });
      });

      it('finds a reply by subject, keeps where it was posted, and lists it as its newest delivered edit', async () => {
        const a = await seedIncident('a');
        const b = await seedIncident('b');
        const request = { text: 'alice asks', buttons: [{ action: 'approve', id: 'approve:7', label: 'Approve', value: 'approve:7' }] };
        const queue = (incidentId: number, channel: string, kind: 'reply' | 'edit', payload: object, subject?: string) =>
          tx((t) => t.enqueueOutbox({ platform: 'slack', channel, incidentId, kind, payload, at: at(0), subject }));
        const plain = await queue(a.id, 'C1', 'reply', { text: 'opened' });
        const asked = await queue(a.id, 'C1', 'reply', request, 'run:7');
        const elsewhere = await queue(a.id, 'C2', 'reply', request, 'run:7');
        await queue(b.id, 'C1', 'reply', request, 'run:7');

        expect(await tx((t) => t.repliesAbout(a.id, 'run:7'))).toEqual([
          { id: asked, platform: 'slack', channel: 'C1', message: request },
          { id: elsewhere, platform: 'slack', channel: 'C2', message: request },
        ]);
        expect(await tx((t) => t.repliesAbout(a.id, 'run:8'))).toEqual([]);
        expect((await tx((t) => t.pendingOutbox(10))).find((m) => m.id === asked)?.subject).toBe('run:7');
        expect((await tx((t) => t.pendingOutbox(10))).find((m) => m.id === plain)).not.toHaveProperty('subject');

        // Not posted yet: nowhere to edit.
        expect(await tx((t) => t.postedReply('slack', 'C1', a.id, 'run:7'))).toBeUndefined();
        const ref = { platform: 'slack', channel: 'C1', messageId: '5.5', threadId: '1.1' };
        await tx((t) => t.completeOutbox(plain, at(1)));
        await tx((t) => t.completeOutbox(asked, at(1), ref));
        expect(await tx((t) => t.postedReply('slack', 'C1', a.id, 'run:7'))).toEqual(ref);
        expect(await tx((t) => t.postedReply('slack', 'C2', a.id, 'run:7'))).toBeUndefined();
        expect(await tx((t) => t.postedReply('discord', 'C1', a.id, 'run:7'))).toBeUndefined();

        // An edit shows once delivered, in its own thread only; the newest wins.
        const edit = await queue(a.id, 'C1', 'edit', { text: 'alice asks\n→ approved by bob' }, 'run:7');
        const listed = () => tx((t) => t.listDeliveredReplies('slack', a.id));
        expect((await listed()).map((r) => r.message)).toEqual([{ text: 'opened' }, request]);
        await tx((t) => t.completeOutbox(edit, at(2)));
        await tx((t) => t.completeOutbox(elsewhere, at(2)));
        expect((await listed()).map((r) => [r.id, r.message])).toEqual([
          [plain, { text: 'opened' }],
          [asked, { text: 'alice asks\n→ approved by bob' }],
          [elsewhere, request],
        ]);
        const later = await queue(a.id, 'C1', 'edit', { text: 'alice asks\n→ later' }, 'run:7');
        await tx((t) => t.completeOutbox(later, at(3)));
        expect((await listed())[1]?.message).toEqual({ text: 'alice asks\n→ later' });

        // The next line is added to the newest version queued in each thread, sent or not.
        await queue(a.id, 'C1', 'edit', { text: 'alice asks\n→ later\n→ queued' }, 'run:7');
        expect(await tx((t) => t.repliesAbout(a.id, 'run:7'))).toEqual([
          { id: asked, platform: 'slack', channel: 'C1', message: { text: 'alice asks\n→ later\n→ queued' } },
          { id: elsewhere, platform: 'slack', channel: 'C2', message: request },
        ]);
        // An edit that found its reply deleted posted it anew: later edits go to the new message.
        const anew = { platform: 'slack', channel: 'C1', messageId: '9.9', threadId: '1.1' };
        const reposted = await queue(a.id, 'C1', 'edit', { text: 'alice asks\n→ anew' }, 'run:7');
        await tx((t) => t.completeOutbox(reposted, at(4), anew));
        expect(await tx((t) => t.postedReply('slack', 'C1', a.id, 'run:7'))).toEqual(anew);
        expect(await tx((t) => t.postedReply('slack', 'C2', a.id, 'run:7'))).toBeUndefined();
      });
    });

    describe('inbox', () => {
      const queue = (groupKey: string, n: number) => tx((t) => t.queueNotification({ groupKey, receivedAt: at(n), body: `{"n":${n}}` }));

      it('keeps queued notifications in the order received, and a group waits behind its oldest', async () => {
        const a1 = await queue('a', 1);
        const b1 = await queue('b', 2);
        const a2 = await queue('a', 3);
        expect([a1 < b1, b1 < a2]).toEqual([true, true]);
        expect((await tx((t) => t.queuedNotifications(10))).map((q) => [q.seq, q.groupKey, q.receivedAt, q.body, q.attempts])).toEqual([
          [a1, 'a', at(1), '{"n":1}', 0],
          [b1, 'b', at(2), '{"n":2}', 0],
          [a2, 'a', at(3), '{"n":3}', 0],
        ]);
        expect(await tx((t) => Promise.all([t.hasQueuedNotification('a'), t.hasQueuedNotification('c')]))).toEqual([true, false]);

        // a2 cannot be taken while a1 waits; b1 can (another group).
        expect(await tx((t) => t.takeQueuedNotification(a2, 'a'))).toBe(false);
        expect(await tx((t) => t.takeQueuedNotification(b1, 'b'))).toBe(true);
        expect(await tx((t) => t.takeQueuedNotification(b1, 'b')), 'taken twice').toBe(false);
        expect(await tx((t) => t.takeQueuedNotification(a1, 'a'))).toBe(true);
        expect(await tx((t) => t.takeQueuedNotification(a2, 'a'))).toBe(true);
        expect(await tx((t) => t.countQueuedNotifications())).toEqual({ waiting: 0, failed: 0 });
        expect(await tx((t) => t.hasQueuedNotification('a'))).toBe(false);
      });

      it('a take rolled back with its transaction leaves the notification waiting', async () => {
        const seq = await queue('a', 1);
        const failure = await tx(async (t) => {
          expect(await t.takeQueuedNotification(seq, 'a')).toBe(true);
          throw new Error('recording failed');
        }).catch((e: unknown) => e);
        expect((failure as Error).message).toBe('recording failed');
        expect((await tx((t) => t.queuedNotifications(10))).map((q) => q.seq)).toEqual([seq]);
      });

      it('counts failed attempts, and one given up on stops holding its group back', async () => {
        const a1 = await queue('a', 1);
        const a2 = await queue('a', 2);
        await tx((t) => t.failQueuedNotification(a1, 'disk I/O error', at(3), false));
        expect((await tx((t) => t.queuedNotifications(10))).map((q) => [q.seq, q.attempts])).toEqual([[a1, 1], [a2, 0]]);
        expect(await tx((t) => t.takeQueuedNotification(a2, 'a'))).toBe(false);

        await tx((t) => t.failQueuedNotification(a1, 'still failing', at(4), true));
        expect((await tx((t) => t.queuedNotifications(10))).map((q) => q.seq)).toEqual([a2]);
        expect(await tx((t) => t.countQueuedNotifications())).toEqual({ waiting: 1, failed: 1 });
        expect(await tx((t) => t.takeQueuedNotification(a1, 'a')), 'a notification put aside is not taken').toBe(false);
        expect(await tx((t) => t.takeQueuedNotification(a2, 'a'))).toBe(true);
        const kept = await harness.sql(`SELECT attempts, last_error, failed_at FROM inbox WHERE seq = ${a1}`);
        expect(kept.map((r) => [Number(r.attempts), r.last_error, r.failed_at])).toEqual([[2, 'still failing', at(4)]]);
      });
    });

    describe('scheduled jobs', () => {
      it('claims each slot once, records an overlapping slot as skipped, and keeps the first slot it was given', async () => {
        await tx((t) => t.initJobRun('backup', at(0)));
        await tx((t) => t.initJobRun('backup', at(50)));
        expect(await tx((t) => t.listJobRuns())).toEqual([{ job: 'backup', lastSlot: at(0), runningSince: null, lastFinishedAt: null, lastStatus: null }]);
        expect(await tx((t) => t.claimJobRun('backup', at(0), at(0)))).toBe('taken');
        const racing = await Promise.all([tx((t) => t.claimJobRun('backup', at(60), at(60))), tx((t) => t.claimJobRun('backup', at(60), at(60)))]);
        expect(racing.sort()).toEqual(['claimed', 'taken']);
        expect(await tx((t) => t.claimJobRun('backup', at(120), at(120)))).toBe('overlap');
        expect(await tx((t) => t.claimJobRun('backup', at(120), at(121)))).toBe('taken');
        await tx((t) => t.finishJobRun('backup', at(130), 'succeeded'));
        expect(await tx((t) => t.listJobRuns())).toEqual([{ job: 'backup', lastSlot: at(120), runningSince: null, lastFinishedAt: at(130), lastStatus: 'succeeded' }]);
        expect(await tx((t) => t.claimJobRun('backup', at(180), at(180)))).toBe('claimed');
        // A job never seen before is recorded by its first claim.
        expect(await tx((t) => t.claimJobRun('checklist', at(60), at(60)))).toBe('claimed');
      });

      it('lists the posts of scheduled jobs, newest first, without other unbound events or incidents\' events', async () => {
        const i = await seedIncident();
        const event = (incidentId: number | null, kind: string, text: string) => ({ at: at(1), incidentId, actor: 'system:scheduler', kind, text, data: { job: 'daily' } });
        await tx((t) => appendAudit(t, event(null, 'schedule.started', 'started')));
        await tx((t) => appendAudit(t, event(null, 'schedule.finished', 'first')));
        await tx((t) => appendAudit(t, event(i.id, 'schedule.finished', 'of an incident')));
        await tx((t) => appendAudit(t, event(null, 'schedule.missed', 'missed')));
        await tx((t) => appendAudit(t, event(null, 'schedule.finished', 'second')));
        expect((await tx((t) => t.recentSchedulePosts(10))).map((e) => e.text)).toEqual(['second', 'missed', 'first']);
        expect((await tx((t) => t.recentSchedulePosts(1))).map((e) => e.text)).toEqual(['second']);
      });

      it('advanceJobSlot moves the last slot only from the slot given', async () => {
        await tx((t) => t.initJobRun('backup', at(0)));
        expect(await tx((t) => t.advanceJobSlot('backup', at(0), at(60)))).toBe(true);
        expect(await tx((t) => t.advanceJobSlot('backup', at(0), at(60)))).toBe(false);
        expect((await tx((t) => t.listJobRuns()))[0]?.lastSlot).toBe(at(60));
      });
    });

    describe('audit hash chain', () => {
      /** Appends `n` events to one incident, each in its own transaction, as the bot does. */
      async function chain(incidentId: number, n: number, from = 1) {
        for (let k = from; k < from + n; k += 1) await tx((t) => appendAudit(t, auditEvent(incidentId, k)));
        return tx((t) => t.listAudit(incidentId));
      }

      it('links every record to the previous one', async () => {
        const i = await seedIncident();
        const events = await chain(i.id, 4);
        expect(events.map((e) => e.text)).toEqual(['event 1', 'event 2', 'event 3', 'event 4']);
        expect(events[0]?.prevHash).toBe('');
        for (let k = 1; k < events.length; k += 1) expect(events[k]?.prevHash).toBe(events[k - 1]?.hash);
        expect(events.every((e) => /^[0-9a-f]{64}$/.test(e.hash))).toBe(true);
        expect(firstBrokenLink(events)).toBeUndefined();
        expect(await tx((t) => t.lastAuditHash(i.id))).toBe(events[3]?.hash);
        expect(events[1]?.data).toEqual({ n: 2 });
      });

      it('detects an edited record', async () => {
        const i = await seedIncident();
        const events = await chain(i.id, 4);
        const victim = events[1]!;
        await harness.sql(`UPDATE audit_events SET text = ${sqlText('nothing happened here')} WHERE seq = ${victim.seq}`);
        expect(firstBrokenLink(await tx((t) => t.listAudit(i.id)))).toBe(victim.seq);
      });

      it('detects edited data and a record moved to another actor', async () => {
        const i = await seedIncident();
        const events = await chain(i.id, 3);
        await harness.sql(`UPDATE audit_events SET data = ${sqlText('{"n":99}')} WHERE seq = ${events[2]!.seq}`);
        expect(firstBrokenLink(await tx((t) => t.listAudit(i.id)))).toBe(events[2]!.seq);
        await harness.sql(`UPDATE audit_events SET actor = ${sqlText('slack:U0MALLORY')} WHERE seq = ${events[0]!.seq}`);
        expect(firstBrokenLink(await tx((t) => t.listAudit(i.id)))).toBe(events[0]!.seq);
      });

      it('detects a deleted record at the record after it', async () => {
        const i = await seedIncident();
        const events = await chain(i.id, 4);
        await harness.sql(`DELETE FROM audit_events WHERE seq = ${events[1]!.seq}`);
        const after = await tx((t) => t.listAudit(i.id));
        expect(after).toHaveLength(3);
        expect(firstBrokenLink(after)).toBe(events[2]!.seq);
      });

      it('detects an inserted record, even one whose own hash was computed correctly', async () => {
        const i = await seedIncident();
        const events = await chain(i.id, 3);
        const [first, second] = events as [(typeof events)[0], (typeof events)[0]];
        // Make room after the first record, then forge a record that links to it perfectly.
        await harness.sql(`UPDATE audit_events SET seq = seq + 100 WHERE seq > ${first.seq}`);
        const forged = { at: at(1.5), incidentId: i.id, actor: 'slack:U0BOB', kind: 'step.approved', text: 'bob approved', data: {} };
        const hash = auditHash(first.hash, forged);
        await harness.sql(
          `INSERT INTO audit_events (seq, at, incident_id, actor, kind, text, data, prev_hash, hash) VALUES (${first.seq + 1}, ${sqlText(forged.at)}, ${i.id}, ${sqlText(forged.actor)}, ${sqlText(forged.kind)}, ${sqlText(forged.text)}, ${sqlText('{}')}, ${sqlText(first.hash)}, ${sqlText(hash)})`,
        );
        const after = await tx((t) => t.listAudit(i.id));
        expect(after.map((e) => e.text)).toEqual(['event 1', 'bob approved', 'event 2', 'event 3']);
        expect(firstBrokenLink(after)).toBe(second.seq + 100);
      });

      it('detects an inserted record with a made-up hash at that record', async () => {
        const i = await seedIncident();
        const events = await chain(i.id, 2);
        const last = events[1]!;
        await harness.sql(
          `INSERT INTO audit_events (at, incident_id, actor, kind, text, data, prev_hash, hash) VALUES (${sqlText(at(9))}, ${i.id}, 'system', 'x', 'forged', '{}', ${sqlText(last.hash)}, ${sqlText('0'.repeat(64))})`,
        );
        const after = await tx((t) => t.listAudit(i.id));
        expect(firstBrokenLink(after)).toBe(after[2]?.seq);
      });

      it('lists resolved incidents whose newest record is older than a time, and deletes one chain whole (retention)', async () => {
        const old = await seedIncident('old');
        const recent = await seedIncident('recent');
        const firing = await seedIncident('firing');
        for (const i of [old, recent]) await tx((t) => t.updateIncident(i.id, { status: 'resolved', resolvedAt: at(5) }));
        await tx((t) => appendAudit(t, auditEvent(old.id, 1)));
        await tx((t) => appendAudit(t, auditEvent(recent.id, 2)));
        await tx((t) => appendAudit(t, auditEvent(old.id, 3)));
        await tx((t) => appendAudit(t, auditEvent(recent.id, 50)));
        await tx((t) => appendAudit(t, auditEvent(firing.id, 1)));
        expect(await tx((t) => t.listExpiredAuditChains(at(10), 10))).toEqual([old.id]);
        expect(await tx((t) => t.listExpiredAuditChains(at(60), 10))).toEqual([old.id, recent.id]);
        expect(await tx((t) => t.listExpiredAuditChains(at(60), 1))).toEqual([old.id]);
        expect(await tx((t) => t.deleteAudit(old.id))).toBe(2);
        expect(await tx((t) => t.listAudit(old.id))).toEqual([]);
        expect(await tx((t) => t.listAudit(recent.id))).toHaveLength(2);
        expect(await tx((t) => t.listExpiredAuditChains(at(60), 10))).toEqual([recent.id]);
      });

      it('gives the head and record count of each chain written to after a seq (audit seals)', async () => {
        const a = await seedIncident('heads-a');
        const b = await seedIncident('heads-b');
        const a1 = await tx((t) => appendAudit(t, auditEvent(a.id, 1)));
        await tx((t) => appendAudit(t, auditEvent(b.id, 2)));
        const none = await tx((t) => appendAudit(t, auditEvent(null, 3, { kind: 'step.refused' })));
        const a2 = await tx((t) => appendAudit(t, auditEvent(a.id, 4)));
        const heads = await tx((t) => t.auditHeads(a1.seq, 10));
        const mine = heads.filter((h) => h.incidentId === a.id || h.incidentId === b.id || h.incidentId === null);
        expect(mine.filter((h) => h.incidentId !== null || h.seq === none.seq)).toEqual([
          expect.objectContaining({ incidentId: b.id, count: 1 }),
          { incidentId: null, seq: none.seq, count: expect.any(Number) as number, hash: none.hash, kind: 'step.refused', at: none.at },
          { incidentId: a.id, seq: a2.seq, count: 2, hash: a2.hash, kind: a2.kind, at: a2.at },
        ]);
        // Only chains with a record above the seq; the oldest head first, at most `limit`.
        expect((await tx((t) => t.auditHeads(none.seq, 10))).map((h) => h.incidentId)).toEqual([a.id]);
        expect(await tx((t) => t.auditHeads(a2.seq, 10))).toEqual([]);
        expect(await tx((t) => t.auditHeads(a1.seq, 1))).toHaveLength(1);
      });

      it("lets one incident's trail be verified while other incidents' events interleave", async () => {
        // The chain is global (lastAuditHash ignores the incident) but listAudit returns one
        // incident's records, so the second incident's first record links to the first incident's.
        const a = await seedIncident('a');
        const b = await seedIncident('b');
        await tx((t) => appendAudit(t, auditEvent(a.id, 1)));
        await tx((t) => appendAudit(t, auditEvent(b.id, 2)));
        await tx((t) => appendAudit(t, auditEvent(a.id, 3)));
        await tx((t) => appendAudit(t, auditEvent(null, 4, { kind: 'step.refused' })));
        await tx((t) => appendAudit(t, auditEvent(b.id, 5)));
        const trailA = await tx((t) => t.listAudit(a.id));
        const trailB = await tx((t) => t.listAudit(b.id));
        // Untampered: neither trail should report a broken link.
        expect({ a: firstBrokenLink(trailA), b: firstBrokenLink(trailB) }).toEqual({ a: undefined, b: undefined });
      });
    });

    describe('runners', () => {
      it('finds one runner by name, as its last poll left it, and nothing for a name never seen', async () => {
        const first = { name: 'db-1', labels: { role: 'db' }, version: '1', replica: 'r1', at: '2026-01-01T00:00:00.000Z', staleBefore: '2025-12-31T23:59:00.000Z' };
        await tx((t) => t.runners.touchRunner(first));
        await tx((t) => t.runners.touchRunner({ ...first, name: 'db-2' }));
        await tx((t) => t.runners.touchRunner({ ...first, replica: 'r2', at: '2026-01-01T00:00:02.000Z', staleBefore: '2026-01-01T00:00:00.000Z' }));
        expect(await tx((t) => t.runners.getRunner('db-1'))).toMatchObject({ name: 'db-1', labels: { role: 'db' }, replica: 'r2', connectedAt: first.at, seenAt: '2026-01-01T00:00:02.000Z' });
        expect(await tx((t) => t.runners.getRunner('db-3'))).toBeUndefined();
      });
    });

    describe('storm digests', () => {
      it('keeps one open storm per channel, lists each incident once with its card, and opens a new storm once one ended', async () => {
        const a = await seedIncident('a');
        const b = await seedIncident('b');
        const first = await tx((t) => t.storms.startStorm('slack', 'C0ALERTS', at(1)));
        // Another replica starting one in the same channel gets the same storm, never a second digest.
        expect(await tx((t) => t.storms.startStorm('slack', 'C0ALERTS', at(2)))).toEqual(first);
        const other = await tx((t) => t.storms.startStorm('discord', 'C0ALERTS', at(2)));
        expect(other.id).not.toBe(first.id);
        expect(await tx((t) => t.storms.joinStorm(first.id, [a.id, b.id], at(3)))).toBe(2);
        expect(await tx((t) => t.storms.joinStorm(first.id, [a.id], at(4)))).toBe(0);
        await tx((t) => t.saveCardMessage(a.id, { platform: 'slack', channel: 'C0ALERTS', messageId: '1.1', threadId: '1.1' }));
        const members = await tx((t) => t.storms.stormMembers(first.id));
        expect(members.map((m) => [m.incidentId, m.card?.messageId ?? null, m.service])).toEqual([
          [a.id, '1.1', 'gitcortex'],
          [b.id, null, 'gitcortex'],
        ]);
        expect(await tx((t) => t.storms.inStorm('slack', 'C0ALERTS', b.id))).toBe(true);
        expect(await tx((t) => t.storms.inStorm('discord', 'C0ALERTS', b.id))).toBe(false);
        const page = { ref: { platform: 'slack', channel: 'C0ALERTS', messageId: '2.2', threadId: '2.2' }, shows: 'x' };
        await tx((t) => t.storms.savePages(first.id, [page], null));
        expect(await tx((t) => t.storms.releaseStorm(first.id))).toBe(true);
        expect(await tx((t) => t.storms.getStorm(first.id))).toMatchObject({ pages: [page], released: true, postingSince: null, joinedAt: at(3) });
        await tx((t) => t.storms.endStorm(first.id, at(5)));
        expect(await tx((t) => t.storms.releaseStorm(first.id))).toBe(false);
        expect((await tx((t) => t.storms.openStorms())).map((s) => s.id)).toEqual([other.id]);
        const next = await tx((t) => t.storms.startStorm('slack', 'C0ALERTS', at(6)));
        expect(next.id).not.toBe(first.id);
      });
    });
  });
}
