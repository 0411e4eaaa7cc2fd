import { describe, expect, it } from 'vitest';
import { pressFromCardAction } from '../../../src/bot/feishu/callbacks.js';
import { FEISHU_LIMITS, renderCard } from '../../../src/bot/feishu/render.js';
import type { Card, CardButton } from '../../../src/core/card.js';

const step = (id: string, danger = false): CardButton => ({
  action: 'run-step',
  id: `run-step:7:rb:${id}`,
  label: `Step ${id}`,
  value: `run-step:7:rb:${id}`,
  ...(danger ? { style: 'danger' as const, confirm: { title: `Run "Step ${id}"?`, text: 'This changes a system.', confirm: 'Request', deny: 'Cancel' } } : {}),
});

const card: Card = {
  incidentId: '7',
  title: '#7 GitCortexDown on gitcortex',
  severity: 'critical',
  status: 'firing',
  statusLine: 'Firing since 01:37 UTC',
  fields: [],
  links: [],
  steps: [],
  buttons: [{ action: 'ack', id: 'ack:7', label: 'Acknowledge', value: 'ack:7', style: 'primary' }, step('a'), step('b'), step('c')],
  menu: { label: 'More steps', options: [step('d'), step('e', true), { ...step('f'), label: 'L'.repeat(300) }] },
  fallbackText: 'x',
};

type Element = { tag: string; actions?: Array<Record<string, unknown>> };

describe('Feishu card with a "More steps" menu', () => {
  const elements = renderCard(card).elements as Element[];

  it('shows the primary buttons in one action module and the menu as a select_static in its own', () => {
    const modules = elements.filter((e) => e.tag === 'action');
    expect(modules.map((m) => m.actions?.map((a) => a.tag))).toEqual([['button', 'button', 'button', 'button'], ['select_static']]);
    const select = modules[1]?.actions?.[0] as { placeholder: unknown; value: unknown; options: Array<{ text: { tag: string; content: string }; value: string }> };
    expect(select.placeholder).toEqual({ tag: 'plain_text', content: 'More steps' });
    expect(select.value).toEqual({ menu: 'more-steps' });
    expect(select.options.map((o) => o.value)).toEqual(['run-step:7:rb:d', 'run-step:7:rb:e', 'run-step:7:rb:f']);
    expect(select.options[1]?.text).toEqual({ tag: 'plain_text', content: '⚠️ Step e' });
    expect([...(select.options[2]?.text.content ?? '')]).toHaveLength(FEISHU_LIMITS.optionText);
  });

  it('reads a choice in the menu as the press of the button it stands for, and a button as before', () => {
    const choice = { event_id: 'e1', operator: { open_id: 'ou_alice' }, action: { tag: 'select_static', value: { menu: 'more-steps' }, option: 'run-step:7:rb:e' }, context: { open_message_id: 'om_1', open_chat_id: 'oc_1' } };
    expect(pressFromCardAction(choice, 'oc_default')).toEqual({ kind: 'press', eventId: 'e1', press: { userId: 'ou_alice', channel: 'oc_1', threadId: 'om_1', buttonId: 'run-step:7:rb:e' } });
    const press = { ...choice, action: { tag: 'button', value: { button: 'ack:7' } } };
    expect(pressFromCardAction(press, 'oc_default')).toMatchObject({ kind: 'press', press: { buttonId: 'ack:7' } });
    expect(pressFromCardAction({ ...choice, action: { tag: 'select_static', value: { menu: 'more-steps' } } }, 'oc_default')).toEqual({ kind: 'invalid', reason: 'not a button of ours' });
  });
});
