import type { types } from '@slack/bolt';
import { cardIcon, menuRestNote, type Card, type CardButton, type CardMenu, STEP_STATE_ICON, stepStateText, type ThreadMessage } from '../../core/card.js';
import { t } from '../../core/i18n/index.js';
import { SLACK_LIMITS as L, escapeMrkdwn, truncate } from './limits.js';

type Block = types.KnownBlock;
type Button = types.Button;

const mrkdwn = (text: string, max: number = L.sectionText): types.MrkdwnElement => ({ type: 'mrkdwn', text: truncate(text, max) });
const plain = (text: string, max: number): types.PlainTextElement => ({ type: 'plain_text', text: truncate(text, max), emoji: true });

export function renderButton(b: CardButton, confirmText: number = L.confirmText): Button {
  const button: Button = {
    type: 'button',
    action_id: truncate(b.id, L.actionId),
    text: plain(b.label, L.buttonText),
    value: truncate(b.value, L.buttonValue),
  };
  if (b.style) button.style = b.style;
  if (b.confirm) {
    button.confirm = {
      title: plain(b.confirm.title, L.confirmTitle),
      text: plain(b.confirm.text, confirmText),
      confirm: plain(b.confirm.confirm, L.confirmButton),
      deny: plain(b.confirm.deny, L.confirmButton),
      ...(b.style === 'danger' ? { style: 'danger' as const } : {}),
    };
  }
  return button;
}

/** Buttons in actions blocks of at most 25, using no more than `maxBlocks` blocks. */
function actionBlocks(buttons: CardButton[], maxBlocks: number, confirmText: number = L.confirmText): types.ActionsBlock[] {
  return elementBlocks(buttons.map((b) => renderButton(b, confirmText)), maxBlocks);
}

/** Interactive elements in actions blocks of at most 25, using no more than `maxBlocks` blocks. */
function elementBlocks(elements: types.ActionsBlockElement[], maxBlocks: number): types.ActionsBlock[] {
  const blocks: types.ActionsBlock[] = [];
  for (let i = 0; i < elements.length && blocks.length < maxBlocks; i += L.actionsElements) {
    blocks.push({ type: 'actions', block_id: `actions-${blocks.length}`, elements: elements.slice(i, i + L.actionsElements) });
  }
  return blocks;
}

/**
 * The "More steps" menu as static selects of at most 100 options each. A select has one confirm
 * for all its options, so none is set: a changing step's option is marked instead, and choosing it
 * asks for approval in the thread like its button would.
 */
function menuSelects(card: Card, options: CardButton[]): types.StaticSelect[] {
  const selects: types.StaticSelect[] = [];
  for (let i = 0; i < options.length; i += L.selectOptions) {
    const part = options.slice(i, i + L.selectOptions);
    const n = selects.length;
    selects.push({
      type: 'static_select',
      action_id: n === 0 ? MENU_ACTION : `${MENU_ACTION}:${n + 1}`,
      placeholder: plain(`${card.menu?.label ?? t('card.menu.moreSteps')}${options.length > L.selectOptions ? ` (${n + 1})` : ''}`, L.placeholder),
      options: part.map((b) => ({
        text: plain(`${b.style === 'danger' ? DANGER_PREFIX : ''}${b.label}`, L.optionText),
        value: b.value,
        ...(b.confirm ? { description: plain(b.confirm.text, L.optionText) } : {}),
      })),
    });
  }
  return selects;
}

/** The action_id of a card's menu; a choice in it carries the chosen button's id as its value. */
export const MENU_ACTION = 'more-steps';
const DANGER_PREFIX = '⚠️ ';

/**
 * The button id a block_actions action stands for: a button's action_id, or the value of the option
 * chosen in a card's menu (the same id its button would have had). Undefined for anything else.
 */
