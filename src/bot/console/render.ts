import { makeButton } from '../../core/button-codec.js';
import { cardIcon, menuRestNote, type Card, type CardButton, type CardMenu, STEP_STATE_ICON, stepStateText } from '../../core/card.js';
import type { AuditEvent, Incident } from '../../core/domain.js';
import { currentLocale, t } from '../../core/i18n/index.js';
import { formatStamp, formatTime } from '../../core/time.js';
import type { DeliveredReply } from '../../core/ports/store.js';
import { formatMessage, html, Html, safeHref } from './html.js';
import type { PrivateMessage } from './platform.js';
import type { RunnerStatus } from '../../core/use-cases.js';
import type { ChannelDigest } from '../../core/digest.js';
import { stormDigestsHtml } from './storm-digest.js';

/**
 * The console's pages: server-rendered HTML, one small inline script (allowed by its nonce), no
 * external assets. Every text from alerts, steps and users goes through the `html` template, which
 * escapes it.
 *
 * Over 300 lines: the stylesheet and the live-update script are inline here (the Content-Security-
 * Policy allows no external assets), beside the few templates they go with.
 */

/** What every page needs to know about who is looking and what they may do. */
export interface Viewer {
  user: string;
  /** The session's anti-forgery token, put into every form. */
  csrf: string;
  interactive: boolean;
  /** Why the console is read-only (shown on read-only pages). */
  readOnlyReason: string;
  nonce: string;
}


const STYLE = `
:root { color-scheme: light dark; --fg: #1d1c1d; --muted: #616061; --bg: #f8f8f8; --panel: #fff; --line: #ddd;
  --critical: #e01e5a; --warning: #ecb22e; --info: #36c5f0; --none: #95a5a6; --resolved: #2eb67d; --accent: #1264a3; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8e8e8; --muted: #a0a0a0; --bg: #1a1d21; --panel: #222529; --line: #3a3d42; --accent: #4da3ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; justify-content: space-between; padding: 10px 20px; border-bottom: 1px solid var(--line); background: var(--panel); }
header .brand a { font-weight: 700; color: var(--fg); text-decoration: none; }
header .mode { font-size: 12px; padding: 2px 8px; border-radius: 10px; border: 1px solid var(--line); color: var(--muted); margin-left: 8px; }
main { max-width: 980px; margin: 0 auto; padding: 16px 20px 48px; }
a { color: var(--accent); }
form { display: inline; margin: 0; }
.who { display: flex; gap: 6px; align-items: center; font-size: 14px; }
.who input[type=text] { width: 9em; padding: 3px 6px; border: 1px solid var(--line); border-radius: 4px; background: var(--panel); color: var(--fg); }
button, .btn { font: inherit; font-size: 14px; padding: 4px 12px; border-radius: 4px; border: 1px solid var(--line); background: var(--panel); color: var(--fg); cursor: pointer; }
button.primary { background: #007a5a; border-color: #007a5a; color: #fff; }
button.danger { background: var(--critical); border-color: var(--critical); color: #fff; }
button.small { font-size: 12px; padding: 2px 8px; }
.card { background: var(--panel); border: 1px solid var(--line); border-left: 6px solid var(--none); border-radius: 6px; padding: 14px 18px; margin: 12px 0 20px; }
.card.sev-critical { border-left-color: var(--critical); } .card.sev-warning { border-left-color: var(--warning); }
.card.sev-info { border-left-color: var(--info); } .card.resolved { border-left-color: var(--resolved); }
.card h1 { font-size: 20px; margin: 0 0 4px; }
.status-line { color: var(--muted); margin: 0 0 10px; }
.summary { font-weight: 600; margin: 6px 0; }
.description, .text { white-space: pre-wrap; overflow-wrap: anywhere; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 10px 0; }
dl.fields dt { color: var(--muted); } dl.fields dd { margin: 0; overflow-wrap: anywhere; }
ul.steps { list-style: none; padding: 0; margin: 10px 0; } ul.steps li { margin: 2px 0; }
.buttons { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 10px; }
.choose { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-top: 10px; }
details.more-steps { margin-top: 10px; } details.more-steps summary { cursor: pointer; color: var(--accent); }
.thread { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 6px 18px 14px; }
.thread h2 { font-size: 16px; }
.thread ol { list-style: none; padding: 0; margin: 0; }
.thread li { border-top: 1px solid var(--line); padding: 8px 0; }
.thread time, .muted { color: var(--muted); font-size: 12px; }
pre { background: rgba(127,127,127,.12); padding: 8px; border-radius: 4px; overflow-x: auto; white-space: pre-wrap; margin: 6px 0; }
code { background: rgba(127,127,127,.12); padding: 0 3px; border-radius: 3px; }
.flash { border: 1px solid var(--warning); background: rgba(236,178,46,.12); border-radius: 6px; padding: 8px 14px; margin: 10px 0; }
.flash ul { margin: 4px 0; padding-left: 18px; }
.storm-digest h2 { font-size: 16px; margin: 4px 0; } .storm-digest .digest-summary { margin: 4px 0; font-weight: 600; }
.notice { color: var(--muted); border: 1px dashed var(--line); border-radius: 6px; padding: 8px 14px; margin: 10px 0; }
table { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; font-size: 13px; }
.sev { display: inline-block; width: 10px; height: 10px; border-radius: 50%; background: var(--none); margin-right: 6px; }
.sev.sev-critical { background: var(--critical); } .sev.sev-warning { background: var(--warning); } .sev.sev-info { background: var(--info); }
.toolbar { display: flex; align-items: center; justify-content: space-between; gap: 12px; }
`;

