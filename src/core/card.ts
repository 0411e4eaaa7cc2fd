/**
 * The neutral incident card: what every chat platform shows for an incident. Adapters render it
 * (Block Kit, Discord embeds, HTML) and enforce their own platform's limits while doing so.
 */
import type { Redactor } from '../domain/redact.js';
import { t } from './i18n/index.js';

export type Severity = 'critical' | 'warning' | 'info' | 'none';

export type StepState =
  | 'requested'
  | 'approved'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'timed_out'
  | 'interrupted'
  | 'denied'
  | 'expired';

/** How every renderer shows a step's state (Slack, Discord and the console alike). */
export const STEP_STATE_ICON: Readonly<Record<StepState, string>> = {
  requested: '🙋',
  approved: '👍',
  running: '⏳',
  succeeded: '✅',
  failed: '❌',
  timed_out: '⏱️',
  interrupted: '⚠️',
  denied: '🚫',
  expired: '⌛',
};

/** A step state as people read it ("timed out", "超时"), for every renderer. */
export function stepStateText(state: StepState): string {
  return t(`state.${state}`);
}

export interface CardField {
  label: string;
  value: string;
}

export interface CardLink {
  label: string;
  url: string;
}

export interface CardConfirm {
  title: string;
  text: string;
  confirm: string;
  deny: string;
}

/** A button. `action` names what the press means; `value` is the opaque payload echoed back. */
export interface CardButton {
  action: ButtonAction;
  /** Unique within one card; platforms use it as action_id/custom_id. */
  id: string;
  label: string;
  value: string;
  style?: 'primary' | 'danger';
  confirm?: CardConfirm;
}

export type ButtonAction = 'run-step' | 'approve' | 'deny' | 'pick' | 'rollback' | 'ack' | 'resolve' | 'silence' | 'unsilence' | 'post-cards';

/**
 * The card's "More steps" menu: the runbook steps beyond the card's few primary buttons, in
 * runbook order. Choosing one is the same action as pressing its button (same id and value), so a
 * changing step still asks for approval; renderers show each option's danger as a button would.
 */
export interface CardMenu {
  label: string;
  options: CardButton[];
  /**
   * A thread message's menu (which alert a step is for) may stand for more choices than a
   * platform shows: how many there are in all (default: the options), and how one that is not
   * shown is chosen instead (a command), for the renderer's note.
   */
  total?: number;
  rest?: string;
}

/**
 * The note under a menu showing `shown` of its choices ("3 more not in this menu (Discord shows
 * 25): choose one by command …"); undefined when every choice is shown.
 */
export function menuRestNote(menu: CardMenu, shown: number, why: string): string | undefined {
  const hidden = (menu.total ?? menu.options.length) - shown;
  if (hidden <= 0) return undefined;
  return t('menu.rest', { hidden, why, rest: menu.rest ? t('menu.rest.then', { rest: menu.rest }) : '' });
}

export interface CardStepState {
  title: string;
  state: StepState;
  detail?: string;
}

export interface Card {
  incidentId: string;
  title: string;
  severity: Severity;
  status: 'firing' | 'resolved';
  /** One line under the title, e.g. "Firing since 01:37 UTC" or "Resolved after 12m". */
  statusLine: string;
  summary?: string;
  description?: string;
  fields: CardField[];
  links: CardLink[];
  steps: CardStepState[];
  /** The primary buttons, at most four on a built card (see card-layout.ts). */
  buttons: CardButton[];
  /** Every other offered step; absent when all fit as buttons. */
  menu?: CardMenu;
  /** Plain-text fallback for notifications and screen readers. */
  fallbackText: string;
}

const SEVERITY_ICON: Readonly<Record<Severity, string>> = { critical: '🔴', warning: '🟠', info: '🔵', none: '⚪' };

/** The icon before a card's title: its severity while firing, a check once resolved (a red dot on a solved incident misleads). */
export function cardIcon(card: Pick<Card, 'severity' | 'status'>): string {
  return card.status === 'resolved' ? '✅' : SEVERITY_ICON[card.severity];
}

/**
 * Someone a message calls for (escalations): a user, a user group (Slack) or a role (Discord) of
 * one platform. Kept apart from the text, which is always escaped: only the platform's renderer
 * turns a mention into its ping syntax, and only these are allowed to ping.
 */
export interface Mention {
  platform: string;
  kind: 'user' | 'group' | 'role';
  id: string;
  /** How the console and logs show it (the console never pings). */
  name?: string | undefined;
}

/**
 * A message in an incident's thread: text, optionally with buttons (approval requests), a menu
 * (the alert a step is for, chosen from a select) and mentions.
 */
export interface ThreadMessage {
  text: string;
  buttons?: CardButton[];
  menu?: CardMenu;
  mentions?: Mention[];
}

/** Bidi overrides and isolates, LRM/RLM, and C0/C1 controls but newline and tab. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/**
 * Shows invisible controls as `\u202E`: a label with a right-to-left override could make chat
 * show a different name, instance or command than the one it holds.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
}

/**
 * The card as it may leave the process: every text an alert or a step put in it redacted, links
 * too (a runbook_url, generatorURL or Alertmanager address can carry a token or a password). The
 * one copy, used by the outbox (Slack, Discord) and the console alike. Invisible controls in
 * them are shown escaped (see escapeControls).
 */
export function redactCard(card: Card, secrets: Redactor): Card {
  const redact = (text: string) => escapeControls(secrets(text));
  return {
    ...card,
    title: redact(card.title),
    statusLine: redact(card.statusLine),
    ...(card.summary !== undefined ? { summary: redact(card.summary) } : {}),
    ...(card.description !== undefined ? { description: redact(card.description) } : {}),
    fields: card.fields.map((f) => ({ label: redact(f.label), value: redact(f.value) })),
    links: card.links.map((l) => ({ label: redact(l.label), url: redact(l.url) })),
    steps: card.steps.map((s) => ({ ...s, title: redact(s.title), ...(s.detail !== undefined ? { detail: redact(s.detail) } : {}) })),
    fallbackText: redact(card.fallbackText),
  };
}
