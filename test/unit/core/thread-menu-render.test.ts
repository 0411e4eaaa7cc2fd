import { describe, expect, it } from 'vitest';
import { renderThreadMessage as renderSlack } from '../../../src/bot/slack/render.js';
import { renderThreadMessage as renderDiscord } from '../../../src/bot/discord/render.js';
import { renderReply as renderFeishu } from '../../../src/bot/feishu/render.js';
import { renderReply as renderDingTalk } from '../../../src/bot/dingtalk/render.js';
import { incidentMain, type Viewer } from '../../../src/bot/console/render.js';
import { makeButton } from '../../../src/core/button-codec.js';
import type { Card, CardMenu, ThreadMessage } from '../../../src/core/card.js';
import { validateBlocks } from '../../fakes/slack-block-kit.js';

/**
 * The menu of a thread message (which alert of a grouped incident a step is for) on every
 * platform: a select within the platform's option limit (Slack 100, Discord 25), the options'
 * values the ids of the choices they stand for, and a note saying how many more there are and the
 * command that chooses one of them. DingTalk, whose cards have no select, shows buttons.
 */
const REST = 'choose one by command: `/runbook run shop restart --incident 1 alert=host130:3001`';
function menu(n: number, total = n): CardMenu {
  const options = Array.from({ length: n }, (_, i) => makeButton({ action: 'pick', choiceId: i + 1 }, `instance=host${i + 1}:3001`));
  return { label: 'Choose the alert', options, total, rest: REST };
}
const message = (m: CardMenu): ThreadMessage => ({ text: '🎯 alice wants to run *Restart instance*: it runs for one alert of this group; choose which.', menu: m });

type Obj = Record<string, unknown>;

describe('a thread message with a menu of alerts', () => {
  it('is one Slack static_select of at most 100 options, valid Block Kit, with a note on the rest', () => {
    // The fake refuses a select of 101 options, as Slack does.
    expect(validateBlocks([{ type: 'actions', elements: [{ type: 'static_select', action_id: 'x', placeholder: { type: 'plain_text', text: 'x' }, options: Array.from({ length: 101 }, (_, i) => ({ text: { type: 'plain_text', text: `o${i}` }, value: `v${i}` })) }] }])).toMatchObject({ ok: false });
    const small = renderSlack(message(menu(3)));
    expect(validateBlocks(small.blocks)).toMatchObject({ ok: true });
    const select = (small.blocks ?? []).flatMap((b) => ((b as unknown as Obj).elements as Obj[] | undefined) ?? []).find((e) => e.type === 'static_select');
    expect(select?.action_id).toBe('choose');
    expect((select?.options as Array<{ value: string; text: { text: string } }>).map((o) => [o.value, o.text.text])).toEqual([
      ['pick:1', 'instance=host1:3001'],
      ['pick:2', 'instance=host2:3001'],
      ['pick:3', 'instance=host3:3001'],
    ]);
    expect(JSON.stringify(small.blocks)).not.toMatch(/more not in this menu/);

    const large = renderSlack(message(menu(100, 130)));
    expect(validateBlocks(large.blocks)).toMatchObject({ ok: true });
    const options = (large.blocks ?? []).flatMap((b) => ((b as unknown as Obj).elements as Obj[] | undefined) ?? []).flatMap((e) => (e.options as unknown[] | undefined) ?? []);
    expect(options).toHaveLength(100);
    expect(JSON.stringify(large.blocks)).toContain('30 more not in this menu (Slack shows 100); choose one by command: `/runbook run shop restart --incident 1 alert=host130:3001`');
  });

  it('is one Discord string select of at most 25 options, then how many more and the command', () => {
    const body = renderDiscord(message(menu(30)));
    const rows = body.components as unknown as Array<{ components: Obj[] }>;
    expect(rows).toHaveLength(1);
    const select = rows[0]?.components[0] as Obj;
    expect(select).toMatchObject({ type: 3, custom_id: 'choose', placeholder: 'Choose the alert' });
    const options = select.options as Array<{ value: string; label: string }>;
    expect(options).toHaveLength(25);
    expect(options[0]).toEqual({ label: 'instance=host1:3001', value: 'pick:1' });
    expect(body.content).toContain('5 more not in this menu (Discord shows 25); choose one by command:');
    expect((body.content ?? '').length).toBeLessThanOrEqual(2000);
    // 25 or fewer: no note.
    expect(renderDiscord(message(menu(25))).content).not.toMatch(/more not in this menu/);
  });

  it('is a Feishu select_static whose options carry the choice ids', () => {
    const card = renderFeishu(message(menu(3)).text, [], menu(3));
    const actions = (card.elements as Obj[]).filter((e) => e.tag === 'action').flatMap((e) => e.actions as Obj[]);
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ tag: 'select_static', value: { menu: 'choose' } });
    expect((actions[0]?.options as Array<{ value: string }>).map((o) => o.value)).toEqual(['pick:1', 'pick:2', 'pick:3']);
  });

  it('is buttons on DingTalk (no select there), as many as fit, and the note on the rest', () => {
    const card = renderDingTalk(message(menu(28)), 'Shop is down');
    const ids = card.contents.flatMap((c) => (c.type === 'action' ? c.actions.map((a) => a.id) : []));
    expect(ids).toHaveLength(24);
    expect(ids[0]).toBe('pick:1');
    const body = card.contents[0];
    expect(body?.type === 'markdown' ? body.text : '').toContain('4 more not in this menu \\(DingTalk shows 24 buttons\\); choose one by command');
  });

  it('is a <select> in the console thread, posted as a press of the chosen option', () => {
    const viewer: Viewer = { user: 'alice', csrf: 'csrf-token', interactive: true, readOnlyReason: '', nonce: 'n' };
    const card: Card = { incidentId: '1', title: 'Shop down', severity: 'critical', status: 'firing', statusLine: 'Firing', fields: [], links: [], steps: [], buttons: [], fallbackText: 'Shop down' };
    const page = incidentMain(viewer, { card, privateMessages: [], thread: { kind: 'thread', replies: [{ id: 9, createdAt: '2026-01-01T00:00:00.000Z', sentAt: null, message: message(menu(3)) }] } }).value;
    const form = /<form method="post" action="\/console\/press" class="press choose">[\s\S]*?<\/form>/.exec(page)?.[0] ?? '';
    expect(form).toContain('<select name="buttonId" required');
    expect([...form.matchAll(/<option value="(pick:\d+)">([^<]*)<\/option>/g)].map((m) => [m[1], m[2]])).toEqual([
      ['pick:1', 'instance=host1:3001'],
      ['pick:2', 'instance=host2:3001'],
      ['pick:3', 'instance=host3:3001'],
    ]);
    // Read-only: no form at all.
    expect(incidentMain({ ...viewer, interactive: false }, { card, privateMessages: [], thread: { kind: 'thread', replies: [{ id: 9, createdAt: '2026-01-01T00:00:00.000Z', sentAt: null, message: message(menu(3)) }] } }).value).not.toContain('<select');
  });
});
