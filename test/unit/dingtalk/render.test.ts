import { describe, expect, it } from 'vitest';
import { renderCard, type StandardContent } from '../../../src/bot/dingtalk/render.js';
import type { Card, CardButton } from '../../../src/core/card.js';

const step = (id: string, danger = false): CardButton => ({ action: 'run-step', id: `run-step:7:rb:${id}`, label: `Step ${id}`, value: `run-step:7:rb:${id}`, ...(danger ? { style: 'danger' as const } : {}) });

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
  menu: { label: 'More steps', options: ['d', 'e', 'f', 'g', 'h'].map((id) => step(id, id === 'e')) },
  fallbackText: 'x',
};

const ids = (contents: StandardContent[]) => contents.flatMap((c) => (c.type === 'action' ? c.actions.map((a) => a.id) : []));

describe('DingTalk card with a "More steps" menu', () => {
  it('shows the menu as rows of buttons of its own under a divider and a "More steps" line (StandardCard has no select)', () => {
    const { contents } = renderCard(card);
    const divider = contents.findIndex((c) => c.type === 'divider');
    expect(ids(contents.slice(0, divider))).toEqual(['ack:7', 'run-step:7:rb:a', 'run-step:7:rb:b', 'run-step:7:rb:c']);
    expect(contents[divider + 1]).toEqual({ type: 'markdown', id: 'more-steps', text: '**More steps**' });
    expect(contents.slice(divider + 2).map((c) => (c.type === 'action' ? c.actions.length : 0))).toEqual([4, 1]);
    expect(ids(contents.slice(divider))).toEqual(['d', 'e', 'f', 'g', 'h'].map((id) => `run-step:7:rb:${id}`));
    const e = contents.flatMap((c) => (c.type === 'action' ? c.actions : [])).find((a) => a.id === 'run-step:7:rb:e');
    expect(e?.status).toBe('warning');
  });

  it('keeps to 24 buttons in all and counts the steps left out', () => {
    const many: Card = { ...card, menu: { label: 'More steps', options: Array.from({ length: 30 }, (_, i) => step(`s${i}`)) } };
    const { contents } = renderCard(many);
    expect(ids(contents)).toHaveLength(24);
    expect((contents[0] as { text: string }).text).toContain('10 more steps not shown.');
  });
});
