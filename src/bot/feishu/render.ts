import { menuRestNote, type Card, type CardButton, type CardMenu, STEP_STATE_ICON, stepStateText } from '../../core/card.js';
import { t } from '../../core/i18n/index.js';

/**
 * Cards as Feishu message cards (JSON 1.0: header, `div`s of lark_md text, `action` rows of
 * buttons). `update_multi` makes a card shared, so that an update shows to everyone in the chat.
 * A button's `value` comes back in the card.action.trigger callback.
 */
export type FeishuCard = Record<string, unknown>;

export const FEISHU_LIMITS = {
  title: 100,
  text: 5000,
  buttonLabel: 40,
  buttons: 20,
  /** Our own caps for the "More steps" select: options, and an option's text. */
  menuOptions: 100,
  optionText: 100,
  /** Feishu refuses a card over 30 KB of JSON; this keeps a margin. */
  cardJson: 25_000,
} as const;

const TEMPLATE: Record<Card['severity'], string> = { critical: 'red', warning: 'orange', info: 'blue', none: 'grey' };

export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Makes text from alerts literal in lark_md: markdown characters and tags (`<at>`, `<font>`) as
 * HTML entities, which is how Feishu documents escaping them.
 */
export function escapeLarkMd(text: string): string {
  return text.replace(/[&<>*_~`[\]]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : `&#${c.charCodeAt(0)};`));
}

const md = (content: string) => ({ tag: 'div', text: { tag: 'lark_md', content: truncate(content, FEISHU_LIMITS.text) } });
const plain = (content: string, max: number) => ({ tag: 'plain_text', content: truncate(content, max) });

function button(b: CardButton): Record<string, unknown> {
  return {
    tag: 'button',
    text: plain(b.label, FEISHU_LIMITS.buttonLabel),
    type: b.style === 'danger' ? 'danger' : b.style === 'primary' ? 'primary' : 'default',
    value: { button: b.id },
    ...(b.confirm ? { confirm: { title: plain(b.confirm.title, 100), text: plain(b.confirm.text, 300) } } : {}),
  };
}

function actionRows(buttons: CardButton[]): Array<Record<string, unknown>> {
  const shown = buttons.slice(0, FEISHU_LIMITS.buttons);
  const rows: Array<Record<string, unknown>> = [];
  for (let i = 0; i < shown.length; i += 4) rows.push({ tag: 'action', actions: shown.slice(i, i + 4).map(button) });
  return rows;
}

/**
 * The card's "More steps" menu: a select_static in an action module of its own. Its callback says
 * the chosen option's value (`action.option`), which is the id of the button it stands for. A
 * select has one confirmation for all options, so a changing step's option is marked instead and
 * asks for approval in the thread like its button would.
 */
function menuModule(card: Card): Array<Record<string, unknown>> {
  const options = (card.menu?.options ?? []).slice(0, FEISHU_LIMITS.menuOptions);
  if (options.length === 0) return [];
  const select = {
    tag: 'select_static',
    placeholder: plain(card.menu?.label ?? t('card.menu.moreSteps'), FEISHU_LIMITS.buttonLabel),
    value: { menu: MENU_VALUE },
    options: options.map((b) => ({ text: plain(`${b.style === 'danger' ? '⚠️ ' : ''}${b.label}`, FEISHU_LIMITS.optionText), value: b.id })),
  };
  return [{ tag: 'action', actions: [select] }];
}

/** The `value` of a card's menu, so a callback from it is told apart from a button's. */
export const MENU_VALUE = 'more-steps';

export function renderCard(card: Card): FeishuCard {
  const lines = [`**${escapeLarkMd(card.statusLine)}**`];
  if (card.summary) lines.push(escapeLarkMd(card.summary));
  if (card.fields.length > 0) lines.push(card.fields.map((f) => `**${escapeLarkMd(f.label)}**: ${escapeLarkMd(f.value)}`).join('\n'));
  if (card.description) lines.push(escapeLarkMd(card.description));
  const links = card.links.filter((l) => /^https?:\/\/[^\s()]+$/.test(l.url)).map((l) => `[${escapeLarkMd(l.label)}](${l.url})`);
  if (links.length > 0) lines.push(links.join(' · '));
  if (card.steps.length > 0) lines.push(card.steps.map((s) => `${STEP_STATE_ICON[s.state]} **${escapeLarkMd(s.title)}** — ${stepStateText(s.state)}${s.detail ? `: ${escapeLarkMd(s.detail)}` : ''}`).join('\n'));
  const hidden = Math.max(0, card.buttons.length - FEISHU_LIMITS.buttons) + Math.max(0, (card.menu?.options.length ?? 0) - FEISHU_LIMITS.menuOptions);
  if (hidden > 0) lines.push(t('card.hiddenSteps.short', { hidden }));
  const built = (text: string): FeishuCard => ({
    config: { wide_screen_mode: true, update_multi: true },
    header: { template: TEMPLATE[card.severity], title: plain(card.title, FEISHU_LIMITS.title) },
    elements: [md(text), ...actionRows(card.buttons), ...menuModule(card)],
  });
  const full = built(lines.join('\n\n'));
  // An alert with huge annotations: the text gives way, never the buttons.
  return JSON.stringify(full).length <= FEISHU_LIMITS.cardJson ? full : built(truncate(lines.join('\n\n'), 2000));
}

/** The `value` of a thread message's menu (the alert a step is for); its callback's `option` is the chosen button's id. */
export const CHOOSE_VALUE = 'choose';

/** A thread message's menu as a select_static of up to `menuOptions` options, and the note on any left out. */
function replyMenu(menu: CardMenu): { module: Record<string, unknown>; note: string | undefined } {
  const options = menu.options.slice(0, FEISHU_LIMITS.menuOptions);
  const select = {
    tag: 'select_static',
    placeholder: plain(menu.label, FEISHU_LIMITS.buttonLabel),
    value: { menu: CHOOSE_VALUE },
    options: options.map((b) => ({ text: plain(b.label, FEISHU_LIMITS.optionText), value: b.id })),
  };
  return { module: { tag: 'action', actions: [select] }, note: menuRestNote(menu, options.length, t('menu.why.shows', { platform: 'Feishu', max: FEISHU_LIMITS.menuOptions })) };
}

/** A thread message: its text, and its buttons (approval requests) or menu (the alert a step is for) when it has any. */
export function renderReply(text: string, buttons: CardButton[] = [], menu?: CardMenu): FeishuCard {
  const chooser = menu && menu.options.length > 0 ? replyMenu(menu) : undefined;
  const body = escapeLarkMd(chooser?.note ? `${text}\n${chooser.note}` : text);
  return { config: { wide_screen_mode: true, update_multi: true }, elements: [md(body), ...(chooser ? [chooser.module] : []), ...actionRows(buttons)] };
}
