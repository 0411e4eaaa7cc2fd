/**
 * Builds HTTP requests the way Slack sends them to an app: signed headers, `block_actions`
 * interaction payloads (form-encoded `payload=<json>`) and slash-command bodies (form-encoded).
 *
 * Signing follows docs.slack.dev/authentication/verifying-requests-from-slack:
 *   X-Slack-Signature: v0=hex(HMAC-SHA256(signingSecret, "v0:" + timestamp + ":" + rawBody))
 *   X-Slack-Request-Timestamp: timestamp (Unix seconds)
 */
import { createHmac } from 'node:crypto';

export interface SlackSignedHeaders {
  'x-slack-signature': string;
  'x-slack-request-timestamp': string;
  'content-type': string;
}

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

/** Unix seconds, as Slack puts it in `X-Slack-Request-Timestamp`. */
export function slackTimestamp(date: Date = new Date()): string {
  return String(Math.floor(date.getTime() / 1000));
}

/**
 * Headers Slack would send with `body`. `timestamp` defaults to now (Unix seconds); pass an old one
 * to test replay rejection. The content type is JSON for Events API bodies (starting with `{`) and
 * form-encoded otherwise (interactions, slash commands), unless given.
 */
export function signSlackRequest(
  signingSecret: string,
  body: string,
  timestamp: string | number = slackTimestamp(),
  contentType?: string,
): SlackSignedHeaders {
  const ts = String(timestamp);
  const digest = createHmac('sha256', signingSecret).update(`v0:${ts}:${body}`, 'utf8').digest('hex');
  return {
    'x-slack-signature': `v0=${digest}`,
    'x-slack-request-timestamp': ts,
    'content-type': contentType ?? (body.trimStart().startsWith('{') ? JSON_TYPE : FORM),
  };
}

export interface FakeTeam {
  id: string;
  domain: string;
}

export const DEFAULT_TEAM: FakeTeam = { id: 'T0FAKE', domain: 'fake-workspace' };
export const DEFAULT_APP_ID = 'A0FAKEAPP';
/** The legacy verification token Slack still puts in payloads (deprecated, never to be trusted). */
export const DEFAULT_VERIFICATION_TOKEN = 'fake-verification-token';

let triggerCounter = 0;
function triggerId(): string {
  triggerCounter += 1;
  return `${1700000000 + triggerCounter}.1234567890.${triggerCounter.toString(16).padStart(32, '0')}`;
}

function actionTs(): string {
  const now = Date.now();
  return `${Math.floor(now / 1000)}.${String((now % 1000) * 1000).padStart(6, '0')}`;
}

export interface BlockActionsInput {
  user: { id: string; name: string };
  channel: string;
  /** Channel name shown in `channel.name`; defaults to `incidents`. */
  channelName?: string;
  messageTs: string;
  actionId: string;
  value: string;
  /**
   * A choice in a static select instead of a button click: the select's `action_id` is `actionId`
   * and the chosen option is this one (`value` is then unused).
   */
  selectedOption?: { value: string; text: string; placeholder?: string };
  blockId?: string;
  /** Button label (`actions[0].text.text`); defaults to the action id. */
  buttonText?: string;
  /** Button style, if the clicked button had one. */
  style?: 'primary' | 'danger';
  responseUrl?: string;
  /** The message the button was on; merged over a minimal bot message with `ts: messageTs`. */
  message?: Record<string, unknown>;
  /** Set to make `container.thread_ts` / `message.thread_ts` point at a thread. */
  threadTs?: string;
  team?: FakeTeam;
  apiAppId?: string;
  token?: string;
  triggerId?: string;
}

