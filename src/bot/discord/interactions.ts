import type { IncomingMessage, ServerResponse } from 'node:http';
import type { REST } from '@discordjs/rest';
import { InteractionResponseType, MessageFlags, Routes } from 'discord-api-types/v10';
import type { Logger } from 'pino';
import type { ChatPlatform } from '../../core/ports/chat-platform.js';
import type { IncidentUseCases } from '../../core/use-cases.js';
import { InputError } from '../../domain/errors.js';
import { handleButtonPress } from '../../handlers/button-press.js';
import { handleCommand } from '../../handlers/command.js';
import { readBody } from '../../http/read-body.js';
import { sendError, sendJson } from '../../http/respond.js';
import { parseInteraction } from './parse-interaction.js';
import { NO_MENTIONS, renderPrivateText } from './render.js';
import { verifyDiscordRequest } from './verify.js';
import { t } from '../../core/i18n/index.js';

export { parseInteraction, type ParsedInteraction } from './parse-interaction.js';
export { verifyDiscordRequest, type DiscordRequestToVerify } from './verify.js';

/** Interactions are small; Discord's own are a few kilobytes. */
export const DEFAULT_INTERACTION_BODY_LIMIT = 1024 * 1024;

/** Discord's limit on a message's content. */
export const DISCORD_REPLY_CHARS = 2000;

export interface DiscordInteractionsOptions {
  /** The application's public key (hex) from the developer portal. */
  publicKeyHex: string;
  applicationId: string;
  /** Used for follow-up messages, which authenticate with the interaction token, not the bot token. */
  rest: Pick<REST, 'post' | 'patch'>;
  /** Looked up per press: the engine needs the platform, which is created before it. */
  getEngine: () => IncidentUseCases;
  platform: ChatPlatform;
  log: Logger;
  bodyLimit?: number | undefined;
  clock?: () => number;
}

export interface DiscordInteractionsHandler {
  /** Serves POST /discord/interactions. */
  (req: IncomingMessage, res: ServerResponse): void;
  /** Resolves when the work started by earlier presses has finished (graceful shutdown, tests). */
  idle(): Promise<void>;
}

/**
 * Discord's HTTP interactions endpoint. Every request's Ed25519 signature is checked on the raw
 * body before anything is parsed (Discord sends bad signatures on purpose to check this). A button
 * press is acknowledged at once with "deferred update" — Discord wants an answer within 3 seconds —
 * and handled afterwards; what the presser must be told goes to them privately as an ephemeral
 * follow-up, which the interaction token allows for 15 minutes.
 */
export function createDiscordInteractionsHandler(o: DiscordInteractionsOptions): DiscordInteractionsHandler {
  const limit = o.bodyLimit ?? DEFAULT_INTERACTION_BODY_LIMIT;
  const clock = o.clock ?? Date.now;
  const running = new Set<Promise<void>>();

  const followUp = async (token: string, text: string): Promise<void> => {
    await o.rest.post(Routes.webhook(o.applicationId, token), {
      body: { content: renderPrivateText(text), flags: MessageFlags.Ephemeral, allowed_mentions: NO_MENTIONS },
      auth: false,
    });
  };

  const editOriginal = async (token: string, text: string): Promise<void> => {
    await o.rest.patch(Routes.webhookMessage(o.applicationId, token, '@original'), {
      body: { content: renderPrivateText(text), allowed_mentions: NO_MENTIONS },
      auth: false,
    });
  };

  /** Work started after the answer is on its way (the token lasts 15 minutes); tracked for `idle()`. */
  const later = (work: () => Promise<void>, onError: (error: unknown) => Promise<void>): void => {
    const done: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(work)
      .catch((error: unknown) => onError(error).catch((e: unknown) => o.log.warn({ err: e }, 'could not tell user')))
      .finally(() => running.delete(done));
    running.add(done);
  };

  /**
   * A signed interaction sent again within Discord's signature window carries the same id: it gets
   * the usual answer and nothing else. Remembered in the store, so every replica recognises it.
   */
  const firstSighting = async (interactionId: string): Promise<boolean> => {
    const first = await o.getEngine().firstSighting(`discord:${interactionId}`);
    if (!first) o.log.warn({ interactionId }, 'discord interaction replayed: acknowledged, not handled again');
    return first;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let rawBody: Buffer;
    try {
      rawBody = await readBody(req, limit);
    } catch (error) {
      if (error instanceof InputError) return sendError(res, error.status, error.code, error.message);
      throw error;
    }
    const verified = verifyDiscordRequest({
      publicKeyHex: o.publicKeyHex,
      signature: header(req, 'x-signature-ed25519'),
      timestamp: header(req, 'x-signature-timestamp'),
      rawBody,
      now: clock(),
    });
    if (!verified) return sendError(res, 401, 'unauthorized', 'invalid request signature');

    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return sendError(res, 400, 'invalid_json', 'the body is not JSON');
    }
    const interaction = parseInteraction(json);
    switch (interaction.kind) {
      case 'ping':
        return sendJson(res, 200, { type: InteractionResponseType.Pong });
      case 'button': {
        sendJson(res, 200, { type: InteractionResponseType.DeferredMessageUpdate });
        const { token } = interaction;
        const tellPrivately = (text: string) => followUp(token, text);
        later(
          async () => {
            if (!(await firstSighting(interaction.interactionId))) return;
            await handleButtonPress(
              o.getEngine(),
              o.platform,
              { userId: interaction.userId, channel: interaction.channelId, threadId: interaction.threadId, buttonId: interaction.customId, user: interaction.user, tellPrivately },
              o.log,
            );
          },
          async (error) => {
            o.log.error({ err: error, buttonId: interaction.customId, user: interaction.userId }, 'discord button press failed');
            await tellPrivately(t('answer.buttonFailed'));
          },
        );
        return;
      }
      case 'command': {
        // Deferred, privately ("thinking…" only the user sees): a command may call Alertmanager or
        // wait on the store for longer than Discord's 3 seconds. The answer replaces it.
        sendJson(res, 200, { type: InteractionResponseType.DeferredChannelMessageWithSource, data: { flags: MessageFlags.Ephemeral } });
        const { token } = interaction;
        const answer = (text: string) => editOriginal(token, text);
        later(
          async () => {
            if (!(await firstSighting(interaction.interactionId))) return;
            const input = { name: interaction.name, subcommand: interaction.subcommand, options: interaction.options };
            const request = { userId: interaction.userId, user: interaction.user, channel: interaction.channelId, input, maxReplyChars: DISCORD_REPLY_CHARS };
            await answer(await handleCommand(o.getEngine(), o.platform, request, o.log));
          },
          async (error) => {
            o.log.error({ err: error, command: interaction.name, user: interaction.userId }, 'discord command failed');
            await answer(t('command.failed'));
          },
        );
        return;
      }
      case 'unsupported':
        o.log.info({ type: interaction.type }, 'unsupported discord interaction');
        return sendError(res, 400, 'unsupported_interaction', `interaction type ${interaction.type} is not handled`);
      case 'invalid':
        o.log.warn({ reason: interaction.reason }, 'invalid discord interaction');
        return sendError(res, 400, 'invalid_interaction', interaction.reason);
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      o.log.error({ err: error }, 'discord interaction failed');
      if (!res.headersSent) sendError(res, 500, 'internal_error', 'internal error; it has been logged');
      else res.end();
    });
  };
  return Object.assign(listener, {
    idle: async () => {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
