import { cardIcon, menuRestNote, type Card, type CardButton, STEP_STATE_ICON, stepStateText, type ThreadMessage } from '../../core/card.js';
import { t } from '../../core/i18n/index.js';
import { DINGTALK_LIMITS as L, escapeMarkdown, truncate } from './limits.js';

/**
 * Cards as DingTalk's StandardCard, the one interactive card a robot sends without a template
 * built in the card platform: a header, markdown blocks and rows of buttons. A button whose
 * `actionType` is `request` calls back over Stream mode with its `id` in `actionIds`.
 */
export interface StandardCard {
  config: { autoLayout: boolean; enableForward: boolean };
  header?: { title: { type: 'text'; text: string } };
  contents: StandardContent[];
}

export type StandardContent =
  | { type: 'markdown'; id: string; text: string }
  | { type: 'divider'; id: string }
  | { type: 'action'; id: string; actions: StandardButton[] };

export interface StandardButton {
  type: 'button';
  id: string;
  label: { type: 'text'; text: string };
  actionType: 'request' | 'openLink';
  /** `warning` shows a changing step's button in the card's warning colour. */
  status: 'primary' | 'warning' | 'normal';
  url?: string;
}


function button(b: CardButton): StandardButton {
  return {
    type: 'button',
    id: b.id,
    label: { type: 'text', text: truncate(b.label, L.buttonLabel) },
    actionType: 'request',
    status: b.style === 'danger' ? 'warning' : b.style === 'primary' ? 'primary' : 'normal',
  };
}

function actionRows(buttons: CardButton[], prefix = 'actions', max: number = L.buttons): StandardContent[] {
  const shown = buttons.slice(0, max);
  const rows: StandardContent[] = [];
  for (let i = 0; i < shown.length; i += 4) rows.push({ type: 'action', id: `${prefix}-${rows.length}`, actions: shown.slice(i, i + 4).map(button) });
  return rows;
}

/**
 * The card's "More steps". A StandardCard has no select or overflow menu, so they are buttons too,
 * in rows of their own under a divider and a "More steps" line, after the primary ones.
 */
function menuContents(card: Card): StandardContent[] {
  const options = card.menu?.options ?? [];
  const room = Math.max(0, L.buttons - card.buttons.length);
  if (options.length === 0 || room === 0) return [];
  return [{ type: 'divider', id: 'more-steps-divider' }, { type: 'markdown', id: 'more-steps', text: `**${escapeMarkdown(card.menu?.label ?? t('card.menu.moreSteps'))}**` }, ...actionRows(options, 'more-steps', room)];
}

/** The card's title line as the header and as the quote replies open with. */
export function cardTitle(card: Card): string {
  return truncate(`${cardIcon(card)} ${card.title}`, L.title);
}

/** The incident card; the buttons beyond DingTalk's sensible number are summed up in a line. */
export function renderCard(card: Card): StandardCard {
  const lines = [`**${escapeMarkdown(card.statusLine)}**`];
  if (card.summary) lines.push(escapeMarkdown(card.summary));
  if (card.fields.length > 0) lines.push(card.fields.map((f) => `**${escapeMarkdown(f.label)}**: ${escapeMarkdown(f.value)}`).join('  \n'));
  if (card.description) lines.push(escapeMarkdown(card.description));
  const links = card.links.filter((l) => /^https?:\/\/[^\s()]+$/.test(l.url)).map((l) => `[${escapeMarkdown(l.label)}](${l.url})`);
  if (links.length > 0) lines.push(links.join(' · '));
  if (card.steps.length > 0) {
    lines.push(card.steps.map((s) => `${STEP_STATE_ICON[s.state]} **${escapeMarkdown(s.title)}** — ${stepStateText(s.state)}${s.detail ? `: ${escapeMarkdown(s.detail)}` : ''}`).join('  \n'));
  }
  const hidden = card.buttons.length + (card.menu?.options.length ?? 0) - L.buttons;
  if (hidden > 0) lines.push(t('card.hiddenSteps.short', { hidden }));
  return {
    config: { autoLayout: true, enableForward: true },
    header: { title: { type: 'text', text: cardTitle(card) } },
    contents: [{ type: 'markdown', id: 'body', text: truncate(lines.join('\n\n'), L.markdown) }, ...actionRows(card.buttons), ...menuContents(card)],
  };
}

/**
 * A message of the incident's thread. DingTalk groups have no threads for robots, so a reply is a
 * card of its own that opens by quoting the incident card it belongs to.
 */
export function renderReply(message: ThreadMessage, quote: string | undefined): StandardCard {
  const quoted = quote === undefined ? '' : `> ${escapeMarkdown(quote)}\n\n`;
  // A StandardCard has no select: a menu's options (the alert a step is for) are buttons, as many as fit.
  const buttons = [...(message.menu?.options ?? []), ...(message.buttons ?? [])];
  const shownOptions = Math.min(message.menu?.options.length ?? 0, L.buttons);
  const note = message.menu ? menuRestNote(message.menu, shownOptions, t('menu.why.buttons', { platform: 'DingTalk', max: L.buttons })) : undefined;
  const text = `${quoted}${escapeMarkdown(message.text)}${note ? `  \n${escapeMarkdown(note)}` : ''}`;
  return {
    config: { autoLayout: true, enableForward: false },
    contents: [{ type: 'markdown', id: 'body', text: truncate(text, L.markdown) }, ...actionRows(buttons)],
  };
}

/** A private answer: plain markdown for a one-to-one robot message. */
export function renderPrivate(text: string, about: string | undefined): { title: string; text: string } {
  return { title: truncate(text.split('\n')[0] ?? text, 60), text: truncate(`${escapeMarkdown(text)}${about ? `\n\n— ${escapeMarkdown(about)}` : ''}`, L.markdown) };
}
