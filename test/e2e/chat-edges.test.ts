import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertmanagerNotification } from '../../src/core/alertmanager-payload.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord-api.js';
import { componentInteraction, createTestKeyPair, DEFAULT_CHANNEL_ID, interactionToken, signInteraction, type TestKeyPair } from '../fakes/discord-signing.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';
import { blockActionsBody, signSlackRequest } from '../fakes/slack-signing.js';
import { ALERT_CHANNEL, SIGNING_SECRET, startTestBot, type TestBot } from '../support/bot-harness.js';
import { spawnBot, type BotProcess } from '../support/bot-process.js';
import { loadFixture } from '../support/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { probePostgres, requireService } from '../support/services.js';

/**
 * Smaller edges of the chat doors: a signed Slack or Discord request sent again inside its
 * 5-minute window is acknowledged but not handled twice (on PostgreSQL, whichever replica gets
 * it); links other than http(s) never reach a card; bidi and control characters in labels are
 * shown escaped; the console's cookies expire and are Secure over https; a webhook open to
 * anyone beyond loopback is warned about at start-up.
 */

const RUNBOOK = `
name: counter
match: { service: edge-svc }
steps:
  - id: count
    title: Count a run
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], "x")', '{{DIR}}/runs.txt']
`;

const RLO = '\u202E';

function edgeAlert(groupKey = '{}:{alertname="EdgeDown"}'): AlertmanagerNotification {
  const n = structuredClone(loadFixture<AlertmanagerNotification>('firing-single.json'));
  n.groupKey = groupKey;
  const alert = n.alerts[0]!;
  alert.fingerprint = `fp-${groupKey.length}-edge`;
  alert.labels = { ...alert.labels, alertname: 'EdgeDown', service: 'edge-svc', instance: `host-${RLO}gpj.exe:9100` };
  alert.annotations = { ...alert.annotations, runbook_url: 'javascript:alert(document.cookie)' };
  alert.generatorURL = 'data:text/html,<script>alert(1)</script>';
  n.commonLabels = { ...n.commonLabels, alertname: 'EdgeDown', service: 'edge-svc', instance: alert.labels.instance! };
  n.commonAnnotations = { ...n.commonAnnotations, runbook_url: alert.annotations.runbook_url! };
  n.groupLabels = { alertname: 'EdgeDown' };
  return n;
}

async function waitUntil<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const runsIn = async (dir: string) => (await fs.readFile(path.join(dir, 'runs.txt'), 'utf8').catch(() => '')).length;
const settle = () => new Promise((r) => setTimeout(r, 1500));

/** One Slack press, as a body sent twice: the same trigger_id, action ts and payload. */
function slackPress(messageTs: string, actionId: string): { body: string; headers: Record<string, string> } {
  const body = blockActionsBody({ user: { id: 'U0ALICE', name: 'alice' }, channel: ALERT_CHANNEL, messageTs, actionId, value: actionId });
  return { body, headers: { ...signSlackRequest(SIGNING_SECRET, body) } };
}

describe('one bot on SQLite, with Slack and Discord', () => {
  let slack: FakeSlack;
  let discord: FakeDiscord;
  let keys: TestKeyPair;
  let t: TestBot;

  beforeAll(async () => {
    slack = await startFakeSlack({ rateLimit: false });
    discord = await startFakeDiscord({ rateLimit: false });
    keys = createTestKeyPair();
    t = await startTestBot({
      slack,
      runbooks: { 'counter.yaml': RUNBOOK },
      env: {
        DISCORD_BOT_TOKEN: discord.token,
        DISCORD_APPLICATION_ID: discord.applicationId,
        DISCORD_ALERT_CHANNEL_ID: DEFAULT_CHANNEL_ID,
        DISCORD_PUBLIC_KEY: keys.publicKeyHex,
        DISCORD_API_URL: discord.url,
        DISCORD_GUILD_ID: discord.guildId,
      },
    });
    expect((await t.postWebhook(edgeAlert())).status).toBe(200);
    await waitUntil(() => slack.topLevel(ALERT_CHANNEL)[0], 15_000, 'the Slack card');
    await waitUntil(() => discord.messages(DEFAULT_CHANNEL_ID)[0], 15_000, 'the Discord card');
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await slack?.close();
    await discord?.close();
  });

  it('handles a replayed Slack press once, with the normal ack both times', async () => {
    const card = slack.topLevel(ALERT_CHANNEL)[0]!;
    const press = slackPress(card.ts, 'run-step:1:counter:count');
    // The replay comes after the run has finished: a second press then would run the step again.
    for (let i = 0; i < 2; i += 1) {
      const res = await fetch(`${t.url}/slack/events`, { method: 'POST', headers: press.headers, body: press.body });
      expect(res.status).toBe(200);
      await waitUntil(async () => (await runsIn(t.dir)) >= 1, 15_000, 'the step to run');
      await settle();
    }
    expect(await runsIn(t.dir)).toBe(1);
  });

  it('handles a replayed Discord interaction once, with the normal answer both times', async () => {
    const before = await runsIn(t.dir);
    const card = discord.messages(DEFAULT_CHANNEL_ID)[0]!;
    const token = interactionToken();
    discord.registerInteraction(token, { messageId: card.id, channelId: DEFAULT_CHANNEL_ID, initialResponse: 6 });
    const body = JSON.stringify(
      componentInteraction({ token, customId: 'run-step:1:counter:count', userId: '1200000000000000001', username: 'alice', roles: [], channelId: DEFAULT_CHANNEL_ID, messageId: card.id, guildId: discord.guildId, applicationId: discord.applicationId }),
    );
    const headers = signInteraction(keys.privateKey, body);
    for (let i = 0; i < 2; i += 1) {
      const res = await fetch(`${t.url}/discord/interactions`, { method: 'POST', headers, body });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ type: 6 });
      await waitUntil(async () => (await runsIn(t.dir)) > before, 15_000, 'the step to run');
      await settle();
    }
    expect(await runsIn(t.dir)).toBe(before + 1);
  });

  it('drops javascript: and data: links from the Slack and Discord cards', () => {
    const slackCard = JSON.stringify(slack.topLevel(ALERT_CHANNEL)[0]);
    const discordCard = JSON.stringify(discord.messages(DEFAULT_CHANNEL_ID)[0]);
    for (const text of [slackCard, discordCard]) {
      expect(text).toContain('EdgeDown');
      expect(text).not.toMatch(/javascript:|data:text/);
    }
  });

  it('shows a bidi override in a label escaped on the cards and in the threads', async () => {
    const slackCard = slack.topLevel(ALERT_CHANNEL)[0]!;
    const discordCard = discord.messages(DEFAULT_CHANNEL_ID)[0]!;
    const slackThread = await waitUntil(() => slack.threadReplies(ALERT_CHANNEL, slackCard.ts).find((m) => m.text.includes('opened')), 10_000, 'the Slack thread');
    const texts = [JSON.stringify(slackCard.blocks) + slackCard.text, JSON.stringify(discordCard.embeds), slackThread.text];
    for (const text of texts) {
      expect(text).not.toContain(RLO);
    }
    // Shown as the six characters \u202E (JSON-encoded here, so with its backslash doubled).
    for (const text of texts.slice(0, 2)) expect(JSON.stringify(text)).toMatch(/host-(\\\\)+u202Egpj\.exe/);
  });
});

