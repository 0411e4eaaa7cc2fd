import { z } from 'zod';
import type { ChatUser } from '../../core/ports/chat-platform.js';

/** Interaction types (discord.com/developers/docs/interactions/receiving-and-responding). */
export const INTERACTION_TYPE = { ping: 1, applicationCommand: 2, messageComponent: 3 } as const;
const BUTTON_COMPONENT = 2;
const STRING_SELECT_COMPONENT = 3;
/** Announcement, public and private threads: a message in one of these is a thread reply. */
const THREAD_CHANNEL_TYPES = new Set([10, 11, 12]);
const OPTION_TYPE = { subCommand: 1, subCommandGroup: 2 } as const;

export type CommandOptionValue = string | number | boolean;

export type ParsedInteraction =
  | { kind: 'ping' }
  | {
      kind: 'button';
      userId: string;
      user: ChatUser;
      channelId: string;
      messageId: string;
      /** The thread the pressed message is in; for the card itself, its thread (whose id is the card's). */
      threadId: string;
      /** The pressed button's custom_id, or for a choice in a card's menu the id of the button chosen. */
      customId: string;
      token: string;
      applicationId: string;
      /** Unique to the interaction (its token when Discord sends no id): a replay carries the same. */
      interactionId: string;
    }
  | {
      kind: 'command';
      name: string;
      /** `list`, `show`…, or `group sub` for a subcommand in a group; undefined for a plain command. */
      subcommand: string | undefined;
      /** The leaf options by name. */
      options: Record<string, CommandOptionValue>;
      userId: string;
      user: ChatUser;
      channelId: string;
      token: string;
      interactionId: string;
    }
  | { kind: 'unsupported'; type: number }
  | { kind: 'invalid'; reason: string };

const User = z.looseObject({ id: z.string().min(1), username: z.string().optional(), global_name: z.string().nullish() });
const Member = z.looseObject({ user: User.optional(), nick: z.string().nullish(), roles: z.array(z.string()).optional() });

const Envelope = z.looseObject({
  id: z.string().min(1).optional(),
  type: z.number().int(),
  application_id: z.string().min(1).optional(),
  token: z.string().min(1).optional(),
  channel_id: z.string().min(1).optional(),
  channel: z.looseObject({ id: z.string().min(1), type: z.number().int().optional() }).nullish(),
  member: Member.nullish(),
  user: User.nullish(),
  data: z.unknown().optional(),
  message: z.looseObject({ id: z.string().min(1), channel_id: z.string().min(1).optional() }).nullish(),
});

const ButtonData = z.looseObject({ component_type: z.literal(BUTTON_COMPONENT), custom_id: z.string().min(1).max(100) });
/** A choice in a card's "More steps" menu: its one value is the id of the button it stands for. */
const SelectData = z.looseObject({ component_type: z.literal(STRING_SELECT_COMPONENT), custom_id: z.string().min(1).max(100), values: z.array(z.string().min(1).max(100)).length(1) });

/** The button id a component interaction stands for: the button's custom_id, or the value chosen in a menu. */
function pressedId(data: unknown): string | undefined {
  const button = ButtonData.safeParse(data);
  if (button.success) return button.data.custom_id;
  const select = SelectData.safeParse(data);
  return select.success ? select.data.values[0] : undefined;
}

export interface RawOption {
  name: string;
  type: number;
  value?: unknown;
  options?: readonly RawOption[] | undefined;
}
const Option: z.ZodType<RawOption> = z.lazy(() =>
  z.looseObject({ name: z.string().min(1), type: z.number().int(), value: z.unknown().optional(), options: z.array(Option).optional() }),
);
const CommandData = z.looseObject({ name: z.string().min(1), options: z.array(Option).optional() });

/** Who acted: the guild member (nickname, roles) in a server, the user in a DM. */
function actor(envelope: z.infer<typeof Envelope>): ChatUser | undefined {
  const user = envelope.member?.user ?? envelope.user;
  if (!user) return undefined;
  const name = envelope.member?.nick || user.global_name || user.username || user.id;
  return { id: user.id, name, groups: envelope.member?.roles ?? [] };
}

/** A command's options as the subcommand path and its leaf values; the gateway maps discord.js's options with it too. */
export function flattenOptions(options: readonly RawOption[] | undefined): { subcommand: string | undefined; options: Record<string, CommandOptionValue> } {
  const path: string[] = [];
  let level = options ?? [];
  for (;;) {
    const nested = level.find((o) => o.type === OPTION_TYPE.subCommand || o.type === OPTION_TYPE.subCommandGroup);
    if (!nested) break;
    path.push(nested.name);
    level = nested.options ?? [];
  }
  const values: Record<string, CommandOptionValue> = {};
  for (const o of level) {
    if (typeof o.value === 'string' || typeof o.value === 'number' || typeof o.value === 'boolean') values[o.name] = o.value;
  }
  return { subcommand: path.length > 0 ? path.join(' ') : undefined, options: values };
}

/** Reads an interaction's JSON (already signature-checked); never throws, whatever it is given. */
export function parseInteraction(json: unknown): ParsedInteraction {
  try {
    return parse(json);
  } catch {
    // Zod reports problems as results; this is for the pathological (options nested thousands deep).
    return { kind: 'invalid', reason: 'unreadable interaction' };
  }
}

function parse(json: unknown): ParsedInteraction {
  const parsed = Envelope.safeParse(json);
  if (!parsed.success) return { kind: 'invalid', reason: 'not an interaction' };
  const e = parsed.data;
  if (e.type === INTERACTION_TYPE.ping) return { kind: 'ping' };

  const user = actor(e);
  const channelId = e.channel_id ?? e.channel?.id;
  if (e.type === INTERACTION_TYPE.messageComponent) {
    const customId = pressedId(e.data);
    if (customId === undefined) return { kind: 'unsupported', type: e.type };
    if (!user || !channelId || !e.message || !e.token || !e.application_id) return { kind: 'invalid', reason: 'button press without user, channel, message or token' };
    const inThread = e.channel?.type !== undefined && THREAD_CHANNEL_TYPES.has(e.channel.type);
    return {
      kind: 'button',
      userId: user.id,
      user,
      channelId,
      messageId: e.message.id,
      threadId: inThread ? (e.message.channel_id ?? channelId) : e.message.id,
      customId,
      token: e.token,
      applicationId: e.application_id,
      interactionId: e.id ?? e.token,
    };
  }
  if (e.type === INTERACTION_TYPE.applicationCommand) {
    const data = CommandData.safeParse(e.data);
    if (!data.success) return { kind: 'invalid', reason: 'command without a name' };
    if (!user || !channelId || !e.token) return { kind: 'invalid', reason: 'command without user, channel or token' };
    return { kind: 'command', name: data.data.name, ...flattenOptions(data.data.options), userId: user.id, user, channelId, token: e.token, interactionId: e.id ?? e.token };
  }
  return { kind: 'unsupported', type: e.type };
}
