import { decodeButtonId } from './button-codec.js';
import type { Card, CardButton } from './card.js';
import type { StepOffer } from './offers.js';
import { t } from './i18n/index.js';

/*
 * Which of a card's actions are buttons and which wait in its "More steps" menu. A card with every
 * runbook step as a button (seventeen on a GitCortex outage) hides the few a responder needs; like
 * on-call tools do, a card keeps at most four primary buttons and puts the rest in one menu.
 */

/** At most this many buttons on a card: the incident's own actions and its first or `primary` steps. */
export const MAX_PRIMARY_BUTTONS = 4;

/** Actions on the incident itself (Acknowledge, Resolve, Silence, Unsilence): always buttons, first. */
const LIFECYCLE = new Set<CardButton['action']>(['ack', 'resolve', 'silence', 'unsilence']);

/**
 * Splits a card's buttons (lifecycle ones and one per offered step, in runbook order) into the
 * primary buttons and the menu: lifecycle buttons first, then steps marked `primary: true`, then
 * the first steps in runbook order, up to four; every other step goes to the menu in runbook
 * order. A card whose buttons all fit keeps them as they are, with no menu.
 */
export function layoutButtons(buttons: readonly CardButton[], offers: readonly StepOffer[]): Pick<Card, 'buttons' | 'menu'> {
  if (buttons.length <= MAX_PRIMARY_BUTTONS) return { buttons: [...buttons] };
  const marked = new Set(offers.filter((o) => o.step.primary === true).map((o) => `${o.runbook.name}/${o.step.id}`));
  const isMarked = (b: CardButton) => {
    const target = decodeButtonId(b.id);
    return target?.action === 'run-step' && marked.has(`${target.runbook}/${target.step}`);
  };
  const lifecycle = buttons.filter((b) => LIFECYCLE.has(b.action));
  const steps = buttons.filter((b) => !LIFECYCLE.has(b.action));
  const room = Math.max(0, MAX_PRIMARY_BUTTONS - lifecycle.length);
  const chosen = [...steps.filter(isMarked), ...steps.filter((b) => !isMarked(b))].slice(0, room);
  const options = steps.filter((b) => !chosen.includes(b));
  return { buttons: [...lifecycle, ...chosen], ...(options.length > 0 ? { menu: { label: t('card.menu.moreSteps'), options } } : {}) };
}
