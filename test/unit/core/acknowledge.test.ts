import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acknowledgeIncident } from '../../../src/core/acknowledge.js';
import { buildCard } from '../../../src/core/card-builder.js';
import { NotAllowedError } from '../../../src/domain/errors.js';
import { recordNotification } from '../../../src/core/notifications.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { ALICE, BOB, alert, at, notification } from './factories.js';

describe('acknowledgeIncident', () => {
  let store: SqliteStore;
  let incidentId: number;
  const ack = (who = ALICE, id = incidentId, now = at(300)) => store.transaction((tx) => acknowledgeIncident(tx, who, id, now));
  const incident = () => store.transaction(async (tx) => (await tx.getIncident(incidentId))!);
  const card = () => store.transaction(async (tx) => buildCard({ incident: (await tx.getIncident(incidentId))!, alerts: await tx.listAlerts(incidentId), runs: [], offers: [], unavailable: [] }));
  const queued = () => store.transaction((tx) => tx.pendingOutbox(100));

  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    ({ incidentId } = await store.transaction((tx) => recordNotification(tx, notification([alert('gitcortex-1:3001')]), at(0), [{ platform: 'slack', channel: 'C0ALERTS' }])));
    await store.transaction(async (tx) => {
      for (const m of await tx.pendingOutbox(100)) await tx.completeOutbox(m.id, at(1));
    });
  });
  afterEach(() => store.close());

  it('records the owner once, audits it, posts it in the thread and refreshes the card', async () => {
    expect((await card()).buttons.map((b) => b.id)).toEqual([`ack:${incidentId}`]);
    await ack();
    expect((await incident()).acknowledgement).toEqual({ by: `slack:${ALICE.id}`, byName: ALICE.name, at: at(300) });
    const events = await store.transaction((tx) => tx.listAudit(incidentId));
    expect(events.at(-1)).toMatchObject({ kind: 'incident.ack', actor: `slack:${ALICE.id}`, data: { afterMs: 300_000 } });
    const out = await queued();
    expect(out.map((m) => m.kind).sort()).toEqual(['card', 'reply']);
    expect(out.find((m) => m.kind === 'reply')?.payload).toEqual({ text: `🙋 ${ALICE.name} acknowledged the incident (after 5m) and owns it now.` });
    const after = await card();
    expect(after.buttons).toEqual([]);
    expect(after.fields).toContainEqual({ label: 'Owner', value: `${ALICE.name} (since 2026-11-22 01:42 UTC)` });
  });

  it('refuses a second ack, naming the owner, and changes nothing', async () => {
    await ack();
    const before = await incident();
    const error = await ack(BOB, incidentId, at(400)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotAllowedError);
    expect((error as Error).message).toBe(`Incident #${incidentId} was already acknowledged by ${ALICE.name} at 2026-11-22 01:42 UTC.`);
    expect(await incident()).toEqual(before);
  });

  it('refuses an unknown incident and a resolved one', async () => {
    await expect(ack(ALICE, 999)).rejects.toThrow('Incident #999 does not exist.');
    await store.transaction((tx) => tx.updateIncident(incidentId, { status: 'resolved', resolvedAt: at(200) }));
    await expect(ack()).rejects.toThrow(/already resolved; there is nothing to acknowledge/);
    expect((await incident()).acknowledgement).toBeNull();
  });
});
