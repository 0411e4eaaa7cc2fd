/**
 * Builds interaction requests the way Discord sends them to an app's Interactions Endpoint URL:
 * Ed25519-signed headers and JSON payloads shaped like the real ones.
 *
 * Signing follows discord.com/developers/docs/interactions/overview ("Setting Up an Endpoint",
 * team platform notes §3):
 *   X-Signature-Ed25519:   hex(Ed25519-sign(privateKey, timestamp + rawBody))
 *   X-Signature-Timestamp: timestamp (Unix seconds, as a string)
 * The app verifies with its public key, which the developer portal shows as 64 hex characters
 * (the raw 32-byte key, what DISCORD_PUBLIC_KEY holds).
 *
 *   const keys = createTestKeyPair();
 *   const body = JSON.stringify(componentInteraction({ customId: 'ack:inc-1' }));
 *   await fetch(url, { method: 'POST', headers: signInteraction(keys.privateKey, body), body });
 *
 * Ids are snowflakes (decimal strings, milliseconds since 2015-01-01 shifted left by 22 bits).
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

export type JsonObject = { [key: string]: unknown };

export const DEFAULT_APPLICATION_ID = '1100000000000000001';
export const DEFAULT_GUILD_ID = '1100000000000000002';
/** A guild text channel id used by the builders when none is given. */
export const DEFAULT_CHANNEL_ID = '1100000000000000003';
/** Discord's default bot display name in the fake. */
export const DEFAULT_BOT_USERNAME = 'incident-bot';

export const DEFAULT_ROLE_IDS = { oncall: '1300000000000000001', lead: '1300000000000000002' } as const;

export interface FakeMember {
  username: string;
  nick?: string;
  roles: string[];
  /** The user has DMs from server members turned off: posting to their DM channel answers 50007. */
  dmsClosed?: boolean;
}

/** Guild members known to the fake (and the builders' default clicker, alice) when none are given. */
export const DEFAULT_MEMBERS: Readonly<Record<string, FakeMember>> = {
  '1200000000000000001': { username: 'alice', nick: 'Alice Oncall', roles: [DEFAULT_ROLE_IDS.oncall] },
  '1200000000000000002': { username: 'bob', nick: 'Bob Lead', roles: [DEFAULT_ROLE_IDS.oncall, DEFAULT_ROLE_IDS.lead] },
  '1200000000000000003': { username: 'carol', roles: [] },
};
export const DEFAULT_USER_ID = '1200000000000000001';

/** Discord's epoch, 2015-01-01T00:00:00Z. */
export const DISCORD_EPOCH_MS = 1420070400000;

let lastSnowflake = 0n;
/** A fresh snowflake for time `at`, strictly greater than every earlier one made in this process. */
export function nextSnowflake(at: number = Date.now()): string {
  let id = BigInt(Math.max(0, at - DISCORD_EPOCH_MS)) << 22n;
  if (id <= lastSnowflake) id = lastSnowflake + 1n;
  lastSnowflake = id;
  return id.toString();
}

/** Milliseconds since the Unix epoch encoded in a snowflake. */
export function snowflakeTime(id: string): number {
  return Number(BigInt(id) >> 22n) + DISCORD_EPOCH_MS;
}

/** An interaction token shaped like Discord's (base64url of `interaction:<id>:<random>`). */
export function interactionToken(interactionId: string = nextSnowflake()): string {
  return Buffer.from(`interaction:${interactionId}:${randomBytes(48).toString('base64url')}`).toString('base64url');
}

export interface TestKeyPair {
  /** The raw 32-byte Ed25519 public key as 64 lower-case hex characters. */
  publicKeyHex: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A fresh Ed25519 key pair; the public key comes out as the last 32 bytes of its SPKI DER form. */
export function createTestKeyPair(): TestKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return { publicKeyHex: der.subarray(der.length - 32).toString('hex'), privateKey, publicKey };
}

/** A type alias (not an interface) so that it is assignable to `Record<string, string>` / fetch headers. */
export type DiscordSignedHeaders = {
  'x-signature-ed25519': string;
  'x-signature-timestamp': string;
  'content-type': string;
};

/** Unix seconds, as Discord puts it in `X-Signature-Timestamp`. */
export function discordTimestamp(date: Date = new Date()): string {
  return String(Math.floor(date.getTime() / 1000));
}