/**
 * Live updates: the page listens to /console/stream and, when its incident (or, on the list, any
 * incident) changes, fetches its own fragment and swaps it in; read-only pages poll instead.
 * Changing steps ask for confirmation before the request is sent.
 */
const SCRIPT = `
(() => {
  const main = document.getElementById('main');
  const incident = document.body.dataset.incident || '';
  let timer;
  let trailing;
  let latest = 0;
  const load = async () => {
    const mine = ++latest;
    const url = new URL(location.href);
    url.searchParams.set('fragment', '1');
    try {
      const res = await fetch(url, { credentials: 'same-origin' });
      const text = res.ok ? await res.text() : undefined;
      const version = res.headers.get('x-console-version') || '';
      // An older answer arriving after a newer one must not put the page back; an unchanged one is
      // not swapped in (that would reset focus and selection for nothing).
      if (text === undefined || mine !== latest || (version && version === main.dataset.version)) return;
      // A menu the responder opened stays open across the swap.
      const open = [...main.querySelectorAll('details[open][id]')].map((d) => d.id);
      main.innerHTML = text;
      for (const id of open) document.getElementById(id)?.setAttribute('open', '');
      main.dataset.version = version;
    } catch (e) { /* the bot is restarting; the stream reconnects */ }
  };
  const refresh = () => {
    clearTimeout(timer);
    clearTimeout(trailing);
    timer = setTimeout(load, 100);
    trailing = setTimeout(load, 1500);
  };
  if (document.body.dataset.live === 'stream') {
    const stream = new EventSource('/console/stream');
    let opened = false;
    stream.addEventListener('update', (event) => {
      let data = {};
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (!incident || data.incidentId === incident || data.incidentId === '*') refresh();
    });
    // Whatever changed between rendering this page and (re)connecting was not streamed: fetch it once.
    stream.addEventListener('open', () => {
      if (opened) return refresh();
      opened = true;
      setTimeout(load, 0);
    });
  } else {
    setInterval(refresh, 10000);
  }
  document.addEventListener('submit', (event) => {
    const message = event.target && event.target.dataset ? event.target.dataset.confirm : undefined;
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
`;

export function layout(viewer: Viewer, title: string, main: Html, options: { incidentId?: string; back?: string; version?: string } = {}): Html {
  const back = options.back ?? '/';
  return html`<!doctype html>
<html lang="${currentLocale().locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>${t('console.pageTitle', { title })}</title>
<style nonce="${viewer.nonce}">${new Html(STYLE)}</style>
</head>
<body data-incident="${options.incidentId ?? ''}" data-live="${viewer.interactive ? 'stream' : 'poll'}">
<header>
  <div class="brand"><a href="/">${t('console.brand')}</a><span class="mode">${viewer.interactive ? t('console.mode.interactive') : t('console.mode.readOnly')}</span></div>
  ${viewer.interactive ? whoBox(viewer, back) : html`<span class="muted">${viewer.readOnlyReason}</span>`}
</header>
<main id="main" data-version="${options.version ?? ''}">${main}</main>
<script nonce="${viewer.nonce}">${new Html(SCRIPT)}</script>
</body>
</html>
`;
}

