import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';
import { ALERT_CHANNEL, startTestBot, type TestBot } from '../support/bot-harness.js';
import { pollUntil } from '../support/bot-process.js';
import { serviceNotification } from '../support/fixtures.js';

/**
 * "Post cards" on a storm digest whose cards are held (STORM_CARDS_PER_MINUTE=1): a signed Slack
 * press releases them, and the rest are carded at the channel's pace instead of one a minute. The
 * press is audited; pressed again once the storm is over, it is refused.
 */
const INCIDENTS = 12;

const notificationFor = (i: number) => serviceNotification(i, 'e30604636a2b');

const isDigest = (json: string) => json.includes('Alert storm');
const idsIn = (text: string, pattern: RegExp): number[] => [...text.matchAll(pattern)].map((m) => Number(m[1]));

describe('the "Post cards" button of a storm digest', () => {
  let slack: FakeSlack;
  let t: TestBot;
  let db: Database.Database;
  const top = () => slack.topLevel(ALERT_CHANNEL).map((m) => ({ ts: m.ts, json: JSON.stringify(m.blocks) }));
  const carded = () => new Set(top().filter((m) => !isDigest(m.json)).flatMap((m) => idsIn(m.json, /"ack:(\d+)"/g)));

  beforeAll(async () => {
    slack = await startFakeSlack({ channels: [ALERT_CHANNEL], rateLimit: { postsPerSecondPerChannel: 1, burst: 3 } });
    t = await startTestBot({ slack, runbooks: {}, env: { STORM_DIGEST_AFTER_SECONDS: '1', STORM_CARDS_PER_MINUTE: '1' } });
    db = new Database(t.dbFile, { readonly: true, fileMustExist: true });
  });

  afterAll(async () => {
    db?.close();
    await t?.stop();
    await slack?.close();
  });

  it('releases the held cards when pressed, audits the press, and refuses a press once the storm is over', async () => {
    for (let i = 0; i < INCIDENTS; i += 1) expect([200, 202]).toContain((await t.postWebhook(notificationFor(i))).status);
    const digest = await pollUntil(() => top().find((m) => isDigest(m.json) && m.json.includes('Post cards')), 20_000, 'a digest with a Post cards button');
    const actionId = /"action_id":"([^"]*post-cards[^"]*)"/.exec(digest.json)?.[1] ?? /"action_id":"([^"]+)"/.exec(digest.json)?.[1];
    expect(actionId).toBeTruthy();
    // Held: a few seconds later, at most the cards of before the storm and one more are there.
    await new Promise((r) => setTimeout(r, 3000));
    const before = carded().size;
    expect(before).toBeLessThan(INCIDENTS);

    const res = await t.press({ userId: 'U0ALICE', userName: 'alice', actionId: actionId!, messageTs: digest.ts });
    expect(res.status).toBe(200);
    // At the channel's pace (one a second), not one a minute.
    await pollUntil(() => carded().size === INCIDENTS, 40_000, 'every incident carded after the press');
    expect((db.prepare("SELECT count(*) AS n FROM audit_events WHERE kind = 'storm.released'").get() as { n: number }).n).toBe(1);
    await pollUntil(() => (db.prepare('SELECT count(*) AS n FROM chat_storms WHERE ended_at IS NULL').get() as { n: number }).n === 0, 20_000, 'the storm to end');
    await pollUntil(() => top().find((m) => m.ts === digest.ts && m.json.includes('Alert storm over') && !m.json.includes('Post cards')), 20_000, 'the digest to say the storm is over');

    // The button is gone, but a press of the old message is refused, not run.
    await t.press({ userId: 'U0ALICE', userName: 'alice', actionId: actionId!, messageTs: digest.ts });
    await pollUntil(() => (db.prepare("SELECT count(*) AS n FROM audit_events WHERE kind = 'incident.refused'").get() as { n: number }).n >= 1, 10_000, 'the refusal to be audited');
    expect((db.prepare("SELECT count(*) AS n FROM audit_events WHERE kind = 'storm.released'").get() as { n: number }).n).toBe(1);
    expect(slack.rateLimited).toBe(0);
  }, 120_000);
});