/**
 * Headers Discord would send with `body` (sign the exact string you POST). `timestamp` defaults to
 * now; pass another to test replay checks.
 */
export function signInteraction(
  privateKey: KeyObject,
  body: string,
  timestamp: string = discordTimestamp(),
): DiscordSignedHeaders {
  const signature = sign(null, Buffer.from(timestamp + body), privateKey);
  return {
    'x-signature-ed25519': signature.toString('hex'),
    'x-signature-timestamp': timestamp,
    'content-type': 'application/json',
  };
}

/** Interaction types (discord-api-types InteractionType). */
export const INTERACTION_TYPE = { ping: 1, applicationCommand: 2, messageComponent: 3, autocomplete: 4, modalSubmit: 5 } as const;
/** Interaction response (callback) types. */
export const INTERACTION_RESPONSE = {
  pong: 1,
  channelMessage: 4,
  deferredChannelMessage: 5,
  deferredUpdateMessage: 6,
  updateMessage: 7,
  autocompleteResult: 8,
  modal: 9,
} as const;
export const EPHEMERAL_FLAG = 64;

/** Every permission bit Discord defines today, the way `app_permissions` of an admin bot looks. */
const ALL_PERMISSIONS = '2251799813685247';

export interface BaseInteractionInput {
  applicationId?: string;
  /** Interaction id (a snowflake; generated when left out). */
  id?: string;
  /** Interaction token (generated when left out); register it with the fake before following up. */
  token?: string;
  /** `null` makes a DM interaction: `user` instead of `member`, no guild fields. */
  guildId?: string | null;
  channelId?: string;
  userId?: string;
  username?: string;
  globalName?: string | null;
  /** Guild nickname; defaults to the DEFAULT_MEMBERS entry of `userId`, if any. */
  nick?: string | null;
  /** Member roles; default to the DEFAULT_MEMBERS entry of `userId`, or none. */
  roles?: string[];
  locale?: string;
  /** `app_permissions` (a decimal bit set string). */
  appPermissions?: string;
  /** `member.permissions` (a decimal bit set string). */
  memberPermissions?: string;
}

function isoTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

function userObject(id: string, username: string, globalName: string | null): JsonObject {
  return {
    id,
    username,
    avatar: null,
    discriminator: '0',
    public_flags: 0,
    flags: 0,
    banner: null,
    accent_color: null,
    global_name: globalName,
    avatar_decoration_data: null,
    collectibles: null,
    primary_guild: null,
    clan: null,
  };
}

/** The fields every non-PING interaction carries: who, where, permissions, token. */
function commonFields(input: BaseInteractionInput, type: number): JsonObject {
  const id = input.id ?? nextSnowflake();
  const userId = input.userId ?? DEFAULT_USER_ID;
  const known = DEFAULT_MEMBERS[userId];
  const username = input.username ?? known?.username ?? `user${userId.slice(-4)}`;
  const globalName = input.globalName === undefined ? null : input.globalName;
  const user = userObject(userId, username, globalName);
  const guildId = input.guildId === undefined ? DEFAULT_GUILD_ID : input.guildId;
  const channelId = input.channelId ?? DEFAULT_CHANNEL_ID;
  const applicationId = input.applicationId ?? DEFAULT_APPLICATION_ID;
  const locale = input.locale ?? 'en-US';
  const base: JsonObject = {
    app_permissions: input.appPermissions ?? ALL_PERMISSIONS,
    application_id: applicationId,
    attachment_size_limit: 10485760,
    entitlements: [],
    entitlement_sku_ids: [],
    id,
    locale,
    token: input.token ?? interactionToken(id),
    type,
    version: 1,
  };
  if (guildId === null) {
    return {
      ...base,
      authorizing_integration_owners: { '0': applicationId },
      channel: { id: channelId, type: 1, flags: 0, last_message_id: null, recipients: [user] },
      channel_id: channelId,
      context: 1,
      user,
    };
  }
  return {
    ...base,
    authorizing_integration_owners: { '0': guildId },
    channel: {
      id: channelId,
      type: 0,
      guild_id: guildId,
      name: 'incidents',
      flags: 0,
      nsfw: false,
      parent_id: null,
      permissions: input.memberPermissions ?? ALL_PERMISSIONS,
      position: 0,
      rate_limit_per_user: 0,
      topic: null,
      last_message_id: null,
    },
    channel_id: channelId,
    context: 0,
    guild: { id: guildId, locale: 'en-US', features: [] },
    guild_id: guildId,
    guild_locale: 'en-US',
    member: {
      avatar: null,
      banner: null,
      communication_disabled_until: null,
      deaf: false,
      flags: 0,
      joined_at: '2024-01-01T00:00:00.000000+00:00',
      mute: false,
      nick: input.nick === undefined ? (known?.nick ?? null) : input.nick,
      pending: false,
      permissions: input.memberPermissions ?? ALL_PERMISSIONS,
      premium_since: null,
      roles: [...(input.roles ?? known?.roles ?? [])],
      unusual_dm_activity_until: null,
      user,
    },
  };
}

