import { z } from 'zod';
import type { ButtonPress } from '../../handlers/button-press.js';

/**
 * A card.action.trigger callback as the SDK's EventDispatcher hands it over (header and event
 * merged into one object): who pressed (`operator.open_id`), the button's `value` (ours:
 * `{button}`) or the option chosen in the card's menu (`option`), and where (`context.open_message_id`, `context.open_chat_id`).
 */
const CardAction = z.looseObject({
  event_id: z.string().optional(),
  operator: z.looseObject({ open_id: z.string().min(1) }),
  action: z.looseObject({
    value: z.looseObject({ button: z.string().min(1).optional() }).optional(),
    /** A select_static's chosen option (the card's "More steps" menu): the id of the button it stands for. */
    option: z.string().min(1).optional(),
  }),
  context: z.looseObject({ open_message_id: z.string().optional(), open_chat_id: z.string().optional() }).optional(),
});

export type ParsedCardAction = { kind: 'press'; eventId: string | undefined; press: ButtonPress } | { kind: 'invalid'; reason: string };

export function pressFromCardAction(data: unknown, defaultChat: string): ParsedCardAction {
  const parsed = CardAction.safeParse(data);
  if (!parsed.success) return { kind: 'invalid', reason: 'not a button of ours' };
  const d = parsed.data;
  const buttonId = d.action.option ?? d.action.value?.button;
  if (buttonId === undefined) return { kind: 'invalid', reason: 'not a button of ours' };
  return {
    kind: 'press',
    eventId: d.event_id,
    press: { userId: d.operator.open_id, channel: d.context?.open_chat_id ?? defaultChat, threadId: d.context?.open_message_id, buttonId },
  };
}
