import { z } from 'zod';
import type { ButtonPress } from '../../handlers/button-press.js';
import { threadOf } from './platform.js';

/**
 * A StandardCard button's callback, as Stream mode delivers it on /v1.0/card/instances/callback:
 * the card (`outTrackId`, our cardBizId), who pressed (`userId`, the staff id), the group
 * (`spaceId`, its openConversationId, when the card is in a group) and, in the JSON string
 * `content` (`value` in older callbacks), `cardPrivateData.actionIds`: the pressed button's id.
 */
const CardCallback = z.looseObject({
  outTrackId: z.string().min(1),
  userId: z.string().min(1),
  spaceId: z.string().optional(),
  openConversationId: z.string().optional(),
  content: z.string().optional(),
  value: z.string().optional(),
});
const Content = z.looseObject({ cardPrivateData: z.looseObject({ actionIds: z.array(z.string()).min(1) }) });

export type ParsedCallback = { kind: 'press'; press: ButtonPress } | { kind: 'invalid'; reason: string };

/** The press a card callback reports; the channel is the alert group's when the callback names none. */
export function pressFromCallback(data: unknown, defaultChannel: string): ParsedCallback {
  const callback = CardCallback.safeParse(data);
  if (!callback.success) return { kind: 'invalid', reason: 'not a card callback' };
  const c = callback.data;
  let content: z.infer<typeof Content>;
  try {
    content = Content.parse(JSON.parse(c.content ?? c.value ?? ''));
  } catch {
    return { kind: 'invalid', reason: 'no pressed button in the callback' };
  }
  const buttonId = content.cardPrivateData.actionIds[0] ?? '';
  const channel = c.openConversationId ?? c.spaceId ?? defaultChannel;
  return { kind: 'press', press: { userId: c.userId, channel, threadId: threadOf(c.outTrackId), buttonId } };
}