function hidden(name: string, value: string): Html {
  return html`<input type="hidden" name="${name}" value="${value}">`;
}

function whoBox(viewer: Viewer, back: string): Html {
  const quick = ['alice', 'bob'].filter((name) => name !== viewer.user);
  return html`<div class="who">
  <form method="post" action="/console/user">${hidden('csrf', viewer.csrf)}${hidden('back', back)}
    <label>${t('console.who.youAre')} <input type="text" name="user" value="${viewer.user}" required maxlength="32" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,31}" aria-label="${t('console.who.aria')}"></label>
    <button type="submit" class="small">${t('console.who.switch')}</button>
  </form>
  ${quick.map((name) => html`<form method="post" action="/console/user">${hidden('csrf', viewer.csrf)}${hidden('back', back)}${hidden('user', name)}<button type="submit" class="small">${t('console.who.be', { name })}</button></form>`)}
</div>`;
}

function pressForm(viewer: Viewer, button: CardButton, incidentId: string): Html {
  const style = button.style === 'danger' ? 'danger' : button.style === 'primary' ? 'primary' : '';
  const confirm = button.confirm ? `${button.confirm.title} ${button.confirm.text}` : undefined;
  return html`<form method="post" action="/console/press" class="press"${confirm ? html` data-confirm="${confirm}"` : ''}>${hidden('buttonId', button.id)}${hidden('user', viewer.user)}${hidden('incident', incidentId)}${hidden('csrf', viewer.csrf)}<button type="submit" class="${style}" data-button-id="${button.id}">${button.label}</button></form>`;
}

function buttonsHtml(viewer: Viewer, buttons: readonly CardButton[] | undefined, incidentId: string): Html | '' {
  if (!viewer.interactive || !buttons || buttons.length === 0) return '';
  return html`<div class="buttons">${buttons.map((b) => pressForm(viewer, b, incidentId))}</div>`;
}

/**
 * A thread message's menu (the alert a step is for) as a <select> posted like a button press: the
 * chosen option's value is the button id it stands for. A placeholder keeps the form from being
 * sent before something is chosen.
 */
function chooseHtml(viewer: Viewer, menu: CardMenu | undefined, incidentId: string): Html | '' {
  if (!viewer.interactive || !menu || menu.options.length === 0) return '';
  const note = menuRestNote(menu, menu.options.length, t('menu.why.console'));
  return html`<form method="post" action="/console/press" class="press choose">${hidden('user', viewer.user)}${hidden('incident', incidentId)}${hidden('csrf', viewer.csrf)}<label>${menu.label}: <select name="buttonId" required aria-label="${menu.label}"><option value="" disabled selected>choose…</option>${menu.options.map((b) => html`<option value="${b.id}">${b.label}</option>`)}</select></label><button type="submit" class="primary">Choose</button>${note ? html`<span class="muted">${note}</span>` : ''}</form>`;
}

/** The card's "More steps" menu: a disclosure of the same press forms, each keeping its confirmation. */
function menuHtml(viewer: Viewer, card: Card): Html | '' {
  if (!viewer.interactive || !card.menu || card.menu.options.length === 0) return '';
  return html`<details class="more-steps" id="more-steps"><summary>${card.menu.label} (${String(card.menu.options.length)})</summary>${buttonsHtml(viewer, card.menu.options, card.incidentId)}</details>`;
}

export function cardHtml(viewer: Viewer, card: Card): Html {
  const classes = `card sev-${card.severity}${card.status === 'resolved' ? ' resolved' : ''}`;
  return html`<article class="${classes}" id="card">
  <h1>${card.title}</h1>
  <p class="status-line">${cardIcon(card)} ${card.severity} · ${card.statusLine}</p>
  ${card.summary ? html`<p class="summary">${card.summary}</p>` : ''}
  ${card.description ? html`<p class="description">${card.description}</p>` : ''}
  <dl class="fields">${card.fields.map((f) => html`<dt>${f.label}</dt><dd>${f.value}</dd>`)}</dl>
  ${
    card.links.length > 0
      ? html`<p class="links">${card.links.map((l, i) => {
          const href = safeHref(l.url);
          return html`${i > 0 ? ' · ' : ''}${href ? html`<a href="${href}" rel="noopener noreferrer" target="_blank">${l.label}</a>` : html`${l.label}: <code>${l.url}</code>`}`;
        })}</p>`
      : ''
  }
  ${
    card.steps.length > 0
      ? html`<ul class="steps">${card.steps.map((s) => html`<li>${STEP_STATE_ICON[s.state]} <strong>${s.title}</strong> — ${stepStateText(s.state)}${s.detail ? html`: ${s.detail}` : ''}</li>`)}</ul>`
      : ''
  }
  ${buttonsHtml(viewer, card.buttons, card.incidentId)}
  ${menuHtml(viewer, card)}
</article>`;
}

