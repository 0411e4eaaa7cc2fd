import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixture } from '../support/fixtures.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { discordDriver, slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';

/**
 * A request for approval is a message with Approve and Deny buttons. Once it is decided (approved,
 * denied, withdrawn) or expired (the incident resolved), that message is edited in place: its
 * buttons go, and a line with its time says what became of it. Nothing is posted twice.
 */
const RUNBOOK = `
name: shop
match: { service: gitcortex }
params:
  marker: { default: '{{DIR}}', pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: restart
    title: Restart GitCortex
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1] + "/restarted.txt", "x")', '{{marker}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
  - id: flush
    title: Flush caches
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1] + "/flushed.txt", "x")', '{{marker}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
`;

describe.each([
  ['Slack', slackDriver],
  ['Discord', discordDriver],
])('%s: a decided request loses its buttons', (_name, makeDriver) => {
  let chat: ChatDriver;
  let t: TestBot;
  let card: ChatMessage;

  const requests = (title: string) => chat.replies(card).filter((m) => new RegExp(`alice[^\\n]* asks to run ${title}`, 'i').test(m.text));
  const request = (title: string) => chat.waitFor(() => requests(title).at(-1), 15_000, `the request for ${title}`);
  /** The request message as the platform shows it now, once it matches `outcome` and has no buttons left. */
  const settled = (id: string, outcome: RegExp, what: string) =>
    chat.waitFor(() => chat.replies(card).find((m) => m.id === id && m.buttonIds.length === 0 && outcome.test(m.text)), 15_000, what);

  beforeAll(async () => {
    chat = await makeDriver();
    t = await startTestBot({ runbooks: { 'shop.yaml': RUNBOOK }, env: chat.botEnv() });
    chat.attach(t.url);
    expect((await t.postWebhook(loadFixture<object>('firing-single.json'))).status).toBe(200);
    card = await chat.waitFor(() => chat.cards()[0], 15_000, 'the card');
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await chat?.close();
  });

  it('edits the request to "approved by" when a teammate approves it', async () => {
    await chat.press('alice', 'run-step:1:shop:restart', card, card);
    const asked = await request('Restart GitCortex');
    expect(asked.buttonIds).toEqual(['approve:1', 'deny:1']);

    await chat.press('bob', 'approve:1', asked, card);
    const edited = await settled(asked.id, /\d\d:\d\d:\d\d approved by bob/i, 'the request edited to its approval');
    expect(edited.text).toMatch(/alice[^\n]* asks to run Restart GitCortex/i);
    // The result is a line of the same message.
    await chat.waitFor(() => chat.replies(card).find((m) => m.id === asked.id && /Restart GitCortex succeeded/.test(m.text)), 20_000, 'the step result');
    // Edited in place: still one request message in the thread.
    expect(requests('Restart GitCortex')).toHaveLength(1);
  });

  it('edits the request to "denied by" when an approver denies it', async () => {
    await chat.press('alice', 'run-step:1:shop:flush', card, card);
    const asked = await request('Flush caches');
    expect(asked.buttonIds).toEqual(['approve:2', 'deny:2']);

    await chat.press('bob', 'deny:2', asked, card);
    await settled(asked.id, /\d\d:\d\d:\d\d denied by bob/i, 'the request edited to its denial');
    expect(requests('Flush caches')).toHaveLength(1);
  });

  it('edits the request to "expired" when the incident is resolved while it waits', async () => {
    await chat.press('alice', 'run-step:1:shop:flush', card, card);
    const asked = await chat.waitFor(() => requests('Flush caches').find((m) => m.buttonIds.includes('approve:3')), 15_000, 'the second request');

    const resolved = await chat.command('carol', 'incident', 'resolve 1 fixed by hand');
    expect(resolved.reply).toMatch(/#1/);
    await settled(asked.id, /\d\d:\d\d:\d\d expired: incident #1 was resolved/, 'the request edited to its expiry');
    // The earlier decisions stay as they were edited.
    expect(chat.replies(card).find((m) => /approved by bob/i.test(m.text))?.buttonIds).toEqual([]);
  });
});
