import { ComponentType, type APIButtonComponentWithCustomId, type APIStringSelectComponent } from 'discord-api-types/v10';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DISCORD_LIMITS as L, joinLines, truncate } from '../../../src/bot/discord/limits.js';
import { toDiscordMarkdown, truncateMarkdown } from '../../../src/bot/discord/markdown.js';
import { RESOLVED_COLOUR, SEVERITY_COLOUR, embedSize, renderCard, renderThreadMessage, threadName, type DiscordMessageBody } from '../../../src/bot/discord/render.js';
import type { Card, CardButton } from '../../../src/core/card.js';
import { INJECTION, STATES, buttons, pathologicalCard } from './cards.js';

/** Every Discord limit the renderer promises, checked on a rendered body. */
function expectWithinLimits(body: DiscordMessageBody): void {
  expect(body.allowed_mentions).toEqual({ parse: [] });
  expect(body.embeds?.length ?? 0).toBeLessThanOrEqual(10);
  let total = 0;
  for (const e of body.embeds ?? []) {
    expect(e.title?.length ?? 0).toBeLessThanOrEqual(L.embedTitle);
    expect(e.description?.length ?? 0).toBeLessThanOrEqual(L.embedDescription);
    expect(e.footer?.text.length ?? 0).toBeLessThanOrEqual(L.footerText);
    expect(e.fields?.length ?? 0).toBeLessThanOrEqual(L.embedFields);
    for (const f of e.fields ?? []) {
      expect(f.name.length).toBeGreaterThan(0);
      expect(f.name.length).toBeLessThanOrEqual(L.fieldName);
      expect(f.value.length).toBeGreaterThan(0);
      expect(f.value.length).toBeLessThanOrEqual(L.fieldValue);
    }
    total += embedSize(e);
  }
  expect(total).toBeLessThanOrEqual(L.embedsTotal);
  if (body.content !== undefined) {
    expect(body.content.length).toBeGreaterThan(0);
    expect(body.content.length).toBeLessThanOrEqual(L.content);
  }
  expect(body.components.length).toBeLessThanOrEqual(L.actionRows);
  const ids = new Set<string>();
  for (const row of body.components) {
    expect(row.type).toBe(1);
    expect(row.components.length).toBeGreaterThan(0);
    expect(row.components.length).toBeLessThanOrEqual(L.buttonsPerRow);
    for (const b of row.components) {
      if (b.type === ComponentType.StringSelect) {
        // A select fills its row alone: 1–25 options with unique values, texts within 100.
        expect(row.components).toHaveLength(1);
        expect(ids.has(b.custom_id)).toBe(false);
        ids.add(b.custom_id);
        expect(b.options.length).toBeGreaterThan(0);
        expect(b.options.length).toBeLessThanOrEqual(L.selectOptions);
        expect(new Set(b.options.map((o) => o.value)).size).toBe(b.options.length);
        for (const o of b.options) {
          for (const text of [o.label, o.value, o.description ?? 'x']) expect(text.length).toBeGreaterThan(0);
          for (const text of [o.label, o.value, o.description ?? '']) expect(text.length).toBeLessThanOrEqual(L.selectOptionText);
        }
        continue;
      }
      expect(b.type).toBe(2);
      expect(b.custom_id.length).toBeGreaterThan(0);
      expect(b.custom_id.length).toBeLessThanOrEqual(L.customId);
      expect(ids.has(b.custom_id)).toBe(false);
      ids.add(b.custom_id);
      expect(b.label?.length ?? 0).toBeGreaterThan(0);
      expect(b.label?.length ?? 0).toBeLessThanOrEqual(L.buttonLabel);
    }
  }
}

