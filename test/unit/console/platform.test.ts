import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsolePlatform, type ConsoleEvent } from '../../../src/bot/console/platform.js';
import { sampleAlert } from '../../../src/bot/console/sample-alert.js';
import { notificationSchema } from '../../../src/core/alertmanager-payload.js';
import type { Card } from '../../../src/core/card.js';
import type { NewIncident } from '../../../src/core/domain.js';
import { SqliteStore } from '../../../src/store/sqlite.js';

const card = { incidentId: '4', title: '#4 x', severity: 'info', status: 'firing', statusLine: '', fields: [], links: [], steps: [], buttons: [], fallbackText: '' } satisfies Card;

describe('ConsolePlatform', () => {
  it('returns refs named by the incident and tells connected browsers about every change', async () => {
    const platform = new ConsolePlatform();
    const events: ConsoleEvent[] = [];
    const unsubscribe = platform.events.subscribe((e) => events.push(e));
    const ref = await platform.postCard('console', card);
    expect(ref).toEqual({ platform: 'console', channel: 'console', messageId: '4', threadId: '4' });
    await platform.updateCard(ref, card);
    const reply = await platform.reply(ref, { text: 'hello' });
    expect(reply.threadId).toBe('4');
    expect(reply.messageId).not.toBe(ref.messageId);
    expect(events).toEqual([{ incidentId: '4' }, { incidentId: '4' }, { incidentId: '4' }]);
    unsubscribe();
    await platform.reply(ref, { text: 'again' });
    expect(events).toHaveLength(3);
    expect(platform.pacing).toBeUndefined();
  });

  it('tells browsers only once the store has settled what follows a post', async () => {
    let release!: () => void;
    const settled = new Promise<void>((resolve) => (release = resolve));
    const platform = new ConsolePlatform({ settle: () => settled });
    const events: ConsoleEvent[] = [];
    platform.events.subscribe((e) => events.push(e));
    await platform.reply({ platform: 'console', channel: 'console', messageId: '4', threadId: '4' }, { text: 'x' }, { deliveryKey: 'outbox:9@t' });
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual([]);
    release();
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual([{ incidentId: '4' }]);
  });

  it('keeps private messages per local user, newest first, and resolves users by name', async () => {
    const platform = new ConsolePlatform({ clock: () => new Date('2026-11-22T01:00:00Z') });
    await platform.tellUser('alice', { channel: 'console', threadId: '4' }, 'first');
    await platform.tellUser('alice', { channel: 'console' }, 'second');
    await platform.tellUser('bob', { channel: 'console', threadId: '4' }, 'for bob');
    expect(platform.privateMessages('alice').map((m) => [m.text, m.incidentId])).toEqual([
      ['second', undefined],
      ['first', '4'],
    ]);
    expect(platform.privateMessages('bob').map((m) => m.text)).toEqual(['for bob']);
    expect(platform.privateMessages('carol')).toEqual([]);
    platform.dismissPrivate('alice');
    expect(platform.privateMessages('alice')).toEqual([]);
    for (let i = 0; i < 30; i += 1) await platform.tellUser('bob', { channel: 'console' }, `m${i}`);
    expect(platform.privateMessages('bob')).toHaveLength(20);
    expect(await platform.resolveUser('bob')).toEqual({ id: 'bob', name: 'bob', groups: [] });
  });
});

describe('the sample alert', () => {
  it('is a valid Alertmanager v4 notification for the demo shop, new each time', () => {
    const now = new Date('2026-11-22T01:37:00Z');
    const a = notificationSchema.parse(sampleAlert({ now, demoPort: 8081 }));
    const b = notificationSchema.parse(sampleAlert({ now, demoPort: 3080 }));
    expect(a.commonLabels).toEqual({ alertname: 'ShopDown', service: 'demo-shop', severity: 'critical', instance: '127.0.0.1:8081' });
    expect(a.commonAnnotations.summary).toBeTruthy();
    expect(a.commonAnnotations.description).toBeTruthy();
    expect(a.alerts[0]?.startsAt).toBe(now.toISOString());
    expect(a.groupKey).not.toBe(b.groupKey);
    expect(a.alerts[0]?.fingerprint).not.toBe(b.alerts[0]?.fingerprint);
  });
});

describe('Store.listDeliveredReplies', () => {
  it("returns one platform's delivered thread messages of one incident, in order, with their buttons", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-store-'));
    const store = new SqliteStore(path.join(dir, 'bot.db'));
    try {
      const at = '2026-11-22T01:00:00.000Z';
      await store.transaction(async (tx) => {
        const base: NewIncident = { groupKey: 'g', episode: 1, status: 'firing', severity: 'info', title: 't', receiver: 'r', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalUrl: '', truncatedAlerts: 0, previousIncidentId: null, targets: [], createdAt: at, updatedAt: at, lastSeenAt: at, resolvedAt: null };
        const one = await tx.insertIncident(base);
        const two = await tx.insertIncident({ ...base, groupKey: 'h' });
        const button = { action: 'approve' as const, id: 'approve:1', label: 'Approve', value: 'approve:1', style: 'primary' as const };
        const ids = [
          await tx.enqueueOutbox({ platform: 'console', channel: 'console', incidentId: one.id, kind: 'reply', payload: { text: 'first' }, at }),
          await tx.enqueueOutbox({ platform: 'console', channel: 'console', incidentId: one.id, kind: 'card', payload: null, at }),
          await tx.enqueueOutbox({ platform: 'slack', channel: 'C1', incidentId: one.id, kind: 'reply', payload: { text: 'slack' }, at }),
          await tx.enqueueOutbox({ platform: 'console', channel: 'console', incidentId: two.id, kind: 'reply', payload: { text: 'other incident' }, at }),
          await tx.enqueueOutbox({ platform: 'console', channel: 'console', incidentId: one.id, kind: 'reply', payload: { text: 'second', buttons: [button] }, at }),
          await tx.enqueueOutbox({ platform: 'console', channel: 'console', incidentId: one.id, kind: 'reply', payload: { text: 'not sent yet' }, at }),
        ];
        for (const id of ids.slice(0, 5)) await tx.completeOutbox(id, '2026-11-22T01:00:01.000Z');
        const replies = await tx.listDeliveredReplies('console', one.id);
        expect(replies.map((r) => r.message)).toEqual([{ text: 'first' }, { text: 'second', buttons: [button] }]);
        expect(replies[0]).toMatchObject({ id: ids[0], createdAt: at, sentAt: '2026-11-22T01:00:01.000Z' });
      });
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