export interface PingInteractionInput {
  applicationId?: string;
  id?: string;
  token?: string;
}

/** The PING Discord sends when the endpoint URL is saved (and now and then to check it). */
export function pingInteraction(input: PingInteractionInput = {}): JsonObject {
  const id = input.id ?? nextSnowflake();
  const applicationId = input.applicationId ?? DEFAULT_APPLICATION_ID;
  return {
    application_id: applicationId,
    entitlements: [],
    id,
    token: input.token ?? interactionToken(id),
    type: INTERACTION_TYPE.ping,
    user: userObject('1000000000000000000', 'discord', 'Discord'),
    version: 1,
  };
}

export interface ComponentInteractionInput extends BaseInteractionInput {
  customId: string;
  /** The message the component is on (a snowflake; generated when left out). */
  messageId?: string;
  /** 2 button (default), 3 string select, 5 user select, 6 role select, 7 mentionable, 8 channel select. */
  componentType?: number;
  /** Selected values, for select menus. */
  values?: string[];
  /** Merged over the minimal bot message the component was on (content, embeds, components, ...). */
  message?: JsonObject;
}

/** A MESSAGE_COMPONENT (type 3) interaction: a click on a button (or a select) of a bot message. */
export function componentInteraction(input: ComponentInteractionInput): JsonObject {
  const common = commonFields(input, INTERACTION_TYPE.messageComponent);
  const applicationId = input.applicationId ?? DEFAULT_APPLICATION_ID;
  const messageId = input.messageId ?? nextSnowflake();
  const componentType = input.componentType ?? 2;
  const message: JsonObject = {
    application_id: applicationId,
    attachments: [],
    author: {
      id: applicationId,
      username: DEFAULT_BOT_USERNAME,
      avatar: null,
      discriminator: '0000',
      public_flags: 0,
      flags: 0,
      bot: true,
      global_name: null,
    },
    channel_id: common.channel_id,
    components: [],
    content: '',
    edited_timestamp: null,
    embeds: [],
    flags: 0,
    id: messageId,
    mention_everyone: false,
    mention_roles: [],
    mentions: [],
    pinned: false,
    timestamp: isoTimestamp(snowflakeTime(messageId)),
    tts: false,
    type: 0,
    ...input.message,
  };
  const data: JsonObject = { component_type: componentType, custom_id: input.customId };
  if (componentType !== 2) data.values = [...(input.values ?? [])];
  return { ...common, data, message };
}

export interface CommandOptionInput {
  name: string;
  /** Option type: 1 subcommand, 2 group, 3 string, 4 integer, 5 boolean, 6 user, 7 channel, 8 role, 10 number. */
  type: number;
  value?: string | number | boolean;
  options?: CommandOptionInput[];
  focused?: boolean;
}

export interface CommandInteractionInput extends BaseInteractionInput {
  name: string;
  options?: CommandOptionInput[];
  /** The registered command's id (generated when left out). */
  commandId?: string;
  /** 1 chat input (default), 2 user, 3 message. */
  commandType?: number;
}

/** An APPLICATION_COMMAND (type 2) interaction, e.g. `/incident list`. */
export function commandInteraction(input: CommandInteractionInput): JsonObject {
  const common = commonFields(input, INTERACTION_TYPE.applicationCommand);
  const data: JsonObject = {
    id: input.commandId ?? nextSnowflake(),
    name: input.name,
    type: input.commandType ?? 1,
    ...(input.options !== undefined ? { options: input.options } : {}),
    ...(typeof common.guild_id === 'string' ? { guild_id: common.guild_id } : {}),
  };
  return { ...common, data };
}