function privateHtml(viewer: Viewer, messages: readonly PrivateMessage[], back: string): Html | '' {
  if (messages.length === 0) return '';
  return html`<section class="flash" id="private" aria-live="polite">
  <div class="toolbar"><strong>${t('console.private.only', { name: viewer.user })}</strong>
    <form method="post" action="/console/dismiss">${hidden('csrf', viewer.csrf)}${hidden('user', viewer.user)}${hidden('back', back)}<button type="submit" class="small">${t('console.private.dismiss')}</button></form></div>
  <ul>${messages.map((m) => html`<li><span class="text">${formatMessage(m.text)}</span> <time class="muted" datetime="${m.at}">${formatTime(m.at)}</time></li>`)}</ul>
</section>`;
}

/** Escalation targets as plain names: the console shows who was called and pings nobody. */
function mentionNames(mentions: DeliveredReply['message']['mentions']): string {
  if (!mentions?.length) return '';
  return t('console.calling', { names: mentions.map((m) => `@${m.name ?? m.id} (${m.platform} ${m.kind})`).join(t('list.separator')) });
}

export type ThreadView =
  | { kind: 'thread'; replies: readonly DeliveredReply[] }
  /** No console thread for this incident (read-only, or it opened before the console was on): its audit trail instead. */
  | { kind: 'activity'; events: readonly AuditEvent[]; why: string };

function threadHtml(viewer: Viewer, incidentId: string, view: ThreadView): Html {
  if (view.kind === 'activity') {
    return html`<section class="thread" id="thread">
  <h2>${t('console.activity')}</h2>
  <p class="muted">${view.why}</p>
  <ol>${view.events.map((e) => html`<li><time datetime="${e.at}">${formatStamp(e.at)}</time><div class="text">${formatMessage(e.text)}</div></li>`)}</ol>
</section>`;
  }
  return html`<section class="thread" id="thread">
  <h2>${t('console.thread')}</h2>
  ${view.replies.length === 0 ? html`<p class="muted">${t('console.thread.empty')}</p>` : ''}
  <ol>${view.replies.map(
    (r) => html`<li data-message="${r.id}"><time datetime="${r.sentAt ?? r.createdAt}">${formatStamp(r.sentAt ?? r.createdAt)}</time><div class="text">${formatMessage(r.message.text)}${mentionNames(r.message.mentions)}</div>${chooseHtml(viewer, r.message.menu, incidentId)}${buttonsHtml(viewer, r.message.buttons, incidentId)}</li>`,
  )}</ol>
</section>`;
}

export interface IncidentView {
  card: Card;
  thread: ThreadView;
  privateMessages: readonly PrivateMessage[];
}

/** The incident page's main part (also served alone, as the fragment live updates swap in). */
export function incidentMain(viewer: Viewer, view: IncidentView): Html {
  const id = view.card.incidentId;
  const back = `/console/incidents/${id}`;
  return html`<p class="muted"><a href="/">${t('console.back')}</a></p>
${privateHtml(viewer, view.privateMessages, back)}
${cardHtml(viewer, view.card)}
${resolveHtml(viewer, view.card)}
${threadHtml(viewer, id, view.thread)}
<p><a href="/incidents/${id}/audit">${t('console.auditLink')}</a></p>`;
}

/**
 * The console's own "Resolve" for a firing incident (as `/incident resolve` in Slack or Discord), so
 * a console user can end an incident nobody will resolve from Alertmanager, such as a sample alert.
 */
