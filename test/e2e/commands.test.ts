import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { discordDriver, slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';
import { alert, notification } from '../unit/core/factories.js';

/**
 * The slash commands end to end, once per platform: signed as the platform sends them, answered
 * privately (Slack through the response_url, Discord by the deferred response), and what they
 * change posted in the incident's thread through the same engine as the buttons.
 */
const RUNBOOK = `
name: latency
match: { service: gitcortex, alertname: HighLatency }
params:
  instance: { fromLabel: instance, pattern: '[a-z0-9.-]+:[0-9]+' }
  marker: { default: '{{DIR}}/restarted.txt', pattern: '/[A-Za-z0-9/._-]+' }
  backup: { chosen: true, pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: check
    title: Check latency
    action: exec
    run: [node, -e, 'console.log("checked " + process.argv[1])', '{{instance}}']
  - id: restart
    title: Restart GitCortex
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], "restarted")', '{{marker}}']
    changes: true
  - id: restore
    title: Restore from a backup
    action: exec
    run: [node, -e, 'console.log(process.argv[1])', '{{backup}}']
    changes: true
`;

const drivers: Array<[string, () => Promise<ChatDriver>]> = [
  ['slack', slackDriver],
  ['discord', discordDriver],
];

describe.each(drivers)('slash commands on %s', (platform, makeDriver) => {
  let chat: ChatDriver;
  let t: TestBot;
  let card: ChatMessage;
  let id: number;
  // Display names: Slack's user names, Discord's guild nicknames.
  const A = platform === 'slack' ? 'alice' : 'Alice Oncall';
  const B = platform === 'slack' ? 'bob' : 'Bob Lead';

  const command = async (user: 'alice' | 'bob', name: 'incident' | 'runbook', line: string) => {
    const answer = await chat.command(user, name, line);
    expect(answer.status).toBe(200);
    // Acknowledged well within the 3 seconds both platforms allow.
    expect(answer.ms).toBeLessThan(3000);
    // Code spans are markup, not content: both platforms show `x` as x in a code font.
    return answer.reply.replaceAll('`', '');
  };
  const waitForReply = (pattern: RegExp, what: string) => chat.waitFor(() => chat.replies(card).find((m) => pattern.test(m.text)), 15_000, what);
  const runs = () => t.bot.store.transaction((tx) => tx.listStepRuns(id));

  beforeAll(async () => {
    chat = await makeDriver();
    t = await startTestBot({ runbooks: { 'latency.yaml': RUNBOOK }, env: chat.botEnv() });
    chat.attach(t.url);
    const posted = await t.postWebhook(notification([alert('gitcortex-1:3001', { severity: 'critical' })]));
    id = posted.json.incidentId as number;
    card = await chat.waitFor(() => chat.cards()[0], 15_000, 'the incident card');
  }, 30_000);
  afterAll(async () => {
    await t?.stop();
    await chat?.close();
  });

  it('lists and shows incidents', async () => {
    expect(await command('alice', 'incident', 'list')).toMatch(new RegExp(`Open incidents, newest first:\\n• #${id} \\[critical\\] HighLatency on gitcortex — firing since .*, unacknowledged`));
    const shown = await command('alice', 'incident', `show ${id}`);
    expect(shown).toContain(`#${id} HighLatency on gitcortex — critical, firing`);
    expect(shown).toContain('Group: alertname=HighLatency, service=gitcortex');
    expect(shown).toContain('Steps offered: latency check, latency restart');
    expect(await command('alice', 'incident', 'show 999')).toBe('Incident #999 does not exist.');
  });

  it('answers bad input with what was wrong and the usage, changing nothing', async () => {
    const before = await t.bot.engine.auditTrail(id);
    expect(await command('alice', 'incident', `silence ${id} 9y`)).toBe(
      `/incident silence: <duration>: "9y" is not a duration: use a number and m, h or d, e.g. 30m, 2h, 1d.\nUsage:\n/incident silence <id> <duration> — silence the group's alerts in Alertmanager (30m, 2h, 1d; at most 7d)`,
    );
    expect(await command('alice', 'runbook', 'show nope')).toBe('There is no runbook named "nope". /runbook list shows them.');
    expect(await command('alice', 'runbook', 'run latency check nonsense')).toMatch(/^\/runbook run: <params>: "nonsense" is not a param=value pair\.\nUsage:/);
    expect(await command('alice', 'runbook', `run latency restart instance=evil:1 --incident ${id}`)).toBe(
      `Param "instance" comes from the incident's labels or the runbook's default; it cannot be set from chat.`,
    );
    expect(await command('alice', 'runbook', `dry-run latency restore backup=../etc --incident ${id}`)).toMatch(/param "backup" \(chosen\)/);
    expect(await command('alice', 'incident', `silence ${id} 2h`)).toBe('Silences from chat are not set up: the bot has no ALERTMANAGER_URL.');
    if (platform === 'slack') {
      // Discord's client only sends declared subcommands and integers in integer options.
      expect(await command('alice', 'incident', 'show twelve')).toMatch(/^\/incident show: <id>: the incident id must be a number like 12, not "twelve"\./);
      expect(await command('alice', 'incident', 'explode')).toMatch(/^`?explode`? is not a subcommand of \/incident\.\nUsage:\n\/incident list/);
      expect(await command('alice', 'incident', 'ack')).toMatch(/^\/incident ack: missing <id>\./);
    }
    expect(await t.bot.engine.auditTrail(id)).toEqual(before);
    expect(await runs()).toEqual([]);
  });

  it('lists runbooks, shows one, and dry-runs a step: exactly what would run, nothing run', async () => {
    expect(await command('alice', 'runbook', 'list')).toBe('Runbooks:\n• latency — no description; steps: check, restart (changes), restore (changes)');
    const shown = await command('alice', 'runbook', 'show latency');
    expect(shown).toContain('Param instance: label instance; must match [a-z0-9.-]+:[0-9]+');
    expect(shown).toContain('Param backup: chosen in chat');
    expect(shown).toContain('Step restart — Restart GitCortex: exec, needs 1 approval(s)');
    const dry = await command('alice', 'runbook', 'dry-run latency check');
    expect(dry).toContain(`Dry run of latency check ("Check latency") for incident #${id}; nothing was run.`);
    expect(dry).toContain(`It will run node -e 'console.log("checked " + process.argv[1])' gitcortex-1:3001 (timeout`);
    expect(dry).toContain('Approval: read-only: runs at once when requested.');
    const restore = await command('alice', 'runbook', `dry-run latency restore backup=/srv/b/1.db --incident ${id}`);
    expect(restore).toContain(`It will run node -e 'console.log(process.argv[1])' /srv/b/1.db`);
    expect(restore).toContain('Approval: needs 1 approval(s)');
    expect(await runs()).toEqual([]);
  });

  it('acknowledges: the card and thread show the owner; a second ack is refused privately', async () => {
    expect(await command('alice', 'incident', `ack ${id}`)).toBe(`You acknowledged incident #${id}; it is yours now.`);
    await waitForReply(new RegExp(`${A} acknowledged the incident`), 'the ack in the thread');
    await chat.waitFor(() => /Owner/.test(chat.card(card.id)?.text ?? '') && !chat.card(card.id)?.buttonIds.includes(`ack:${id}`), 10_000, 'the card showing the owner');
    expect(await command('bob', 'incident', `ack ${id}`)).toMatch(new RegExp(`^Incident #${id} was already acknowledged by ${A}`));
  });

  it('runs a read-only step at once and puts a changing one through the approval flow of the buttons', async () => {
    expect(await command('alice', 'runbook', 'run latency check')).toMatch(new RegExp(`^Requested latency check for incident #${id} \\(run \\d+\\): it runs now\\.$`));
    await waitForReply(/checked gitcortex-1:3001|Check latency.*succeeded|succeeded/i, 'the read-only step result');
    expect(await command('alice', 'runbook', `run latency restart --incident ${id}`)).toMatch(/it needs 1 approval\(s\) in the thread before it runs\./);
    const request = await waitForReply(new RegExp(`${A} asks to run Restart GitCortex`), 'the approval request');
    const approve = request.buttonIds.find((b) => b.startsWith('approve:'));
    expect(approve).toBeDefined();
    expect((await runs()).find((r) => r.step === 'restart')?.state).toBe('requested');
    // The requester cannot approve their own request, from a command or a button.
    await chat.press('alice', approve ?? '', request, card);
    await chat.waitFor(() => chat.privateTexts('alice').find((x) => /cannot approve it/.test(x)), 10_000, 'the self-approval refusal');
    await chat.press('bob', approve ?? '', request, card);
    await waitForReply(/Restart GitCortex.*(succeeded|exit 0)/i, 'the approved restart to run');
    expect((await runs()).find((r) => r.step === 'restart')?.state).toBe('succeeded');
    expect(await command('alice', 'runbook', `run latency restart --incident ${id}`)).toMatch(/it needs 1 approval/);
  });

  it('shows the timeline in chat and over HTTP as Markdown', async () => {
    const timeline = await command('alice', 'incident', `timeline ${id}`);
    expect(timeline).toContain(`Incident #${id}: HighLatency on gitcortex`);
    expect(timeline).toContain('Time to acknowledge:');
    const res = await fetch(`${t.url}/incidents/${id}/timeline`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    const md = await res.text();
    expect(md).toContain(`| Restart GitCortex | ${A} | ${B} | succeeded |`);
    expect(md).toContain('`incident.ack`');
    expect((await fetch(`${t.url}/incidents/999/timeline`)).status).toBe(404);
    expect((await fetch(`${t.url}/incidents/abc/timeline`)).status).toBe(400);
  });

  it('resolves by hand: card resolved, thread summary, a second resolve refused', async () => {
    expect(await command('bob', 'incident', `resolve ${id} pool restarted`)).toMatch(new RegExp(`^Incident #${id} is resolved`));
    const summary = await waitForReply(new RegExp(`${B} resolved incident #\\d+ by hand: pool restarted`), 'the resolution summary');
    expect(summary.text).toMatch(/Time to acknowledge: \d+s\. Time to resolve: \d+s\. Actions: /);
    expect(summary.text).toContain(`Restart GitCortex (requested by ${A}, approved by ${B}; succeeded)`);
    await chat.waitFor(() => /Resolved by/.test(chat.card(card.id)?.text ?? ''), 10_000, 'the card showing the resolution');
    expect(await command('alice', 'incident', `resolve ${id}`)).toBe(`Incident #${id} is already resolved by ${B}.`);
    expect(await command('alice', 'incident', 'list')).toBe('No open incidents.');
    expect(await command('alice', 'runbook', 'run latency check')).toBe('There is no open incident in this channel to run it for: add --incident <id>.');
  });
});
