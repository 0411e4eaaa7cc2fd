import type { types } from '@slack/bolt';
import type { Card, CardButton, ThreadMessage } from '../../core/card.js';
import { SLACK_LIMITS as L, escapeMrkdwn, truncate } from './limits.js';

type Block = types.KnownBlock;
type Button = types.Button;

const SEVERITY_ICON: Record<Card['severity'], string> = { critical: '🔴', warning: '🟠', info: '🔵', none: '⚪' };
const STATE_ICON: Record<Card['steps'][number]['state'], string> = {
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

const mrkdwn = (text: string, max: number = L.sectionText): types.MrkdwnElement => ({ type: 'mrkdwn', text: truncate(text, max) });
const plain = (text: string, max: number): types.PlainTextElement => ({ type: 'plain_text', text: truncate(text, max), emoji: true });

function renderButton(b: CardButton): Button {
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
      text: plain(b.confirm.text, L.confirmText),
      confirm: plain(b.confirm.confirm, L.confirmButton),
      deny: plain(b.confirm.deny, L.confirmButton),
      ...(b.style === 'danger' ? { style: 'danger' as const } : {}),
    };
  }
  return button;
}

/** Buttons in actions blocks of at most 25, using no more than `maxBlocks` blocks. */
function actionBlocks(buttons: CardButton[], maxBlocks: number): Block[] {
  const blocks: Block[] = [];
  for (let i = 0; i < buttons.length && blocks.length < maxBlocks; i += L.actionsElements) {
    blocks.push({ type: 'actions', block_id: `actions-${blocks.length}`, elements: buttons.slice(i, i + L.actionsElements).map(renderButton) });
  }
  return blocks;
}

function linkText(links: Card['links']): string | undefined {
  const usable = links.filter((l) => l.url.length <= L.buttonUrl && !/[<>|\s]/.test(l.url));
  return usable.length > 0 ? usable.map((l) => `<${l.url.replace(/&/g, '&amp;')}|${escapeMrkdwn(l.label)}>`).join('  ·  ') : undefined;
}

/** Renders the incident card as Block Kit, always inside Slack's limits. */
export function renderCardBlocks(card: Card): Block[] {
  const blocks: Block[] = [
    { type: 'header', text: plain(`${SEVERITY_ICON[card.severity]} ${card.title}`, L.headerText) },
    { type: 'section', text: mrkdwn([`*${escapeMrkdwn(card.statusLine)}*`, card.summary && escapeMrkdwn(card.summary)].filter(Boolean).join('\n')) },
  ];
  if (card.fields.length > 0) {
    blocks.push({
      type: 'section',
      fields: card.fields.slice(0, L.fields).map((f) => mrkdwn(`*${escapeMrkdwn(f.label)}*\n${escapeMrkdwn(f.value)}`, L.fieldText)),
    });
  }
  if (card.description) blocks.push({ type: 'section', text: mrkdwn(escapeMrkdwn(card.description)) });
  const links = linkText(card.links);
  if (links) blocks.push({ type: 'context', elements: [mrkdwn(links)] });
  if (card.steps.length > 0) {
    const lines = card.steps.map((s) => `${STATE_ICON[s.state]} *${escapeMrkdwn(s.title)}* — ${s.state.replace('_', ' ')}${s.detail ? `: ${escapeMrkdwn(s.detail)}` : ''}`);
    blocks.push({ type: 'section', text: mrkdwn(lines.join('\n')) });
  }
  // Buttons get whatever blocks remain; a card with more steps than fit shows the first ones.
  blocks.push(...actionBlocks(card.buttons, L.blocks - blocks.length));
  return blocks;
}

export function cardFallbackText(card: Card): string {
  return truncate(card.fallbackText, L.messageText);
}

/** A thread reply: mrkdwn text, plus an actions block when it carries buttons. */
export function renderThreadMessage(message: ThreadMessage): { text: string; blocks?: Block[] } {
  // Escaped so that text from alerts cannot ping the channel (<!channel>) or forge links.
  const escaped = escapeMrkdwn(message.text);
  const text = truncate(escaped, L.messageText);
  if (!message.buttons?.length) return { text };
  return { text, blocks: [{ type: 'section', text: mrkdwn(escaped) }, ...actionBlocks(message.buttons, L.blocks - 1)] };
}