export function pressedButtonId(action: { type?: unknown; action_id?: unknown; selected_option?: unknown }): string | undefined {
  if (action.type === 'static_select') {
    const chosen = action.selected_option as { value?: unknown } | null | undefined;
    return typeof chosen?.value === 'string' && chosen.value !== '' ? chosen.value : undefined;
  }
  return typeof action.action_id === 'string' ? action.action_id : undefined;
}

function linkText(links: Card['links']): string | undefined {
  // Whole links only: one that would not fit in the context text is left out, never cut in half.
  const parts: string[] = [];
  let length = 0;
  for (const l of links) {
    if (l.url.length > L.buttonUrl || /[<>|\s]/.test(l.url)) continue;
    const part = `<${l.url.replace(/&/g, '&amp;')}|${escapeMrkdwn(l.label)}>`;
    const added = (parts.length > 0 ? LINK_SEPARATOR.length : 0) + part.length;
    if (length + added > L.sectionText) continue;
    parts.push(part);
    length += added;
  }
  return parts.length > 0 ? parts.join(LINK_SEPARATOR) : undefined;
}

const LINK_SEPARATOR = '  ·  ';

/**
 * Slack refuses a message whose blocks are too large in total (`msg_blocks_too_long`, seen near
 * 13,000 characters of JSON) even when every single limit is respected; this keeps a margin.
 */
export const MAX_BLOCKS_JSON = 12_000;

/** Progressively tighter text limits, tried in order until the card fits. */
const TIERS = [
  { text: L.sectionText, field: L.fieldText, confirmText: L.confirmText },
  { text: 1000, field: 300, confirmText: 150 },
  { text: 300, field: 80, confirmText: 60 },
] as const;

type Tier = (typeof TIERS)[number];

function buildCardBlocks(card: Card, tier: Tier, maxActions: number): Block[] {
  const blocks: Block[] = [
    { type: 'header', text: plain(`${cardIcon(card)} ${card.title}`, L.headerText) },
    { type: 'section', text: mrkdwn([`*${escapeMrkdwn(card.statusLine)}*`, card.summary && escapeMrkdwn(card.summary)].filter(Boolean).join('\n'), tier.text) },
  ];
  if (card.fields.length > 0) {
    blocks.push({
      type: 'section',
      fields: card.fields.slice(0, L.fields).map((f) => mrkdwn(`*${escapeMrkdwn(f.label)}*\n${escapeMrkdwn(f.value)}`, tier.field)),
    });
  }
  if (card.description) blocks.push({ type: 'section', text: mrkdwn(escapeMrkdwn(card.description), tier.text) });
  const links = linkText(card.links);
  if (links) blocks.push({ type: 'context', elements: [mrkdwn(links)] });
  if (card.steps.length > 0) {
    const lines = card.steps.map((s) => `${STEP_STATE_ICON[s.state]} *${escapeMrkdwn(s.title)}* — ${stepStateText(s.state)}${s.detail ? `: ${escapeMrkdwn(s.detail)}` : ''}`);
    blocks.push({ type: 'section', text: mrkdwn(lines.join('\n'), tier.text) });
  }
  // The primary buttons, then the menu's options, as far as `maxActions` and the blocks left allow
  // (one block kept for the note about hidden steps).
  const buttons = card.buttons.slice(0, maxActions);
  const options = (card.menu?.options ?? []).slice(0, Math.max(0, maxActions - buttons.length)).filter((b) => b.value.length <= L.optionValue);
  const elements = [...buttons.map((b) => renderButton(b, tier.confirmText)), ...menuSelects(card, options)];
  const actionBlocksShown = elementBlocks(elements, L.blocks - blocks.length - 1);
  const shownElements = actionBlocksShown.flatMap((b) => b.elements);
  const shown = shownElements.reduce((n, e) => n + (e.type === 'static_select' ? (e.options?.length ?? 0) : 1), 0);
  blocks.push(...actionBlocksShown);
  const hidden = actionCount(card) - shown;
  if (hidden > 0) {
    blocks.push({ type: 'context', elements: [mrkdwn(t('card.hiddenSteps', { hidden, platform: 'Slack' }))] });
  }
  return blocks;
}

