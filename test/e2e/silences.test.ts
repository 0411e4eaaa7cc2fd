import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithAlertmanager, startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { WEBHOOK_TOKEN, startTestBot, type TestBot } from '../support/bot-harness.js';
import { slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';

/**
 * Silences from chat against the REAL Alertmanager: the button and the command create a silence
 * Alertmanager shows with the group's labels as matchers; while it holds, Alertmanager stops
 * notifying (its webhook, relayed to the bot, goes quiet although repeat_interval is 2 s);
 * Unsilence expires it and notifications resume. With Alertmanager down the presser gets a clear
 * error and nothing is recorded.
 */
interface ApiSilence {
  id: string;
  status: { state: string };
  matchers: Array<{ name: string; value: string; isEqual: boolean; isRegex: boolean }>;
  createdBy: string;
  comment: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ALERT = { labels: { alertname: 'QueueStuck', service: 'billing', severity: 'warning', instance: 'billing-1:9000' }, annotations: { summary: 'Queue is not draining' } };

describeWithAlertmanager('silences from chat against the real Alertmanager', () => {
  let chat: ChatDriver;
  let t: TestBot;
  let am: RunningAlertmanager;
  let card: ChatMessage;
  let relay: http.Server;
  let botUrl = '';
  /** When each webhook delivery from Alertmanager arrived (they are relayed to the bot as they are). */
  const deliveries: number[] = [];

  const silences = async () => (await (await fetch(`${am.url}/api/v2/silences`)).json()) as ApiSilence[];
  const current = () => chat.card(card.id) ?? card;
  const incident = () => t.bot.store.transaction(async (tx) => (await tx.getIncident(1))!);
  const waitForCard = (predicate: (c: ChatMessage) => boolean, what: string) => chat.waitFor(() => (predicate(current()) ? current() : undefined), 15_000, what);
  const deliveriesDuring = async (ms: number) => {
    const before = deliveries.length;
    await sleep(ms);
    return deliveries.length - before;
  };

  beforeAll(async () => {
    // Alertmanager needs the webhook URL at start and the bot needs Alertmanager's URL at start: a relay breaks the cycle.
    relay = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        deliveries.push(Date.now());
        fetch(`${botUrl}/webhooks/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' }, body: Buffer.concat(chunks) })
          .then(async (r) => res.writeHead(r.status).end(await r.text()))
          .catch(() => res.writeHead(502).end());
      });
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}/hook`;
    am = await startAlertmanager({ webhookUrl: relayUrl, bearerToken: WEBHOOK_TOKEN, groupWait: '1s', groupInterval: '1s', repeatInterval: '2s' });
    chat = await slackDriver();
    t = await startTestBot({ runbooks: {}, env: { ...chat.botEnv(), ALERTMANAGER_URL: am.url } });
    botUrl = t.url;
    chat.attach(t.url);
  }, 60_000);

  afterAll(async () => {
    await am?.stop();
    await t?.stop();
    await chat?.close();
    await new Promise((resolve) => relay?.close(resolve));
  });

  it('offers "Silence 1h" on the firing card while Alertmanager keeps notifying', async () => {
    await am.fireAlerts([ALERT]);
    card = await chat.waitFor(() => chat.cards()[0], 20_000, 'the incident card');
    expect(card.buttonIds).toEqual(['ack:1', 'silence:1']);
    // repeat_interval 2 s: the same notification arrives again and again (duplicates to the bot).
    expect(await deliveriesDuring(9_000)).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('the button creates a silence Alertmanager shows with the group labels as exact matchers, and notifications stop', async () => {
    const pressed = await chat.press('alice', 'silence:1', card, card);
    expect(pressed.status).toBe(200);
    await waitForCard((c) => c.buttonIds.includes('unsilence:1'), 'the Unsilence button');
    expect(current().text).toMatch(/Silenced.*by alice until/);
    const recorded = (await incident()).silence;
    expect(recorded).toMatchObject({ by: 'slack:U0ALICE', byName: 'alice' });
    expect(Date.parse(recorded?.until ?? '') - Date.parse(recorded?.at ?? '')).toBe(3_600_000);

    const active = (await silences()).filter((s) => s.status.state === 'active');
    expect(active).toHaveLength(1);
    expect(active[0]?.id).toBe(recorded?.id);
    expect(active[0]?.matchers.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'alertname', value: 'QueueStuck', isEqual: true, isRegex: false },
      { name: 'service', value: 'billing', isEqual: true, isRegex: false },
    ]);
    expect(active[0]?.createdBy).toBe('alice');
    expect(active[0]?.comment).toContain('Incident #1: QueueStuck on billing');
    await chat.waitFor(() => chat.replies(card).find((m) => /alice silenced this group's alerts in Alertmanager for 1h 00m/.test(m.text)), 10_000, 'the silence in the thread');

    await sleep(1_500); // a delivery already on its way when the silence landed
    expect(await deliveriesDuring(9_000)).toBe(0);
  }, 30_000);

  it('Unsilence expires it in Alertmanager and notifications resume', async () => {
    const id = (await incident()).silence?.id;
    await chat.press('bob', 'unsilence:1', current(), card);
    await waitForCard((c) => c.buttonIds.includes('silence:1'), 'the Silence button again');
    expect((await silences()).find((s) => s.id === id)?.status.state).toBe('expired');
    expect((await incident()).silence).toBeNull();
    await chat.waitFor(() => chat.replies(card).find((m) => /bob removed the silence/.test(m.text)), 10_000, 'the unsilence in the thread');
    expect(await deliveriesDuring(6_000)).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('/incident silence creates a bounded silence of the asked duration', async () => {
    const answer = await chat.command('bob', 'incident', 'silence 1 30m');
    expect(answer.reply).toMatch(/^Silenced incident #1's alerts in Alertmanager until .* \(silence [0-9a-f-]+\)\.$/);
    const recorded = (await incident()).silence;
    expect(Date.parse(recorded?.until ?? '') - Date.parse(recorded?.at ?? '')).toBe(1_800_000);
    const active = (await silences()).filter((s) => s.status.state === 'active');
    expect(active.map((s) => s.id)).toEqual([recorded?.id]);
    expect((await chat.command('alice', 'incident', 'silence 1 1h')).reply).toMatch(/already silenced by bob until/);
    expect((await silences()).filter((s) => s.status.state === 'active')).toHaveLength(1);
    await chat.press('bob', 'unsilence:1', current(), card);
    await waitForCard((c) => c.buttonIds.includes('silence:1'), 'the Silence button again');
  }, 30_000);

  it('with Alertmanager down: a clear private error, and no silence recorded', async () => {
    const auditBefore = await t.bot.engine.auditTrail(1);
    await am.stop();
    await chat.press('alice', 'silence:1', current(), card);
    const error = await chat.waitFor(() => chat.privateTexts('alice').find((x) => /Alertmanager could not be reached to create a silence/.test(x)), 15_000, 'the error');
    expect(error).toMatch(/ECONNREFUSED|connect/);
    expect((await incident()).silence).toBeNull();
    expect((await t.bot.engine.auditTrail(1))?.filter((e) => e.kind === 'incident.silenced').length).toBe(auditBefore?.filter((e) => e.kind === 'incident.silenced').length);
    const answer = await chat.command('alice', 'incident', 'silence 1 2h');
    expect(answer.reply).toMatch(/^Alertmanager could not be reached to create a silence/);
    expect((await incident()).silence).toBeNull();
    expect(current().buttonIds).toContain('silence:1');
  }, 30_000);
});
