import { Client, Events, GatewayIntentBits, MessageFlags } from 'discord.js';
import type { Logger } from 'pino';
import type { ChatPlatform, ChatUser } from '../../core/ports/chat-platform.js';
import type { IncidentUseCases } from '../../core/use-cases.js';
import { handleButtonPress, type ButtonPress } from '../../handlers/button-press.js';
import { handleCommand, type CommandRequest } from '../../handlers/command.js';
import { DISCORD_REPLY_CHARS } from './interactions.js';
import { flattenOptions, type RawOption } from './parse-interaction.js';
import { NO_MENTIONS, renderPrivateText } from './render.js';

/**
 * The Gateway alternative to the HTTP interactions endpoint: a websocket from the bot to Discord,
 * so no public URL is needed. Discord sends interactions to one or the other (whichever the
 * application is set up for), never both. This mode cannot be run end to end in the test suite
 * (there is no fake Gateway); its mapping from an interaction to a ButtonPress is unit-tested.
 */

/** What the mapping reads from a discord.js ButtonInteraction (a plain object in tests). */
export interface ButtonInteractionLike {
  customId: string;
  /** A string select's chosen values (a card's "More steps" menu): the first is the button id it stands for. */
  values?: readonly string[];
  channelId: string | null;
  guildId: string | null;
  user: { id: string; username: string; globalName: string | null };
  /** A cached GuildMember (roles in a manager) or the raw API member (role ids); null in DMs. */
  member:
    | { nickname: string | null; roles: { cache: { keys(): Iterable<string> } } }
    | { nick?: string | null | undefined; roles: string[] }
    | null;
  message: { id: string; channelId: string };
  channel: { isThread(): boolean } | null;
}

/** The presser as the approval policy sees them: nickname or display name, and their role ids. */
export function userFromInteraction(i: Pick<ButtonInteractionLike, 'user' | 'member' | 'guildId'>): ChatUser {
  const m = i.member;
  const nick = m ? ('nickname' in m ? m.nickname : m.nick) : undefined;
  const roles = m ? (Array.isArray(m.roles) ? m.roles : [...m.roles.cache.keys()]) : [];
  // A cached member's roles include @everyone, whose id is the guild's; the API's list does not.
  const groups = roles.filter((r) => r !== i.guildId);
  return { id: i.user.id, name: nick || i.user.globalName || i.user.username || i.user.id, groups };
}

/** A button interaction, or a choice in a card's menu, as the ButtonPress the core's handler takes. */
export function buttonPressFromInteraction(i: ButtonInteractionLike, tellPrivately: (text: string) => Promise<void>): ButtonPress {
  const channel = i.channelId ?? i.message.channelId;
  // On the card itself the press belongs to the card's thread, whose id is the card's message id.
  const threadId = i.channel?.isThread() ? channel : i.message.id;
  const buttonId = i.values !== undefined ? (i.values[0] ?? '') : i.customId;
  return { userId: i.user.id, channel, threadId, buttonId, user: userFromInteraction(i), tellPrivately };
}

/** What the mapping reads from a discord.js ChatInputCommandInteraction. */
export interface CommandInteractionLike extends Pick<ButtonInteractionLike, 'user' | 'member' | 'guildId'> {
  commandName: string;
  channelId: string;
  options: { data: readonly RawOption[] };
}

/** A slash command from the gateway as the request the shared command handler takes. */
export function commandRequestFromInteraction(i: CommandInteractionLike): CommandRequest {
  const { subcommand, options } = flattenOptions(i.options.data);
  return { userId: i.user.id, user: userFromInteraction(i), channel: i.channelId, input: { name: i.commandName, subcommand, options }, maxReplyChars: DISCORD_REPLY_CHARS };
}

export interface DiscordGatewayOptions {
  token: string;
  /** API base URL override (without the version), like DISCORD_API_URL. */
  apiUrl?: string | undefined;
  getEngine: () => IncidentUseCases;
  platform: ChatPlatform;
  log: Logger;
}

export interface DiscordGateway {
  stop(): Promise<void>;
}

/** Connects to the Gateway (intent Guilds only) and handles button presses and slash commands. */
export function startDiscordGateway(o: DiscordGatewayOptions): DiscordGateway {
  const client = new Client({ intents: [GatewayIntentBits.Guilds], ...(o.apiUrl ? { rest: { api: o.apiUrl } } : {}) });

  client.on(Events.InteractionCreate, (interaction) => {
    const work = async () => {
      if (interaction.isButton() || interaction.isStringSelectMenu()) {
        // Acknowledge within Discord's 3 seconds; the answer, if any, comes as an ephemeral follow-up.
        await interaction.deferUpdate();
        const tellPrivately = async (text: string) => {
          await interaction.followUp({ content: renderPrivateText(text), flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
        };
        await handleButtonPress(o.getEngine(), o.platform, buttonPressFromInteraction(interaction, tellPrivately), o.log);
      } else if (interaction.isChatInputCommand()) {
        // Deferred privately within the 3 seconds; the answer replaces the "thinking…" message.
        await interaction.deferReply({ flags: MessageFlags.Ephemeral });
        const text = await handleCommand(o.getEngine(), o.platform, commandRequestFromInteraction(interaction), o.log);
        await interaction.editReply({ content: renderPrivateText(text), allowedMentions: NO_MENTIONS });
      }
    };
    work().catch((error: unknown) => o.log.error({ err: error, interaction: interaction.id }, 'discord interaction failed'));
  });
  client.on(Events.Error, (error) => o.log.error({ err: error }, 'discord gateway error'));
  client.once(Events.ClientReady, (ready) => o.log.info({ user: ready.user.tag }, 'discord gateway connected'));

  // A failed login is logged, not thrown: the bot keeps running (incidents stored and audited).
  client.login(o.token).catch((error: unknown) => o.log.error({ err: error }, 'discord gateway login failed'));

  return {
    stop: async () => {
      await client.destroy();
    },
  };
}