function resolveHtml(viewer: Viewer, card: Card): Html | '' {
  if (!viewer.interactive || card.status !== 'firing') return '';
  const button = makeButton({ action: 'resolve', incidentId: Number(card.incidentId) }, t('card.button.resolve'), {
    confirm: { title: t('console.resolve.title'), text: t('console.resolve.text'), confirm: t('card.button.resolve'), deny: t('card.confirm.cancel') },
  });
  return html`<div class="buttons" id="incident-actions">${pressForm(viewer, button, card.incidentId)}</div>`;
}

/** The runners that have polled the bot, under the incidents (none listed: every step runs in the bot). */
function runnersHtml(runners: readonly RunnerStatus[]): Html | string {
  if (runners.length === 0) return '';
  return html`<h2>${t('console.runners')}</h2>
<table id="runners">
  <thead><tr><th>${t('console.runners.runner')}</th><th>${t('console.runners.labels')}</th><th>${t('console.runners.state')}</th><th>${t('console.runners.heartbeat')}</th></tr></thead>
  <tbody>${runners.map(
    (r) =>
      html`<tr data-connected="${String(r.connected)}"><td>${r.name}</td><td>${Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(', ')}</td><td>${r.connected ? t('console.runners.connected') : t('console.runners.disconnected')}</td><td><time datetime="${r.seenAt}">${formatTime(r.seenAt)}</time> ${t('console.runners.ago', { seconds: r.silentSeconds })}</td></tr>`,
  )}</tbody>
</table>`;
}

/** The latest posts of scheduled jobs (checklists, backups, missed runs), newest first; none: nothing shown. */
function schedulePostsHtml(posts: readonly AuditEvent[]): Html | string {
  if (posts.length === 0) return '';
  return html`<section class="thread" id="scheduled">
  <h2>${t('console.scheduled')}</h2>
  <ol>${posts.map(
    (e) =>
      html`<li data-kind="${e.kind}" data-job="${typeof e.data.job === 'string' ? e.data.job : ''}" data-status="${typeof e.data.status === 'string' ? e.data.status : ''}"><time datetime="${e.at}">${formatTime(e.at)}</time><div class="text">${formatMessage(e.text)}</div></li>`,
  )}</ol>
</section>`;
}

export function listMain(
  viewer: Viewer,
  input: {
    open: readonly Incident[];
    recent: readonly Incident[];
    privateMessages: readonly PrivateMessage[];
    runners?: readonly RunnerStatus[];
    schedulePosts?: readonly AuditEvent[];
    /** Storms open in chat channels: their digests go above the incidents. */
    storms?: readonly ChannelDigest[];
  },
): Html {
  const rows = [...input.open, ...input.recent];
  return html`<div class="toolbar"><h1>${t('console.incidents')}</h1>
  ${
    viewer.interactive
      ? html`<form method="post" action="/console/sample-alert">${hidden('csrf', viewer.csrf)}<button type="submit" class="danger" id="sample-alert">${t('console.sample')}</button></form>`
      : ''
  }</div>
${privateHtml(viewer, input.privateMessages, '/')}
${stormDigestsHtml(input.storms ?? [])}
${
  rows.length === 0
    ? html`<p class="notice">${formatMessage(t('console.empty', { path: '`/webhooks/alertmanager`', orSample: viewer.interactive ? t('console.empty.orSample') : '' }))}</p>`
    : html`<table id="incidents">
  <thead><tr><th>#</th><th>${t('console.column.title')}</th><th>${t('card.field.severity')}</th><th>${t('card.field.status')}</th><th>${t('card.field.started')}</th></tr></thead>
  <tbody>${rows.map(
    (i) => html`<tr data-status="${i.status}"><td><a href="/console/incidents/${i.id}">#${i.id}</a></td><td><a href="/console/incidents/${i.id}">${i.title}</a></td><td><span class="sev sev-${i.severity}"></span>${i.severity}</td><td>${t(`status.${i.status}`)}</td><td><time datetime="${i.createdAt}">${formatTime(i.createdAt)}</time></td></tr>`,
  )}</tbody>
</table>`
}
${schedulePostsHtml(input.schedulePosts ?? [])}
${runnersHtml(input.runners ?? [])}`;
}

/** A short page for refusals and errors, in the same frame. */
export function messagePage(viewer: Viewer, title: string, message: string): Html {
  return layout(viewer, title, html`<h1>${title}</h1><p class="notice">${message}</p><p><a href="/">${t('console.back')}</a></p>`);
}