/** The JSON object of a `block_actions` payload for one button click or select choice, shaped like Slack's. */
export function blockActionsPayload(input: BlockActionsInput): Record<string, unknown> {
  const team = input.team ?? DEFAULT_TEAM;
  const blockId = input.blockId ?? 'actions';
  const message: Record<string, unknown> = {
    type: 'message',
    subtype: 'bot_message',
    text: '',
    user: 'UBOT',
    bot_id: 'BBOT',
    app_id: input.apiAppId ?? DEFAULT_APP_ID,
    team: team.id,
    ts: input.messageTs,
    ...(input.threadTs !== undefined ? { thread_ts: input.threadTs } : {}),
    blocks: [],
    ...input.message,
  };
  const chosen = input.selectedOption;
  const action: Record<string, unknown> = chosen
    ? {
        type: 'static_select',
        action_id: input.actionId,
        block_id: blockId,
        selected_option: { text: { type: 'plain_text', text: chosen.text, emoji: true }, value: chosen.value },
        placeholder: { type: 'plain_text', text: chosen.placeholder ?? 'Select an item', emoji: true },
        action_ts: actionTs(),
      }
    : {
        action_id: input.actionId,
        block_id: blockId,
        text: { type: 'plain_text', text: input.buttonText ?? input.actionId, emoji: true },
        value: input.value,
        ...(input.style !== undefined ? { style: input.style } : {}),
        type: 'button',
        action_ts: actionTs(),
      };
  return {
    type: 'block_actions',
    user: { id: input.user.id, username: input.user.name, name: input.user.name, team_id: team.id },
    api_app_id: input.apiAppId ?? DEFAULT_APP_ID,
    token: input.token ?? DEFAULT_VERIFICATION_TOKEN,
    container: {
      type: 'message',
      message_ts: input.messageTs,
      channel_id: input.channel,
      is_ephemeral: false,
      ...(input.threadTs !== undefined ? { thread_ts: input.threadTs } : {}),
    },
    trigger_id: input.triggerId ?? triggerId(),
    team: { id: team.id, domain: team.domain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: input.channel, name: input.channelName ?? 'incidents' },
    message,
    state: { values: {} },
    response_url:
      input.responseUrl ?? `https://hooks.slack.com/actions/${team.id}/1234567890/${'x'.repeat(24)}`,
    actions: [action],
  };
}

/** Form-encoded body `payload=<json>` of a `block_actions` interaction, as Slack POSTs it. */
export function blockActionsBody(input: BlockActionsInput): string {
  return new URLSearchParams({ payload: JSON.stringify(blockActionsPayload(input)) }).toString();
}

export interface SlashCommandInput {
  command: string;
  text: string;
  user_id: string;
  channel_id: string;
  user_name?: string;
  channel_name?: string;
  team_id?: string;
  team_domain?: string;
  api_app_id?: string;
  response_url?: string;
  trigger_id?: string;
  token?: string;
  enterprise_id?: string;
  enterprise_name?: string;
}

/** Form-encoded body of a slash command, with the fields (and order) Slack sends. */
export function slashCommandBody(input: SlashCommandInput): string {
  const teamId = input.team_id ?? DEFAULT_TEAM.id;
  const fields: Array<[string, string]> = [
    ['token', input.token ?? DEFAULT_VERIFICATION_TOKEN],
    ['team_id', teamId],
    ['team_domain', input.team_domain ?? DEFAULT_TEAM.domain],
  ];
  if (input.enterprise_id !== undefined) fields.push(['enterprise_id', input.enterprise_id]);
  if (input.enterprise_name !== undefined) fields.push(['enterprise_name', input.enterprise_name]);
  fields.push(
    ['channel_id', input.channel_id],
    ['channel_name', input.channel_name ?? 'incidents'],
    ['user_id', input.user_id],
    ['user_name', input.user_name ?? input.user_id.toLowerCase()],
    ['command', input.command],
    ['text', input.text],
    ['api_app_id', input.api_app_id ?? DEFAULT_APP_ID],
    ['is_enterprise_install', 'false'],
    ['response_url', input.response_url ?? `https://hooks.slack.com/commands/${teamId}/1234567890/${'y'.repeat(24)}`],
    ['trigger_id', input.trigger_id ?? triggerId()],
  );
  return new URLSearchParams(fields).toString();
}
