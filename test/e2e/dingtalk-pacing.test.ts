import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { dingtalkDriver } from '../support/dingtalk-feishu-drivers.js';
import { loadFixture } from '../support/fixtures.js';

/**
 * A burst of incidents on DingTalk with the robot limit in force at the fake: more messages than
 * the robot may send in a minute. They all arrive, paced, and DingTalk never answers 130101 (which
 * would block the robot for 10 minutes). The limit is 8 a minute here so that the burst passes it
 * within about a minute; DingTalk's own is 20.
 */
const PER_MINUTE = 8;
const INCIDENTS = 5;

/** The single-alert fixture as a notification of its own group (alertname `Burst<n>`). */
function burstAlert(n: number): object {
  const text = JSON.stringify(loadFixture<object>('firing-single.json'));
  return JSON.parse(text.replaceAll('GitCortexDown', `Burst${n}`).replaceAll('c900c30604636a2b', `c900c30604636a${String(n).padStart(2, '0')}`)) as object;
}

describe('DingTalk pacing under the robot limit', () => {
  let chat: Awaited<ReturnType<typeof dingtalkDriver>>;
  let t: TestBot;

  beforeAll(async () => {
    chat = await dingtalkDriver({ messagesPerMinute: PER_MINUTE });
    t = await startTestBot({ runbooks: {}, env: chat.botEnv() });
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await chat?.close();
  });

  it(`delivers ${INCIDENTS} cards and their first thread messages (${2 * INCIDENTS} messages) without ever hitting the limit`, async () => {
    const started = Date.now();
    for (let n = 1; n <= INCIDENTS; n += 1) expect((await t.postWebhook(burstAlert(n))).status).toBe(200);
    await chat.waitFor(() => chat.cards().length === INCIDENTS && chat.cards().every((c) => chat.replies(c).some((r) => /opened/.test(r.text))), 110_000, 'every card and its opening message');
    // More than a minute's worth: the last ones waited for the robot's minute to turn.
    expect(Date.now() - started).toBeGreaterThan(55_000);
    expect(chat.limited()).toEqual([]);
    // Robots have no threads: each opening message quotes its own card.
    for (const card of chat.cards()) {
      const opened = chat.replies(card).find((r) => /opened/.test(r.text));
      const name = /Burst\d/.exec(card.text)?.[0] ?? 'no card name';
      expect(opened && chat.quoteOf(opened)).toContain(name);
    }
  }, 120_000);
});
