import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';
import { ALERT_CHANNEL, SIGNING_SECRET } from '../support/bot-harness.js';
import { makeBotDir, pollUntil, postWebhook, startBotProcess, type BotProcess } from '../support/bot-process.js';
import { serviceNotification } from '../support/fixtures.js';

/**
 * A bot restarted with 20 incidents queued for one channel: the restarted process shows them all
 * (carded, or listed in a storm digest) within 10 s of being ready, instead of one card a second
 * behind one opening message each. The first process is killed while Slack still holds its first
 * card post (a Slack that answers after a minute), so the whole queue is left to the second.
 */
const TOKEN = 'storm-restart-webhook-token';
const INCIDENTS = 20;
const VISIBLE_WITHIN_MS = 10_000;

/** The recorded single-alert notification, moved to its own group (service `svc-<i>`). */
const notificationFor = (i: number) => serviceNotification(i, 'd30604636a2b');

const env = (slack: FakeSlack) => ({
  ALERTMANAGER_WEBHOOK_TOKEN: TOKEN,
  SLACK_BOT_TOKEN: slack.token,
  SLACK_SIGNING_SECRET: SIGNING_SECRET,
  SLACK_ALERT_CHANNEL: ALERT_CHANNEL,
  SLACK_API_URL: slack.url,
});

const idsIn = (text: string, pattern: RegExp): number[] => [...text.matchAll(pattern)].map((m) => Number(m[1]));

describe('a restart with a storm queued for one channel', () => {
  const bots: BotProcess[] = [];
  const slacks: FakeSlack[] = [];

  afterEach(async () => {
    for (const bot of bots.splice(0)) await bot.dispose({ removeDir: true });
    for (const slack of slacks.splice(0)) await slack.close();
  });

  it('shows all 20 queued incidents within 10 s of the restarted bot being ready, each carded once at most', async () => {
    // Slack that takes a minute to answer: the first process's first post hangs, the rest queue behind it.
    const stuck = await startFakeSlack({ channels: [ALERT_CHANNEL], latencyMs: 60_000 });
    const slack = await startFakeSlack({ channels: [ALERT_CHANNEL], rateLimit: { postsPerSecondPerChannel: 1, burst: 3 } });
    slacks.push(stuck, slack);
    const dir = await makeBotDir();
    const first = await startBotProcess({ dir, env: env(stuck) });
    bots.push(first);
    for (let i = 0; i < INCIDENTS; i += 1) {
      const res = await postWebhook(first.url, notificationFor(i), { authorization: `Bearer ${TOKEN}` });
      expect([200, 202]).toContain(res.status);
    }
    const count = (sql: string) => {
      const db = new Database(first.dbPath, { readonly: true, fileMustExist: true });
      try {
        return (db.prepare(sql).get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    await pollUntil(() => count('SELECT count(*) AS n FROM incidents') === INCIDENTS, 10_000, 'the 20 incidents to be stored');
    first.kill('SIGKILL');
    await first.waitForExit();
    expect(count("SELECT count(*) AS n FROM outbox WHERE state = 'pending' AND kind = 'card'")).toBe(INCIDENTS);

    const second = await startBotProcess({ dir, env: env(slack) });
    bots.push(second);
    const ready = Date.now();
    const seen = () => {
      const carded = new Map<number, number>();
      const listed = new Set<number>();
      for (const m of slack.topLevel(ALERT_CHANNEL)) {
        const json = JSON.stringify(m.blocks);
        if (json.includes('Alert storm') || json.includes('Storm digest')) for (const id of idsIn(json, /#(\d+) /g)) listed.add(id);
        else for (const id of new Set(idsIn(json, /"ack:(\d+)"/g))) carded.set(id, (carded.get(id) ?? 0) + 1);
      }
      return { carded, listed };
    };
    const ids = Array.from({ length: INCIDENTS }, (_, i) => i + 1);
    await pollUntil(
      () => {
        const { carded, listed } = seen();
        return ids.every((id) => carded.has(id) || listed.has(id));
      },
      VISIBLE_WITHIN_MS * 3,
      'every incident to be visible',
    );
    const visibleAfterMs = Date.now() - ready;
    expect(visibleAfterMs).toBeLessThanOrEqual(VISIBLE_WITHIN_MS);
    const { carded, listed } = seen();
    expect(listed.size).toBeGreaterThan(INCIDENTS / 2);
    expect([...carded.values()].every((n) => n === 1)).toBe(true);
    expect(slack.rateLimited).toBe(0);
  }, 90_000);
});