const components = (body: DiscordMessageBody) => body.components.flatMap((r): Array<APIButtonComponentWithCustomId | APIStringSelectComponent> => r.components);
const allButtons = (body: DiscordMessageBody) => components(body).filter((c): c is APIButtonComponentWithCustomId => c.type === ComponentType.Button);
const selects = (body: DiscordMessageBody) => components(body).filter((c): c is APIStringSelectComponent => c.type === ComponentType.StringSelect);

describe('renderCard on a pathological card', () => {
  const card = pathologicalCard();
  const body = renderCard(card);
  const embed = body.embeds?.[0];

  it('stays within every Discord limit, per element and 6,000 characters in total', () => {
    expect(body.embeds).toHaveLength(1);
    expectWithinLimits(body);
    expect(embedSize(embed!)).toBeGreaterThan(5000); // it shrank to fit rather than dropping everything
  });

  it('shows the first 24 buttons in 5 rows and a note field for the rest', () => {
    const shown = allButtons(body);
    expect(shown.map((b) => b.custom_id)).toEqual(card.buttons.slice(0, 24).map((b) => b.id));
    expect(body.components.map((r) => r.components.length)).toEqual([5, 5, 5, 5, 4]);
    const note = embed?.fields?.find((f) => f.name === 'More steps');
    expect(note?.value).toContain('56 more steps not shown');
    expect(embed?.fields).toHaveLength(25);
  });

  it('maps styles (danger 4 with a warning sign, primary 1, else secondary 2) and cuts labels to 80', () => {
    const [danger, primary, plain] = allButtons(body);
    expect(danger).toMatchObject({ style: 4 });
    expect(danger?.label?.startsWith('⚠️ ')).toBe(true);
    expect(primary).toMatchObject({ style: 1 });
    expect(primary?.label?.startsWith('⚠️')).toBe(false);
    expect(plain).toMatchObject({ style: 2 });
    expect(danger?.label).toHaveLength(80);
    expect(danger?.label?.endsWith('…')).toBe(true);
  });

  it('says how many fields were left out when the card has more than fit', () => {
    const more = embed?.fields?.find((f) => f.name === 'More fields');
    // 25 fields: links, steps and the buttons note leave 22; 21 card fields and this note.
    expect(more?.value).toBe('19 more fields not shown.');
    expect(embed?.fields?.filter((f) => f.name.startsWith('Field '))).toHaveLength(21);
  });

  it('links only usable URLs as markdown links with escaped labels', () => {
    const links = embed?.fields?.find((f) => f.name === 'Links')?.value ?? '';
    expect(links.startsWith('[Dashboard ')).toBe(true);
    expect(links).toContain('](https://grafana.example/d/abc?var-instance=a:1&from=now-1h)');
    expect(links).not.toMatch(/\(1\)|a b|aaaaaaaaaa|javascript/);
    // The label's own brackets cannot close the link early.
    expect(links).toContain('\\[click\\]');
  });

  it('lists step states in a field, whole lines and a count of the rest', () => {
    const steps = embed?.fields?.find((f) => f.name === 'Steps')?.value ?? '';
    expect(steps.split('\n')[0]).toMatch(/^🙋 \*\*Step 0 t+/);
    expect(steps).toMatch(/…and \d+ more$/);
  });

  it('makes alert text literal: no mentions, masked links or formatting from alerts', () => {
    const texts = [embed?.title, embed?.description, ...(embed?.fields ?? []).flatMap((f) => [f.name, f.value])].join('\n');
    expect(texts).not.toMatch(/@everyone|@here/);
    expect(texts).not.toMatch(/(?<!\\)<@/);
    expect(texts).not.toMatch(/(?<!\\)\[click/);
    expect(embed?.description).toContain('@\u200beveryone @\u200bhere \\<@123456789012345678\\> \\<@&987654321098765432\\> \\<#111\\> \\[click\\](https://evil.example) \\*\\*bold\\*\\* \\`code\\` \\|\\|spoiler\\|\\|');
    expect(embed?.description?.startsWith('**Firing since 2026-11-22 01:37 UTC @\u200beveryone')).toBe(true);
  });

  it('keeps the renderer total within 6,000 with thousands of buttons and huge link labels', () => {
    const huge = renderCard({ ...card, buttons: buttons(2000, 'Go'), links: Array.from({ length: 50 }, (_, i) => ({ label: 'x'.repeat(300), url: `https://g.example/${i}` })) });
    expectWithinLimits(huge);
    expect(allButtons(huge)).toHaveLength(24);
  });
});

describe('renderCard colours, ids and small cards', () => {
  const minimal: Card = { incidentId: '2', title: 'HighLatency on gitcortex', severity: 'warning', status: 'firing', statusLine: 'Firing since 01:37 UTC', fields: [], links: [], steps: [], buttons: [], fallbackText: 'x' };

  it('colours by severity, green once resolved', () => {
    for (const severity of ['critical', 'warning', 'info', 'none'] as const) {
      expect(renderCard({ ...minimal, severity }).embeds?.[0]?.color).toBe(SEVERITY_COLOUR[severity]);
    }
    expect(SEVERITY_COLOUR).toEqual({ critical: 0xe01e5a, warning: 0xecb22e, info: 0x36c5f0, none: 0x95a5a6 });
    expect(renderCard({ ...minimal, severity: 'critical', status: 'resolved' }).embeds?.[0]?.color).toBe(RESOLVED_COLOUR);
  });

  it('renders a minimal card with no fields and empty components (an update clears old buttons)', () => {
    const body = renderCard(minimal);
    expectWithinLimits(body);
    expect(body.components).toEqual([]);
    expect(body.embeds?.[0]).toMatchObject({ title: '🟠 HighLatency on gitcortex', description: '**Firing since 01:37 UTC**', footer: { text: 'Incident 2 · firing' } });
    expect(body.embeds?.[0]?.fields).toBeUndefined();
  });

  it('shows exactly 25 buttons without a note, and skips ids that are too long or repeated', () => {
    expect(allButtons(renderCard({ ...minimal, buttons: buttons(25) }))).toHaveLength(25);
    expect(renderCard({ ...minimal, buttons: buttons(25) }).embeds?.[0]?.fields).toBeUndefined();
    const bad: CardButton[] = [
      { action: 'run-step', id: 'x'.repeat(101), label: 'too long', value: '' },
      { action: 'run-step', id: 'dup', label: 'one', value: '' },
      { action: 'run-step', id: 'dup', label: 'two', value: '' },
      { action: 'run-step', id: 'ok', label: '', value: '' },
    ];
    const body = renderCard({ ...minimal, buttons: bad });
    expectWithinLimits(body);
    expect(allButtons(body).map((b) => [b.custom_id, b.label])).toEqual([
      ['dup', 'one'],
      ['ok', 'ok'],
    ]);
    expect(body.embeds?.[0]?.fields?.[0]?.value).toContain('2 more steps not shown');
  });

  it('gives empty field values a dash (Discord refuses empty ones)', () => {
    const body = renderCard({ ...minimal, fields: [{ label: '', value: '  ' }] });
    expect(body.embeds?.[0]?.fields).toEqual([{ name: '—', value: '—', inline: true }]);
  });

  it('names the thread after the title: one line, at most 100 characters', () => {
    expect(threadName({ incidentId: '3', title: 'Disk\nfull   on db-1' })).toBe('Disk full on db-1');
    expect(threadName({ incidentId: '3', title: 'x'.repeat(300) })).toHaveLength(100);
    expect(threadName({ incidentId: '3', title: '  ' })).toBe('Incident 3');
  });

  it('stays within limits for any card (property)', () => {
    const text = fc.string({ maxLength: 1500, unit: 'binary' });
    const arbCard = fc.record({
      title: text,
      statusLine: text,
      summary: fc.option(text, { nil: undefined }),
      description: fc.option(fc.string({ maxLength: 8000 }), { nil: undefined }),
      fields: fc.array(fc.record({ label: text, value: text }), { maxLength: 40 }),
      steps: fc.array(fc.record({ title: text, state: fc.constantFrom(...STATES), detail: fc.option(text, { nil: undefined }) }), { maxLength: 30 }),
      links: fc.array(fc.record({ label: text, url: fc.webUrl() }), { maxLength: 20 }),
      nButtons: fc.nat({ max: 60 }),
      severity: fc.constantFrom('critical' as const, 'warning' as const, 'info' as const, 'none' as const),
    });
    fc.assert(
      fc.property(arbCard, (c) => {
        const { nButtons, ...rest } = c;
        const body = renderCard({ ...minimal, ...rest, buttons: buttons(nButtons, 'Go') });
        expectWithinLimits(body);
      }),
      { numRuns: 40 },
    );
  });
});

describe('renderCard with a "More steps" menu', () => {
  const minimal: Card = { incidentId: '2', title: 'GitCortexDown on gitcortex', severity: 'critical', status: 'firing', statusLine: 'Firing since 01:37 UTC', fields: [], links: [], steps: [], buttons: [], fallbackText: 'x' };
  const withMenu = (n: number, label = 'Go'): Card => ({ ...minimal, buttons: buttons(4, 'Go'), menu: { label: 'More steps', options: buttons(n + 4, label).slice(4) } });

  it('puts the menu in an action row of its own after the buttons: a string select whose values are the button ids', () => {
    const body = renderCard(withMenu(13));
    expectWithinLimits(body);
    expect(body.components.map((r) => r.components.map((c) => c.type))).toEqual([[2, 2, 2, 2], [3]]);
    const [menu] = selects(body);
    expect(menu).toMatchObject({ type: 3, custom_id: 'more-steps', placeholder: 'More steps' });
    expect(menu?.options.map((o) => o.value)).toEqual(buttons(17).slice(4).map((b) => b.id));
    expect(body.embeds?.[0]?.fields).toBeUndefined();
  });

  it('marks a changing step\'s option with the warning sign its button has, and says it asks for approval', () => {
    // Of buttons(…), every third is a changing step: the menu's third and fourth options are buttons 6 and 7.
    const card = withMenu(4, 'R'.repeat(200));
    const [, , danger, plain] = selects(renderCard(card))[0]?.options ?? [];
    expect(danger?.label.startsWith('⚠️ R')).toBe(true);
    expect(danger?.label).toHaveLength(L.selectOptionText);
    expect(danger?.description).toBe(truncate(card.menu?.options[2]?.confirm?.text ?? '', L.selectOptionText));
    expect(plain?.label.startsWith('⚠️')).toBe(false);
    expect(plain).not.toHaveProperty('description');
  });

  it('fills the rows the buttons leave with selects of 25 and notes the options left over', () => {
    const body = renderCard(withMenu(120));
    expectWithinLimits(body);
    expect(selects(body).map((s) => [s.custom_id, s.placeholder, s.options.length])).toEqual([
      ['more-steps', 'More steps (1)', 25],
      ['more-steps:2', 'More steps (2)', 25],
      ['more-steps:3', 'More steps (3)', 25],
      ['more-steps:4', 'More steps (4)', 25],
    ]);
    expect(body.embeds?.[0]?.fields?.find((f) => f.name === 'More steps')?.value).toContain('20 more steps not shown');
  });

  it('leaves out options whose id is unusable or already a button', () => {
    const card: Card = { ...minimal, buttons: buttons(1), menu: { label: 'More steps', options: [...buttons(1), { action: 'run-step', id: 'x'.repeat(101), label: 'long', value: '' }, ...buttons(3).slice(2)] } };
    const body = renderCard(card);
    expectWithinLimits(body);
    expect(selects(body)[0]?.options.map((o) => o.value)).toEqual([buttons(3)[2]?.id]);
  });
});

describe('renderThreadMessage', () => {
  it('converts Slack-style *bold* to **bold**, single-asterisk pairs only, and leaves code alone', () => {
    const text = '▶️ Started *Restart GitCortex*: a*b*c, 2 * 3 * 4, **kept**, `*inline*`\n```\n*not bold* in output\n```\n*after*';
    const { content } = renderThreadMessage({ text });
    expect(content).toBe('▶️ Started **Restart GitCortex**: a*b*c, 2 * 3 * 4, **kept**, `*inline*`\n```\n*not bold* in output\n```\n**after**');
  });

  it('always sends allowed_mentions with nothing parsed, and defuses mass mentions and links in the text', () => {
    const body = renderThreadMessage({ text: `🚨 Incident #1 opened: ${INJECTION}` });
    expect(body.allowed_mentions).toEqual({ parse: [] });
    expect(body.content).toBe(
      '🚨 Incident #1 opened: @\u200beveryone @\u200bhere \\<@123456789012345678> \\<@&987654321098765432> \\<#111> \\[click\\](https://evil.example) **bold** `code` ||spoiler||',
    );
    expect(body.components).toEqual([]);
  });

  it('bounds 10k characters to 2,000 and closes a code block the cut left open', () => {
    const long = renderThreadMessage({ text: `✅ *Backup* succeeded: ok\n\`\`\`\n${'line\n'.repeat(3000)}\`\`\`` });
    expectWithinLimits(long);
    expect(long.content?.endsWith('…\n```')).toBe(true);
    expect((long.content?.split('```').length ?? 0) % 2).toBe(1);
    const plain = renderThreadMessage({ text: 'y'.repeat(10_000) });
    expect(plain.content).toHaveLength(2000);
    expect(plain.content?.endsWith('…')).toBe(true);
  });

  it('renders approval buttons within 5 rows of 5, noting the ones left out in the text', () => {
    const two = renderThreadMessage({ text: '🙋 asks to run *Restore*', buttons: buttons(2, 'Approve') });
    expectWithinLimits(two);
    expect(allButtons(two).map((b) => b.style)).toEqual([4, 1]);
    const many = renderThreadMessage({ text: 'z'.repeat(10_000), buttons: buttons(80) });
    expectWithinLimits(many);
    expect(allButtons(many)).toHaveLength(24);
    expect(many.content?.endsWith('(56 more options not shown: Discord allows 25 buttons on a message.)')).toBe(true);
  });

  it('never sends empty content', () => {
    expect(renderThreadMessage({ text: '' }).content).toBe('…');
  });
});

describe('text helpers', () => {
  it('truncate never splits a surrogate pair and marks the cut', () => {
    expect(truncate('ab😀cd', 4)).toBe('ab…');
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abcd', 3)).toBe('ab…');
  });

  it('joinLines keeps whole lines and counts the rest', () => {
    expect(joinLines(['aaa', 'bbb', 'ccc'], 100)).toBe('aaa\nbbb\nccc');
    expect(joinLines(['aaaa', 'bbbb', 'cccc', 'dddd'], 16)).toBe('aaaa\n…and 3 more');
    expect(joinLines(['x'.repeat(50), 'y'], 30)).toBe(`${'x'.repeat(17)}…\n…and 1 more`);
    for (let max = 1; max < 40; max++) expect(joinLines(['aaaa', 'bbbb', 'cccc'], max).length).toBeLessThanOrEqual(max);
  });

  it('toDiscordMarkdown leaves an unclosed fence alone to the end', () => {
    expect(toDiscordMarkdown('*a* ```\n*b*')).toBe('**a** ```\n*b*');
    expect(truncateMarkdown('```\n' + 'x'.repeat(100), 50)).toMatch(/…\n```$/);
    expect(truncateMarkdown('```\n' + 'x'.repeat(100), 50).length).toBeLessThanOrEqual(50);
  });
});