describe('the console cookies', () => {
  const CONSOLE_TOKEN = 'console-token-for-cookie-tests-01';
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot({ runbooks: {}, env: { CONSOLE_TOKEN } });
  });
  afterAll(() => t?.stop());

  it('expire, and are Secure when the console is served over https (behind a proxy)', async () => {
    const plain = await fetch(`${t.url}/?token=${CONSOLE_TOKEN}`, { redirect: 'manual' });
    const plainCookies = plain.headers.getSetCookie();
    expect(plainCookies.find((c) => c.startsWith('console_auth='))).toMatch(/; Max-Age=43200/);
    expect(plainCookies.join('\n')).not.toMatch(/Secure/);
    const proxied = await fetch(`${t.url}/?token=${CONSOLE_TOKEN}`, { redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } });
    const auth = proxied.headers.getSetCookie().find((c) => c.startsWith('console_auth='));
    expect(auth).toMatch(/; Max-Age=43200/);
    expect(auth).toMatch(/; Secure/);
    const page = await fetch(`${t.url}/`, { headers: { authorization: `Bearer ${CONSOLE_TOKEN}`, 'x-forwarded-proto': 'https' } });
    expect(page.status).toBe(200);
    expect(page.headers.getSetCookie().find((c) => c.startsWith('console_sid='))).toMatch(/; Max-Age=43200.*; Secure|; Secure.*; Max-Age=43200/);
  });
});

describe('start-up warnings', () => {
  let bot: BotProcess | undefined;
  afterAll(() => bot?.dispose({ removeDir: true }));

  it('warns when the webhook takes anyone beyond loopback (no ALERTMANAGER_WEBHOOK_TOKEN)', async () => {
    bot = await spawnBot({ env: { HOST: '0.0.0.0' } });
    await bot.waitForReady(30_000);
    await bot.waitForLog(/ALERTMANAGER_WEBHOOK_TOKEN is not set/, 5_000);
    expect(bot.logRecords().find((r) => /ALERTMANAGER_WEBHOOK_TOKEN is not set/.test(String(r.msg)))?.level).toBe(40);
  });
});

const postgres = await requireService('PostgreSQL at 127.0.0.1:5432', probePostgres);

postgres.describe('two replicas on PostgreSQL', () => {
  let db: TestDatabase;
  let slack: FakeSlack;
  const bots: TestBot[] = [];

  beforeAll(async () => {
    db = await createTestDatabase(postgres.value, 'chatops_replay');
    slack = await startFakeSlack({ rateLimit: false });
    for (let i = 0; i < 2; i += 1) bots.push(await startTestBot({ slack, runbooks: { 'counter.yaml': RUNBOOK }, env: { DATABASE_URL: db.url } }));
  }, 60_000);

  afterAll(async () => {
    for (const bot of bots) await bot.stop();
    await slack?.close();
    await db?.drop();
  });

  it('recognises a Slack press replayed to the other replica', async () => {
    const [a, b] = bots as [TestBot, TestBot];
    expect((await a.postWebhook(edgeAlert('{}:{alertname="EdgeDown",replicas="2"}'))).status).toBe(200);
    const card = await waitUntil(() => slack.topLevel(ALERT_CHANNEL)[0], 15_000, 'the card');
    const press = slackPress(card.ts, 'run-step:1:counter:count');
    const ran = async () => (await runsIn(a.dir)) + (await runsIn(b.dir));
    for (const bot of [a, b]) {
      const res = await fetch(`${bot.url}/slack/events`, { method: 'POST', headers: press.headers, body: press.body });
      expect(res.status).toBe(200);
      await waitUntil(async () => (await ran()) >= 1, 15_000, 'the step to run');
      await settle();
    }
    expect(await ran()).toBe(1);
  });
});
