import { describe, expect, it } from 'vitest';
import { escapeHtml, formatMessage, html, safeHref } from '../../../src/bot/console/html.js';
import { cardHtml, incidentMain, layout, listMain, type Viewer } from '../../../src/bot/console/render.js';
import type { Card } from '../../../src/core/card.js';
import type { Incident } from '../../../src/core/domain.js';

const SCRIPT = '<script>alert(1)</script>';
const ATTRIBUTE = '"><img src=x onerror=alert(1)>';
const SINGLE = "' onmouseover='alert(1)";
const HOSTILE = `${SCRIPT} ${ATTRIBUTE} ${SINGLE} \`x\` & *bold*`;

const viewer = (over: Partial<Viewer> = {}): Viewer => ({ user: 'alice', csrf: 'csrf-token', interactive: true, readOnlyReason: 'Read-only: test.', nonce: 'n0nce', ...over });

function hostileCard(): Card {
  return {
    incidentId: '7',
    title: `#7 ${HOSTILE}`,
    severity: 'critical',
    status: 'firing',
    statusLine: `Firing since ${HOSTILE}`,
    summary: HOSTILE,
    description: `${HOSTILE}\nsecond line`,
    fields: [{ label: `Label ${HOSTILE}`, value: HOSTILE }],
    links: [
      { label: `Runbook ${HOSTILE}`, url: 'javascript:alert(1)' },
      { label: 'Source', url: `https://prometheus.example/graph?g0.expr=up"><script>alert(1)</script>` },
      { label: 'Data', url: 'data:text/html,<script>alert(1)</script>' },
    ],
    steps: [{ title: HOSTILE, state: 'failed', detail: HOSTILE }],
    buttons: [
      {
        action: 'run-step',
        id: 'run-step:7:rb:restart',
        label: HOSTILE,
        value: 'run-step:7:rb:restart',
        style: 'danger',
        confirm: { title: `Run "${HOSTILE}"?`, text: HOSTILE, confirm: 'Request', deny: 'Cancel' },
      },
    ],
    fallbackText: HOSTILE,
  };
}

/**
 * No element or attribute that was not in the template: of the real tags (escaped text has no
 * `<`), none is a script or image, and outside quoted attribute values (escaped text has no `"`)
 * none has an event handler; no link is a javascript: or data: URL.
 */
