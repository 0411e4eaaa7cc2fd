import { createHash } from 'node:crypto';
import type { RequestListener } from 'node:http';
import { App, HTTPReceiver, webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { SlackConfig } from '../../settings/config.js';
import type { IncidentUseCases } from '../../core/use-cases.js';
import { parseCommandText } from '../../core/commands/parse.js';
import { COMMAND_NAMES } from '../../core/commands/schema.js';
import { handleButtonPress } from '../../handlers/button-press.js';
import { handleCommand } from '../../handlers/command.js';
import { boltLogger } from './bolt-logger.js';
import { SlackPlatform } from './platform.js';
import { pressedButtonId } from './render.js';

const REPLAY_WINDOW_SECONDS = 5 * 60;
/** Slack shows a message's text in full up to about 4,000 characters. */
const SLACK_REPLY_CHARS = 3_900;

export interface SlackApp {
  platform: SlackPlatform;
  /** Serves POST /slack/events: Bolt verifies the signature (5-minute window) and acknowledges. */
  requestListener: RequestListener;
}

/**
 * Bolt on the bot's own HTTP server: Bolt's HTTPReceiver verifies and parses requests, but its
 * listener is mounted on our server instead of starting a second one. The engine is looked up
 * lazily because it needs the platform this function creates.
 */
export function createSlackApp(config: SlackConfig, getEngine: () => IncidentUseCases, log: Logger): SlackApp {
  const logger = boltLogger(log);
  const receiver = new HTTPReceiver({
    signingSecret: config.signingSecret,
    endpoints: '/slack/events',
    logger,
    // Ack first, work after: Slack wants the answer within 3 seconds.
    processBeforeResponse: false,
  });
  const clientOptions = {
    ...(config.apiUrl ? { slackApiUrl: config.apiUrl } : {}),
    // The outbox owns retries and honours Retry-After itself; the client must not stall its queue for minutes.
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 2000 },
    timeout: 10_000,
  };
  // Bolt's single-token mode (`token`) asks Slack who the bot is (auth.test) at construction, and
  // with that check off, again before every listener runs: each press waited a Slack round trip
  // for its ack and spent auth.test's rate limit. The listeners need only the token, so Bolt is
  // given an authorize that answers with it, and the bot's own client makes the API calls.
  const app = new App({
    receiver,
    logger,
    authorize: () => Promise.resolve({ botToken: config.botToken }),
    clientOptions,
  });
  const client = new webApi.WebClient(config.botToken, { ...clientOptions, logger });
  // chat.postMessage has no idempotency key: a client retry after a timeout or a lost answer posts
  // the message a second time. Posts go through a client that never retries by itself; the outbox
  // retries them, after looking for the first one (SlackPlatform.findDelivered).
  const postClient = new webApi.WebClient(config.botToken, { ...clientOptions, retryConfig: { retries: 0 }, logger });
  const platform = new SlackPlatform(client, { postClient, log });

  app.action(/.*/, async ({ ack, body, action }) => {
    await ack();
    if (body.type !== 'block_actions' || !('action_id' in action)) return;
    // A button's action_id, or the option chosen in a card's "More steps" menu: the same action.
    const buttonId = pressedButtonId(action);
    if (buttonId === undefined) return;
    if (!(await isFirstSighting(getEngine(), 'action', [body.trigger_id, 'action_ts' in action ? action.action_ts : undefined, buttonId, body.user.id], log))) return;
    const message = ('message' in body ? body.message : undefined) as { ts?: unknown; thread_ts?: unknown } | undefined;
    const threadId = typeof message?.thread_ts === 'string' ? message.thread_ts : typeof message?.ts === 'string' ? message.ts : undefined;
    const container = body.container as { channel_id?: string } | undefined;
    await handleButtonPress(
      getEngine(),
      platform,
      { userId: body.user.id, channel: body.channel?.id ?? container?.channel_id ?? '', threadId, buttonId },
      log,
    );
  });

  // Slash commands: acknowledged at once (Slack wants an answer within 3 seconds), then answered
  // privately through the command's response_url, which stays valid for 30 minutes.
  for (const name of COMMAND_NAMES) {
    app.command(`/${name}`, async ({ ack, command, respond }) => {
      await ack();
      if (!(await isFirstSighting(getEngine(), 'command', [command.trigger_id, command.command, command.text, command.user_id], log))) return;
      const text = await handleCommand(
        getEngine(),
        platform,
        { userId: command.user_id, channel: command.channel_id, input: parseCommandText(name, command.text), maxReplyChars: SLACK_REPLY_CHARS },
        log,
      );
      await respond({ response_type: 'ephemeral', text });
    });
  }

  app.error((error) => {
    log.error({ err: error }, 'slack listener failed');
    return Promise.resolve();
  });

  return {
    platform,
    requestListener: (req, res) => {
      // Bolt refuses requests older than 5 minutes; Slack's guidance is a window both ways, so a
      // request stamped in the future (a replay prepared in advance) is refused here too.
      const stamp = Number(req.headers['x-slack-request-timestamp']);
      if (Number.isFinite(stamp) && stamp - Date.now() / 1000 > REPLAY_WINDOW_SECONDS) {
        log.warn('slack request refused: timestamp in the future');
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unauthorized', message: 'request timestamp is in the future' }));
        return;
      }
      receiver.requestListener(req, res);
    },
  };
}

/**
 * Whether this request is new. A signed request replayed within Slack's 5-minute window carries
 * the same trigger_id (unique to each interaction), action ts and payload: it gets the usual ack
 * and nothing else. Remembered in the store, so a replay sent to another replica is caught too.
 */
async function isFirstSighting(engine: IncidentUseCases, kind: string, identity: Array<string | undefined>, log: Logger): Promise<boolean> {
  const key = `slack:${kind}:${createHash('sha256').update(JSON.stringify(identity)).digest('base64url')}`;
  const first = await engine.firstSighting(key);
  if (!first) log.warn({ kind, triggerId: identity[0] }, 'slack request replayed: acknowledged, not handled again');
  return first;
}
