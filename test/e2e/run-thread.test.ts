import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstBrokenLink } from '../../src/core/audit.js';
import type { AuditEvent } from '../../src/core/domain.js';
import { startAlertScene, type AlertScene } from '../support/alert-scene.js';
import { describeWithAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import type { TestBot } from '../support/bot-harness.js';
import { discordDriver, slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';

/**
 * A quiet thread: a step run is one message, edited in place from its request through its
 * approval, start and result, with the command line once and every time to the second. The real
 * Alertmanager opens the incident; Slack and Discord are their fakes, driven through the bot's
 * real SDKs; the step really runs. Every edit is checked, not just the last version: a secret the
 * step prints must never reach chat, in any version of any message.
 */
const ARGV_MARKER = 'quiet-thread-argv-marker';
const PRINTED_SECRET = 'quietPassw0rdValue9';

const RUNBOOK = `
name: quiet
match: { service: quiet-shop }
steps:
  - id: restart
    title: Restart shop
    action: exec
    run: [node, -e, 'console.log("restarted; DB_PASSWORD=${PRINTED_SECRET}")', '${ARGV_MARKER}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
  - id: flush
    title: Flush caches
    action: exec
    run: [node, -e, 'console.log("flushed")']
    changes: true
    approval: { approvers: 1, selfApprove: false }
`;

const quietAlert = {
  labels: { alertname: 'QuietShopDown', service: 'quiet-shop', severity: 'critical', instance: 'quiet-1:8080' },
  annotations: { summary: 'Quiet shop is down' },
};

/** Every clock time in a text: each must carry its seconds (HH:MM:SS). */
const times = (text: string) => text.match(/\b\d{1,2}:\d\d(?::\d\d)?\b/g) ?? [];
const occurrences = (text: string, part: string) => text.split(part).length - 1;

describeWithAlertmanager('a step run is one thread message, edited in place', () => {
  describe.each([
    ['Slack', slackDriver],
    ['Discord', discordDriver],
  ])('on %s', (_name, makeDriver) => {
    let chat: ChatDriver;
    let t: TestBot;
    let am: RunningAlertmanager;
    let card: ChatMessage;
    let s: AlertScene | undefined;

    const replies = () => chat.replies(card);
    const about = (title: string) => replies().filter((m) => m.text.includes(title));

    beforeAll(async () => {
      s = await startAlertScene(await makeDriver(), { runbooks: { 'quiet.yaml': RUNBOOK } });
      ({ chat, t, am } = s);
      await am.fireAlerts([quietAlert]);
      card = await chat.waitFor(() => chat.cards()[0], 30_000, 'the incident card');
      await chat.waitFor(() => replies().find((m) => /Incident #1 opened/.test(m.text)), 20_000, 'the opening message');
    }, 90_000);

    afterAll(() => s?.stop());

    it('request → approval → start → result: one message, the command line once, times to the second', async () => {
      expect((await chat.press('alice', 'run-step:1:quiet:restart', card, card)).status).toBe(200);
      const request = await chat.waitFor(() => about('Restart shop')[0], 20_000, 'the request');
      expect(request.buttonIds).toEqual(['approve:1', 'deny:1']);

      expect((await chat.press('bob', 'approve:1', request, card)).status).toBe(200);
      const done = await chat.waitFor(() => replies().find((m) => m.id === request.id && /Restart shop succeeded/.test(m.text)), 30_000, 'the result in the request message');

      // The request message itself was edited: it holds everything, in order, and its buttons are gone.
      expect(done.buttonIds).toEqual([]);
      const lines = done.text.split('\n');
      const at = (pattern: RegExp) => lines.findIndex((l) => pattern.test(l));
      expect(at(/^🙋 \d\d:\d\d:\d\d alice[^\n]* asks to run Restart shop/i)).toBe(0);
      expect(at(/^👍 \d\d:\d\d:\d\d approved by bob[^\n]* \(1\/1\)/i)).toBe(1);
      expect(at(/^▶️ \d\d:\d\d:\d\d Started Restart shop/)).toBe(2);
      expect(at(/^✅ \d\d:\d\d:\d\d Restart shop succeeded: exit 0/)).toBe(3);
      expect(done.text).toContain('restarted; DB_PASSWORD=[REDACTED]');

      // At most two messages for the run (the request, edited; a second only for details that do not fit).
      expect(about('Restart shop').length).toBeLessThanOrEqual(2);
      expect(replies().filter((m) => /Started Restart shop|Restart shop succeeded|approved by bob/i.test(m.text))).toHaveLength(1);
      // The command line appears once in the whole thread.
      expect(occurrences(replies().map((m) => m.text).join('\n'), ARGV_MARKER)).toBe(1);
      // Every time shown in the thread has its seconds.
      const shown = times(replies().map((m) => m.text).join('\n'));
      expect(shown.length).toBeGreaterThanOrEqual(4);
      for (const time of shown) expect(time).toMatch(/^\d\d:\d\d:\d\d$/);
    });

    it('edits a denied request to "denied by …", with no message of its own', async () => {
      const before = replies().length;
      await chat.press('alice', 'run-step:1:quiet:flush', card, card);
      const request = await chat.waitFor(() => about('Flush caches')[0], 20_000, 'the second request');
      await chat.press('bob', 'deny:2', request, card);
      const denied = await chat.waitFor(() => replies().find((m) => m.id === request.id && /denied by bob/i.test(m.text)), 20_000, 'the request edited to its denial');
      expect(denied.buttonIds).toEqual([]);
      expect(denied.text.split('\n')[1]).toMatch(/^🚫 \d\d:\d\d:\d\d denied by bob/i);
      expect(about('Flush caches')).toHaveLength(1);
      expect(replies()).toHaveLength(before + 1);
    });

    it('never shows the secret the step printed, in any version of any message', () => {
      const ever = chat.repliesEver?.(card) ?? [];
      // Versions before each edit are there: the request without its lines, then with each line.
      expect(ever.length).toBeGreaterThan(replies().length);
      for (const m of [...ever, ...chat.cards()]) expect(m.text).not.toContain(PRINTED_SECRET);
    });

    it('still records every event of the runs in the audit trail, a whole hash chain', async () => {
      const res = await fetch(`${t.url}/incidents/1/audit`);
      expect(res.status).toBe(200);
      const { events } = (await res.json()) as { events: AuditEvent[] };
      const runs = events.filter((e) => e.kind.startsWith('step.')).map((e) => [e.kind, (e.data as { runId?: number }).runId]);
      expect(runs).toEqual([
        ['step.requested', 1],
        ['step.approved', 1],
        ['step.started', 1],
        ['step.finished', 1],
        ['step.requested', 2],
        ['step.denied', 2],
      ]);
      expect(firstBrokenLink(events)).toBeUndefined();
      // The trail keeps the command line and the result as records of their own.
      expect(events.find((e) => e.kind === 'step.started')?.text).toContain(ARGV_MARKER);
      expect(JSON.stringify(events)).not.toContain(PRINTED_SECRET);
    });
  });
});
