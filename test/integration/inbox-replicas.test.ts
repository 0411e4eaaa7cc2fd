import { afterEach, expect, it } from 'vitest';
import { firstBrokenLink } from '../../src/core/audit.js';
import { createMetrics } from '../../src/metrics.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { metricValue } from '../support/faults-kit.js';
import { createTestDatabase } from '../support/postgres.js';
import { probePostgres, requireService } from '../support/services.js';
import { alert, at, manualClock, notification, testEngine } from '../unit/core/factories.js';

const server = await requireService('PostgreSQL at 127.0.0.1:5432', probePostgres);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

server.describe('the inbox shared by replicas on PostgreSQL', () => {
  it('records every queued notification once, in order within its group, whichever replicas take them', async () => {
    const database = await createTestDatabase(server.value, 'chatops_inbox');
    cleanups.push(() => database.drop());
    const clock = manualClock(Date.parse(at(0)));
    const replicas = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const store = await PostgresStore.open(database.url, { poolSize: 4 });
        cleanups.push(() => store.close());
        const metrics = createMetrics(() => Promise.resolve(0));
        const engine = testEngine(store, { clock: clock.now, metrics, ingestQueueAbove: 0 });
        return { store, engine, metrics };
      }),
    );

    // Each group fires, gains an alert, loses the first, then resolves; an HA pair delivers each
    // notification twice, to different replicas, and every one is queued.
    const groups = Array.from({ length: 10 }, (_, g) => `{}:{alertname="HighLatency", service="svc-${g}"}`);
    const steps = (g: number) => {
      const one = alert(`svc-${g}-1:80`);
      const two = alert(`svc-${g}-2:80`);
      const oneResolved = alert(`svc-${g}-1:80`, { status: 'resolved' });
      return [[one], [one, two], [oneResolved, two], [oneResolved, alert(`svc-${g}-2:80`, { status: 'resolved' })]];
    };
    for (let step = 0; step < 4; step += 1) {
      await Promise.all(
        groups.flatMap((groupKey, g) => {
          const n = notification(steps(g)[step]!, { groupKey });
          return [0, 1].map((peer) => replicas[(g + step + peer) % 3]!.engine.accept(n, JSON.stringify(n)));
        }),
      );
    }
    const waiting = () => replicas[0]!.store.transaction((tx) => tx.countQueuedNotifications());
    expect(await waiting()).toEqual({ waiting: 80, failed: 0 });

    // All three workers at once, until the inbox is empty.
    for (let round = 0; round < 20 && (await waiting()).waiting > 0; round += 1) {
      await Promise.all(replicas.map((r) => r.engine.inbox.runOnce()));
    }
    expect(await waiting()).toEqual({ waiting: 0, failed: 0 });

    const incidents = await replicas[1]!.store.transaction((tx) => tx.listIncidents({ limit: 100 }));
    expect(incidents.map((i) => [i.groupKey, i.status]).sort()).toEqual(groups.map((g) => [g, 'resolved']).sort());
    for (const incident of incidents) {
      const trail = await replicas[2]!.store.transaction((tx) => tx.listAudit(incident.id));
      expect(trail.map((e) => e.kind), incident.groupKey).toEqual(['alert.received', 'alert.joined', 'alert.resolved', 'incident.resolved']);
      expect(firstBrokenLink(trail)).toBeUndefined();
    }
    const counted = async (result: string) => {
      let total = 0;
      for (const r of replicas) total += metricValue(await r.metrics.registry.metrics(), 'chatops_notifications_received_total', { result });
      return total;
    };
    // Recorded exactly once each: 40 notifications stored, their 40 copies recognised as duplicates.
    expect([await counted('stored'), await counted('duplicate')]).toEqual([40, 40]);
  });
});
