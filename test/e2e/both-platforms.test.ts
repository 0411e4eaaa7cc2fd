import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/domain.js';
import { loadFixture } from '../support/fixtures.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { discordDriver, slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';

/**
 * Slack and Discord at once: one incident, a card and a thread on each, one audit trail. A step
 * requested on Slack can be approved on Discord, and runs once; both threads tell the story.
 */
const RUNBOOK = `
name: both
match: { service: gitcortex }
params:
  marker: { default: '{{DIR}}/ran.txt', pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: restart
    title: Restart GitCortex
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], "x")', '{{marker}}']
    changes: true
`;

describe('Slack and Discord enabled together', () => {
  let slack: ChatDriver;
  let discord: ChatDriver;
  let t: TestBot;
  let slackCard: ChatMessage;
  let discordCard: ChatMessage;

  beforeAll(async () => {
    slack = await slackDriver();
    discord = await discordDriver();
    const env = { ...slack.botEnv(), ...discord.botEnv(), APPROVERS: `${slack.botEnv().APPROVERS},${discord.botEnv().APPROVERS}` };
    t = await startTestBot({ runbooks: { 'both.yaml': RUNBOOK }, env });
    slack.attach(t.url);
    discord.attach(t.url);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await slack?.close();
    await discord?.close();
  });

  it('posts the incident to both platforms', async () => {
    const res = await t.postWebhook(loadFixture<object>('firing-single.json'));
    expect(res.status).toBe(200);
    slackCard = await slack.waitFor(() => slack.cards()[0], 15_000, 'the Slack card');
    discordCard = await discord.waitFor(() => discord.cards()[0], 15_000, 'the Discord card');
    for (const card of [slackCard, discordCard]) {
      expect(card.text).toContain('GitCortexDown');
      expect(card.buttonIds).toEqual(['ack:1', 'run-step:1:both:restart']);
    }
    await slack.waitFor(() => slack.replies(slackCard).find((m) => /Incident #1 opened/.test(m.text)), 10_000, 'the Slack thread');
    await discord.waitFor(() => discord.replies(discordCard).find((m) => /Incident #1 opened/.test(m.text)), 10_000, 'the Discord thread');
  });

  it('runs a step requested on Slack and approved on Discord once, and tells both threads', async () => {
    await slack.press('alice', 'run-step:1:both:restart', slackCard, slackCard);
    const request = await discord.waitFor(() => discord.replies(discordCard).find((m) => /asks to run Restart GitCortex/.test(m.text)), 15_000, 'the request on Discord');
    expect(request.buttonIds).toEqual(['approve:1', 'deny:1']);
    await discord.press('bob', 'approve:1', request, discordCard);
    for (const [chat, card] of [
      [slack, slackCard],
      [discord, discordCard],
    ] as const) {
      await chat.waitFor(() => chat.replies(card).find((m) => /Restart GitCortex succeeded/.test(m.text)), 20_000, `the result on ${chat.platform}`);
      expect(chat.replies(card).filter((m) => /Started Restart GitCortex/.test(m.text))).toHaveLength(1);
    }
  });

  it('keeps one audit trail with the actors of both platforms', async () => {
    const { events } = (await (await fetch(`${t.url}/incidents/1/audit`)).json()) as { events: AuditEvent[] };
    const requested = events.find((e) => e.kind === 'step.requested');
    const approved = events.find((e) => e.kind === 'step.approved');
    expect(requested?.actor).toBe('slack:U0ALICE');
    expect(approved?.actor).toBe('discord:1200000000000000002');
    expect(events.filter((e) => e.kind === 'step.started')).toHaveLength(1);
  });
});