function expectInert(out: string): void {
  // The empty icon is the template's own (it spares the browser a /favicon.ico request).
  for (const tag of (out.match(/<[A-Za-z][^>]*>/g) ?? []).filter((t) => t !== '<link rel="icon" href="data:,">')) {
    expect(tag).not.toMatch(/^<(script|img|iframe|svg|object)\b/i);
    expect(tag.replace(/"[^"]*"/g, '""')).not.toMatch(/\s(on\w+|style|src)\s*=/i);
    expect(tag).not.toMatch(/href="\s*(javascript|data):/i);
  }
  expect(out).not.toContain('<script>alert');
  expect(out).not.toContain("' onmouseover='");
}

describe('console HTML escaping', () => {
  it('escapes the characters that could open a tag or leave an attribute', () => {
    expect(escapeHtml(`<a href="x" title='y'>&\``)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;');
  });

  it('escapes every interpolation of the html template, but not nested templates', () => {
    const inner = html`<b>${SCRIPT}</b>`;
    const out = html`<p title="${ATTRIBUTE}">${SCRIPT}${inner}${[SCRIPT, inner]}${undefined}${false}${3}</p>`.value;
    expect(out).toBe(
      '<p title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">&lt;script&gt;alert(1)&lt;/script&gt;<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>&lt;script&gt;alert(1)&lt;/script&gt;<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>3</p>',
    );
  });

  it('turns the core markup into tags without letting message text add any', () => {
    expect(formatMessage('🙋 alice asks to run *Restart <b>shop</b>* now').value).toBe('🙋 alice asks to run <strong>Restart &lt;b&gt;shop&lt;/b&gt;</strong> now');
    expect(formatMessage('output:\n```\n<script>alert(1)</script>\n```').value).toBe('output:\n<pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre>');
    expect(formatMessage('run `rm -rf "<x>"` now').value).toBe('run <code>rm -rf &quot;&lt;x&gt;&quot;</code> now');
    expectInert(formatMessage(HOSTILE).value);
  });

  it('links only http(s) URLs', () => {
    expect(safeHref('javascript:alert(1)')).toBeUndefined();
    expect(safeHref('JaVaScRiPt:alert(1)')).toBeUndefined();
    expect(safeHref('data:text/html,x')).toBeUndefined();
    expect(safeHref('not a url')).toBeUndefined();
    expect(safeHref('https://grafana.example/d/x?a=1&b=2')).toBe('https://grafana.example/d/x?a=1&b=2');
  });

  it('renders a card made of hostile alert text as inert text', () => {
    const out = cardHtml(viewer(), hostileCard()).value;
    expectInert(out);
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    // The javascript: and data: links are shown as text, never as links; the https one is a link with its quote escaped.
    expect(out).toContain('<code>javascript:alert(1)</code>');
    expect(out).toContain('href="https://prometheus.example/graph?g0.expr=up%22%3E%3Cscript%3Ealert(1)%3C/script%3E"');
    // The button is a form whose hidden fields and confirmation carry the text escaped.
    expect(out).toContain('<input type="hidden" name="buttonId" value="run-step:7:rb:restart">');
    expect(out).toMatch(/data-confirm="Run &quot;&lt;script&gt;/);
    expect(out).toContain('class="danger"');
  });

  it('renders hostile names, thread messages and private messages inert', () => {
    const incidentView = {
      card: hostileCard(),
      thread: { kind: 'thread' as const, replies: [{ id: 1, createdAt: '2026-11-22T01:00:00Z', sentAt: null, message: { text: HOSTILE, buttons: hostileCard().buttons } }] },
      privateMessages: [{ id: 1, at: '2026-11-22T01:00:00Z', text: HOSTILE, incidentId: '7' }],
    };
    const page = layout(viewer({ user: `alice${ATTRIBUTE}` }), hostileCard().title, incidentMain(viewer(), incidentView), { incidentId: '7' }).value;
    expectInert(page.replace(/<script nonce="n0nce">[\s\S]*?<\/script>/, ''));
    expect(page.match(/<script/g)).toHaveLength(1);
    expect(page).toContain('<title>#7 &lt;script&gt;');

    const incident = { id: 9, title: HOSTILE, severity: 'warning', status: 'firing', createdAt: '2026-11-22T01:00:00Z' } as Incident;
    expectInert(listMain(viewer(), { open: [incident], recent: [], privateMessages: [] }).value);
  });

  it('shows escalation mentions as plain names (escaped), never as ping syntax', () => {
    const mentions = [
      { platform: 'slack', kind: 'group' as const, id: 'S0ONCALL', name: `oncall${SCRIPT}` },
      { platform: 'discord', kind: 'role' as const, id: '987654321098765432' },
    ];
    const main = incidentMain(viewer(), {
      card: hostileCard(),
      thread: { kind: 'thread', replies: [{ id: 1, createdAt: '2026-11-22T01:00:00Z', sentAt: null, message: { text: '⏰ Escalation 1', mentions } }] },
      privateMessages: [],
    }).value;
    expect(main).toContain('⏰ Escalation 1 · calling: @oncall&lt;script&gt;alert(1)&lt;/script&gt; (slack group), @987654321098765432 (discord role)');
    expect(main).not.toContain('<!subteam');
    expect(main).not.toContain('<@&');
  });

  it('shows no buttons, forms or identity box when read-only', () => {
    const ro = viewer({ interactive: false });
    const main = incidentMain(ro, { card: hostileCard(), thread: { kind: 'activity', why: 'Read-only.', events: [] }, privateMessages: [] });
    const page = layout(ro, 'x', main).value;
    expect(page).not.toContain('<form');
    expect(page).not.toContain('<button');
    expect(page).toContain('data-live="poll"');
    expect(listMain(ro, { open: [], recent: [], privateMessages: [] }).value).not.toContain('sample-alert');
  });

  it('puts the nonce on its only script and style', () => {
    const page = layout(viewer(), 'x', html`<p>hi</p>`).value;
    expect(page).toContain('<script nonce="n0nce">');
    expect(page).toContain('<style nonce="n0nce">');
    expect(page).not.toMatch(/\sstyle="/);
    expect(page).not.toMatch(/<script src=/);
    // The only link element is the empty icon that spares the browser a /favicon.ico request.
    expect(page.match(/<link [^>]*>/g)).toEqual(['<link rel="icon" href="data:,">']);
  });
});

describe('console card with a "More steps" menu', () => {
  const step = (id: string, danger = false): Card['buttons'][number] => ({
    action: 'run-step',
    id: `run-step:7:rb:${id}`,
    label: `Step ${id}`,
    value: `run-step:7:rb:${id}`,
    ...(danger ? { style: 'danger' as const, confirm: { title: `Run "Step ${id}"?`, text: 'This changes a system.', confirm: 'Request', deny: 'Cancel' } } : {}),
  });
  const card: Card = {
    ...hostileCard(),
    buttons: [{ action: 'ack', id: 'ack:7', label: 'Acknowledge', value: 'ack:7', style: 'primary' }, step('a'), step('b'), step('c')],
    menu: { label: 'More steps', options: [step('d'), step('e', true), { ...step('f'), label: HOSTILE }] },
  };
  const pressIds = (fragment: string) => [...fragment.matchAll(/name="buttonId" value="([^"]+)"/g)].map((m) => m[1]);

  it('shows the primary buttons, then a closed disclosure of the other steps posting to the same press route', () => {
    const out = cardHtml(viewer(), card).value;
    const [buttons, menu] = out.split('<details');
    expect(pressIds(buttons ?? '')).toEqual(['ack:7', 'run-step:7:rb:a', 'run-step:7:rb:b', 'run-step:7:rb:c']);
    expect(menu).toMatch(/^ class="more-steps" id="more-steps"><summary>More steps \(3\)<\/summary>/);
    expect(pressIds(menu ?? '')).toEqual(['run-step:7:rb:d', 'run-step:7:rb:e', 'run-step:7:rb:f']);
    // Every option is a press form with the session's form token, like the buttons.
    expect((menu ?? '').match(/<form method="post" action="\/console\/press"/g)).toHaveLength(3);
    expect((menu ?? '').match(/name="csrf" value="csrf-token"/g)).toHaveLength(3);
    expectInert(out);
  });

  it('keeps a changing step in the menu red and asking for confirmation, as its button would', () => {
    const menu = cardHtml(viewer(), card).value.split('<details')[1] ?? '';
    expect(menu).toContain('data-confirm="Run &quot;Step e&quot;? This changes a system."');
    expect(menu).toContain('<button type="submit" class="danger" data-button-id="run-step:7:rb:e">Step e</button>');
  });

  it('shows no menu when read-only, and none when every step fits', () => {
    expect(cardHtml(viewer({ interactive: false }), card).value).not.toContain('<details');
    const { menu: _, ...fits } = card;
    expect(cardHtml(viewer(), fits).value).not.toContain('<details');
  });
});
