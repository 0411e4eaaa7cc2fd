import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/domain.js';
import { startAlertScene, type AlertScene } from '../support/alert-scene.js';
import { describeWithAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import type { TestBot } from '../support/bot-harness.js';
import { formatDuration } from '../../src/core/time.js';
import { discordDriver, slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';

/**
 * Resolved means no more changes by default: a request pending when Alertmanager resolves the
 * incident expires (thread note, its Approve refused, nothing runs); changing steps on a resolved
 * incident are refused unless the step allows it and the requester confirms; read-only steps run.
 * The card then says resolved, with the incident's duration, and offers no changing step. On
 * Slack and on Discord.
 */
const RUNBOOK = `
name: shop
match: { service: resolved-shop, alertname: ShopDown }
params:
  marker: { default: '{{DIR}}', pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: check
    title: Check shop
    action: exec
    run: [node, -e, 'require("fs").writeFileSync(process.argv[1] + "/checked.txt", "checked"); console.log("checked")', '{{marker}}']
  - id: restart
    title: Restart shop
    action: exec
    run: [node, -e, 'require("fs").writeFileSync(process.argv[1] + "/restarted.txt", "restarted")', '{{marker}}']
    changes: true
    approval: { approvers: 1, selfApprove: false }
  - id: cleanup
    title: Clean up
    action: exec
    run: [node, -e, 'require("fs").writeFileSync(process.argv[1] + "/cleaned.txt", "cleaned")', '{{marker}}']
    changes: true
    afterResolve: true
    approval: { approvers: 1, selfApprove: false }
`;

const shopAlert = { labels: { alertname: 'ShopDown', service: 'resolved-shop', severity: 'critical', instance: 'shop-1:8080' } };

const drivers: Array<[string, () => Promise<ChatDriver>]> = [
  ['slack', slackDriver],
  ['discord', discordDriver],
];

describeWithAlertmanager('a resolved incident takes no more changes by default', () => {
  describe.each(drivers)('on %s', (_platform, makeDriver) => {
    let chat: ChatDriver;
    let t: TestBot;
    let am: RunningAlertmanager;
    let card: ChatMessage;
    let s: AlertScene | undefined;
    const file = (name: string) => path.join(t.dir, name);
    const reply = (pattern: RegExp, what: string) => chat.waitFor(() => chat.replies(card).find((m) => pattern.test(m.text)), 20_000, what);
    const told = (user: 'alice' | 'bob' | 'carol', pattern: RegExp, what: string) => chat.waitFor(() => chat.privateTexts(user).find((x) => pattern.test(x)), 10_000, what);
    const audit = async () => ((await (await fetch(`${t.url}/incidents/1/audit`)).json()) as { events: AuditEvent[] }).events;

    beforeAll(async () => {
      s = await startAlertScene(await makeDriver(), { runbooks: { 'shop.yaml': RUNBOOK } });
      ({ chat, t, am } = s);
    }, 60_000);

    afterAll(() => s?.stop());

    it('expires a request pending when Alertmanager resolves the incident, and refuses approving it afterwards', async () => {
      const beforeFiring = Date.now();
      await am.fireAlerts([shopAlert]);
      card = await chat.waitFor(() => chat.cards()[0], 20_000, 'the incident card');
      await chat.press('alice', 'run-step:1:shop:restart', card, card);
      const request = await reply(/asks to run Restart shop/, 'the approval request');
      expect(request.buttonIds).toEqual(['approve:1', 'deny:1']);
      expect(chat.card(card.id)?.buttonIds).toContain('run-step:1:shop:restart');

      await am.resolveAlerts([shopAlert]);
      const resolution = await reply(/Incident #1 resolved after/, 'the resolution');
      const afterResolved = Date.now();
      // The card says resolved, with the duration from when the incident opened to when it was
      // resolved (as the store has them, within the test's own clock), and offers no changing step.
      const incident = await t.bot.engine.incident(1);
      expect(incident?.status).toBe('resolved');
      const opened = Date.parse(incident?.createdAt ?? '');
      const closed = Date.parse(incident?.resolvedAt ?? '');
      expect(opened).toBeGreaterThanOrEqual(beforeFiring - 1000);
      expect(closed).toBeLessThanOrEqual(afterResolved + 1000);
      expect(closed).toBeGreaterThan(opened);
      const duration = formatDuration(closed - opened);
      const resolvedCard = await chat.waitFor(() => {
        const now = chat.card(card.id);
        return now && /Resolved after/.test(now.text) ? now : undefined;
      }, 20_000, 'the card resolved');
      expect(resolvedCard.text).toContain(`Resolved after ${duration}`);
      expect(resolvedCard.text).toContain('✅');
      expect(resolution.text).toContain(`resolved after ${duration}`);
      expect(resolvedCard.buttonIds).not.toContain('run-step:1:shop:restart');
      expect(resolvedCard.menuIds).not.toContain('run-step:1:shop:restart');
      // The request itself is edited: its buttons go, and a line says why (no message of its own).
      const expired = await chat.waitFor(
        () => chat.replies(card).find((m) => m.id === request.id && m.buttonIds.length === 0 && /⌛ \d\d:\d\d:\d\d expired: incident #1 was resolved, so it will not run/.test(m.text)),
        10_000,
        'the request edited to its expiry',
      );
      expect(expired.text).toMatch(/asks to run Restart shop/);

      // bob is an approver (S0ONCALL), but the request is gone.
      await chat.press('bob', 'approve:1', request, card);
      await told('bob', /Restart shop" is already expired; nothing to approve/, 'the refusal');
      await new Promise((r) => setTimeout(r, 300));
      expect(fs.existsSync(file('restarted.txt'))).toBe(false);
      const kinds = (await audit()).map((e) => e.kind);
      expect(kinds).toContain('step.expired');
      expect(kinds).not.toContain('step.approved');
    });

    it('refuses a changing step requested on the resolved incident', async () => {
      await chat.press('alice', 'run-step:1:shop:restart', card, card);
      await told('alice', /Incident #1 is resolved, and "Restart shop" changes a system: it is not run after resolution/, 'the refusal of the button');
      const typed = await chat.command('alice', 'runbook', 'run shop restart --incident 1 --confirm');
      expect(typed.reply).toMatch(/Incident #1 is resolved, and "Restart shop" changes a system: it is not run after resolution/);
      expect((await audit()).filter((e) => e.kind === 'step.requested')).toHaveLength(1);
    });

    it('still runs a read-only step', async () => {
      await chat.press('alice', 'run-step:1:shop:check', card, card);
      await reply(/Check shop succeeded/, 'the read-only result');
      expect(fs.readFileSync(file('checked.txt'), 'utf8')).toBe('checked');
    });

    it('takes a step marked afterResolve only when the requester confirms', async () => {
      const unconfirmed = await chat.command('alice', 'runbook', 'run shop cleanup --incident 1');
      expect(unconfirmed.reply).toMatch(/To run it anyway, confirm: \/runbook run shop cleanup --confirm --incident 1/);
      const confirmed = await chat.command('alice', 'runbook', 'run shop cleanup --incident 1 --confirm');
      expect(confirmed.reply).toMatch(/Requested shop cleanup for incident #1/);
      const request = await reply(/asks to run Clean up/, 'the confirmed request');
      await chat.press('bob', request.buttonIds[0] ?? '', request, card);
      await reply(/Clean up succeeded/, 'the confirmed step result');
      expect(fs.readFileSync(file('cleaned.txt'), 'utf8')).toBe('cleaned');
    });

    it('expires a pending request when someone resolves the incident by hand', async () => {
      await am.fireAlerts([shopAlert]);
      const second = await chat.waitFor(() => chat.cards()[1], 20_000, 'the card of the incident firing again');
      await chat.press('alice', 'run-step:2:shop:restart', second, second);
      const request = await chat.waitFor(() => chat.replies(second).find((m) => /alice[\w ]* asks to run Restart shop/i.test(m.text)), 10_000, 'the request');
      const resolved = await chat.command('carol', 'incident', 'resolve 2 fixed by hand');
      expect(resolved.reply).toMatch(/#2/);
      await chat.waitFor(() => chat.replies(second).find((m) => /asks to run Restart shop[\s\S]*expired: incident #2 was resolved/.test(m.text)), 10_000, 'the expiry note');
      await chat.press('bob', request.buttonIds[0] ?? '', request, second);
      await told('bob', /Restart shop" is already expired/, 'the refusal');
      expect(fs.existsSync(file('restarted.txt'))).toBe(false);
    });
  });
});
