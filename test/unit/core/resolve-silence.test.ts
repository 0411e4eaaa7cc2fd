import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildCard } from '../../../src/core/card-builder.js';
import type { Engine } from '../../../src/core/engine.js';
import { NotAllowedError } from '../../../src/domain/errors.js';
import { SilenceApiError, type NewSilence, type SilenceApi } from '../../../src/core/ports/silence-api.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { ALICE, BOB, alert, at, manualClock, notification, recordNow, testEngine } from './factories.js';

/** An in-memory Alertmanager silences port: records what the engine asks, can be made to fail. */
function memorySilences() {
  const created: Array<NewSilence & { id: string }> = [];
  const expired: string[] = [];
  let failCreate: Error | undefined;
  const api: SilenceApi = {
    create: (s) => {
      if (failCreate) return Promise.reject(failCreate);
      const id = `sil-${created.length + 1}`;
      created.push({ ...s, id });
      return Promise.resolve(id);
    },
    expire: (id) => {
      expired.push(id);
      return Promise.resolve();
    },
  };
  return { api, created, expired, failWith: (e: Error | undefined) => void (failCreate = e) };
}

describe('resolving by hand and silencing through the engine', () => {
  let store: SqliteStore;
  let engine: Engine;
  let incidentId: number;
  let silences: ReturnType<typeof memorySilences>;
  const clock = manualClock();

  const incident = () => store.transaction(async (tx) => (await tx.getIncident(incidentId))!);
  const audit = () => store.transaction((tx) => tx.listAudit(incidentId));
  const replies = () => store.transaction(async (tx) => (await tx.pendingOutbox(100)).filter((m) => m.kind === 'reply').map((m) => (m.payload as { text: string }).text));
  const card = () => store.transaction((tx) => engine.renderCard(tx, incidentId));

  beforeEach(async () => {
    clock.set(Date.parse(at(0)));
    store = new SqliteStore(':memory:');
    silences = memorySilences();
    engine = testEngine(store, { clock: clock.now, silences: silences.api });
    ({ incidentId } = await recordNow(engine, notification([alert('gitcortex-1:3001')])));
  });
  afterEach(() => store.close());

  it('resolves by hand: status, resolution, audit, a thread summary, a refreshed card; a second resolve is refused', async () => {
    clock.set(Date.parse(at(120)));
    await engine.acknowledge(ALICE, incidentId);
    clock.set(Date.parse(at(900)));
    await engine.resolve(BOB, incidentId, '  restarted the pool  ');
    const after = await incident();
    expect(after).toMatchObject({ status: 'resolved', resolvedAt: at(900), resolution: { by: 'slack:U0BOB', byName: 'bob', at: at(900), note: 'restarted the pool' } });
    expect((await audit()).at(-1)).toMatchObject({ kind: 'incident.resolved', actor: 'slack:U0BOB', data: { manual: true, timeToAcknowledgeMs: 120_000, timeToResolveMs: 900_000 } });
    expect((await replies()).at(-1)).toBe(
      `✅ bob resolved incident #${incidentId} by hand: restarted the pool\nTime to acknowledge: 2m. Time to resolve: 15m. Actions: none.`,
    );
    const c = await card();
    expect(c.status).toBe('resolved');
    expect(c.fields).toContainEqual({ label: 'Resolved by', value: 'bob at 2026-11-22 01:52 UTC: restarted the pool' });
    await expect(engine.resolve(ALICE, incidentId, '')).rejects.toThrow(`Incident #${incidentId} is already resolved by bob.`);
    expect((await audit()).at(-1)).toMatchObject({ kind: 'incident.refused', data: { action: 'resolve' } });
  });

  it('a group still firing after a hand resolve: the same notification is a duplicate, a changed one opens a linked incident', async () => {
    await engine.resolve(ALICE, incidentId, '');
    const again = await recordNow(engine, notification([alert('gitcortex-1:3001')]));
    expect(again).toMatchObject({ incidentId, duplicate: true, created: false });
    expect((await incident()).status).toBe('resolved');
    const changed = await recordNow(engine, notification([alert('gitcortex-1:3001'), alert('gitcortex-2:3001')]));
    expect(changed.created).toBe(true);
    const next = await store.transaction(async (tx) => (await tx.getIncident(changed.incidentId))!);
    expect(next).toMatchObject({ status: 'firing', previousIncidentId: incidentId, episode: 2, resolution: null });
  });

  it('silences with the group labels as exact matchers, records who and until when, and shows Unsilence on the card', async () => {
    expect((await card()).buttons.map((b) => b.id)).toEqual([`ack:${incidentId}`, `silence:${incidentId}`]);
    await engine.silence(ALICE, incidentId, 3_600_000);
    expect(silences.created).toEqual([
      {
        id: 'sil-1',
        matchers: [
          { name: 'alertname', value: 'HighLatency', isEqual: true, isRegex: false },
          { name: 'service', value: 'gitcortex', isEqual: true, isRegex: false },
        ],
        startsAt: at(0),
        endsAt: at(3_600),
        createdBy: 'alice',
        comment: `Incident #${incidentId}: HighLatency on gitcortex (silenced from chat by alice)`,
      },
    ]);
    expect((await incident()).silence).toEqual({ id: 'sil-1', by: 'slack:U0ALICE', byName: 'alice', at: at(0), until: at(3_600) });
    expect((await audit()).at(-1)).toMatchObject({ kind: 'incident.silenced', data: { silenceId: 'sil-1', until: at(3_600) } });
    const c = await card();
    expect(c.fields).toContainEqual({ label: 'Silenced', value: 'by alice until 2026-11-22 02:37 UTC' });
    expect(c.buttons.map((b) => b.id)).toEqual([`ack:${incidentId}`, `unsilence:${incidentId}`]);

    await expect(engine.silence(BOB, incidentId, 60_000)).rejects.toThrow(/already silenced by alice until/);
    expect(silences.created).toHaveLength(1);

    await engine.unsilence(BOB, incidentId);
    expect(silences.expired).toEqual(['sil-1']);
    expect((await incident()).silence).toBeNull();
    expect((await audit()).at(-1)).toMatchObject({ kind: 'incident.unsilenced', actor: 'slack:U0BOB', data: { silenceId: 'sil-1' } });
    expect((await card()).buttons.map((b) => b.id)).toEqual([`ack:${incidentId}`, `silence:${incidentId}`]);
    await expect(engine.unsilence(BOB, incidentId)).rejects.toBeInstanceOf(NotAllowedError);
  });

  it('a silence past its end is no longer shown as in force', async () => {
    await engine.silence(ALICE, incidentId, 60_000);
    clock.set(Date.parse(at(61)));
    const c = await card();
    expect(c.fields.map((f) => f.label)).not.toContain('Silenced');
    expect(c.buttons.map((b) => b.id)).toContain(`silence:${incidentId}`);
  });

  it('records nothing when Alertmanager fails', async () => {
    const before = await audit();
    silences.failWith(new SilenceApiError('Alertmanager could not be reached to create a silence: connect ECONNREFUSED'));
    await expect(engine.silence(ALICE, incidentId, 3_600_000)).rejects.toThrow(/could not be reached/);
    expect((await incident()).silence).toBeNull();
    expect(await audit()).toEqual(before);
  });

  it('expires the new silence when recording it fails (someone silenced the group meanwhile)', async () => {
    // Between the check and the record, another silence lands: the engine's record refuses, so its own silence must go.
    const original = silences.api.create.bind(silences.api);
    silences.api.create = async (s) => {
      const id = await original(s);
      await store.transaction((tx) => tx.updateIncident(incidentId, { silence: { id: 'other', by: 'slack:U0BOB', byName: 'bob', at: at(0), until: at(7_200) } }));
      return id;
    };
    await expect(engine.silence(ALICE, incidentId, 3_600_000)).rejects.toThrow(/already silenced by bob/);
    expect(silences.expired).toEqual(['sil-1']);
    expect((await incident()).silence?.id).toBe('other');
  });

  it('offers no Silence button without Alertmanager, and refuses to silence a resolved incident', async () => {
    const i = await incident();
    expect(buildCard({ incident: i, alerts: [], runs: [], offers: [], unavailable: [], silencing: false }).buttons.map((b) => b.action)).toEqual(['ack']);
    await engine.resolve(ALICE, incidentId, '');
    await expect(engine.silence(ALICE, incidentId, 60_000)).rejects.toThrow(/is resolved; there is nothing to silence/);
    expect(silences.created).toEqual([]);
  });
});