/** Buttons and menu options: what a card offers to press. */
const actionCount = (card: Card) => card.buttons.length + (card.menu?.options.length ?? 0);

const sizeOf = (blocks: Block[]) => JSON.stringify(blocks).length;

/** Renders the incident card as Block Kit, always inside Slack's limits, per element and in total. */
export function renderCardBlocks(card: Card): Block[] {
  for (const tier of TIERS) {
    const blocks = buildCardBlocks(card, tier, actionCount(card));
    if (sizeOf(blocks) <= MAX_BLOCKS_JSON) return blocks;
  }
  // Still too large with the tightest texts: show as many buttons and options as fit (by bisection).
  const tightest = TIERS[TIERS.length - 1] as Tier;
  let low = 0;
  let high = actionCount(card);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (sizeOf(buildCardBlocks(card, tightest, mid)) <= MAX_BLOCKS_JSON) low = mid;
    else high = mid - 1;
  }
  return buildCardBlocks(card, tightest, low);
}

/** The message's top-level text (notifications, screen readers): escaped like every other text from alerts. */
export function cardFallbackText(card: Card): string {
  return truncate(escapeMrkdwn(card.fallbackText), L.messageText);
}

/** The action_id of a thread message's menu (the alert a step is for); a choice carries the chosen button's id as its value. */
export const CHOOSE_ACTION = 'choose';

/**
 * A thread message's menu as one static_select of at most 100 options (Slack's limit), with the
 * note saying how many more there are and how to choose them; options whose id does not fit a
 * value are left out (and counted in the note).
 */
function threadMenu(menu: CardMenu): { select: types.StaticSelect; note: string | undefined } {
  const options = menu.options.filter((b) => b.value.length <= L.optionValue).slice(0, L.selectOptions);
  const select: types.StaticSelect = {
    type: 'static_select',
    action_id: CHOOSE_ACTION,
    placeholder: plain(menu.label, L.placeholder),
    options: options.map((b) => ({ text: plain(b.label, L.optionText), value: b.value })),
  };
  return { select, note: menuRestNote(menu, options.length, t('menu.why.shows', { platform: 'Slack', max: L.selectOptions })) };
}

/** A thread reply: mrkdwn text, plus an actions block when it carries buttons or a menu. */
export function renderThreadMessage(message: ThreadMessage): { text: string; blocks?: Block[] } {
  // Escaped so that text from alerts cannot ping the channel (<!channel>) or forge links; the only
  // pings are the message's own Slack mentions, written here from validated ids.
  const escaped = escapeMrkdwn(message.text) + slackMentions(message.mentions);
  const text = truncate(escaped, L.messageText);
  const menu = message.menu && message.menu.options.length > 0 ? threadMenu(message.menu) : undefined;
  if (!message.buttons?.length && !menu) return { text };
  const blocks: Block[] = [{ type: 'section', text: mrkdwn(escaped) }];
  if (menu) blocks.push({ type: 'actions', block_id: 'choose', elements: [menu.select] });
  if (message.buttons?.length) blocks.push(...actionBlocks(message.buttons, L.blocks - blocks.length - (menu?.note ? 1 : 0)));
  if (menu?.note) blocks.push({ type: 'context', elements: [mrkdwn(escapeMrkdwn(menu.note))] });
  return { text, blocks };
}

const SLACK_ID = /^[A-Z0-9]+$/;

/** ` <@U…> <!subteam^S…>` for the message's Slack mentions (ids only; anything else is dropped). */
export function slackMentions(mentions: ThreadMessage['mentions']): string {
  const own = (mentions ?? []).filter((m) => m.platform === 'slack' && SLACK_ID.test(m.id));
  return own.map((m) => (m.kind === 'group' ? ` <!subteam^${m.id}>` : ` <@${m.id}>`)).join('');
}
