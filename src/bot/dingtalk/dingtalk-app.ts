import type { Logger } from 'pino';
import type { DingTalkConfig } from '../../settings/config.js';
import type { ChatPlatform } from '../../core/ports/chat-platform.js';
import type { IncidentUseCases } from '../../core/use-cases.js';
import { handleButtonPress } from '../../handlers/button-press.js';
import { DingTalkApi } from './api.js';
import { pressFromCallback } from './callbacks.js';
import { DingTalkPlatform } from './platform.js';
import { CARD_CALLBACK_TOPIC, DingTalkStream } from './stream.js';
import { DingTalkWebhookPlatform } from './webhook.js';

export interface DingTalkApp {
  platform: ChatPlatform;
  start(): void;
  /** Closes the Stream connection and waits for presses still being handled. */
  stop(): Promise<void>;
}

/**
 * DingTalk as configured: an enterprise internal app's robot (cards with buttons, presses over
 * Stream mode) or, one-way, a custom robot's webhook whose buttons open the console.
 */
export function createDingTalk(config: DingTalkConfig, getEngine: () => IncidentUseCases, log: Logger): DingTalkApp {
  if (config.mode === 'webhook') {
    const platform = new DingTalkWebhookPlatform({ webhookUrl: config.webhookUrl, secret: config.webhookSecret, consoleUrl: config.consoleUrl, messagesPerMinute: config.messagesPerMinute, log });
    return { platform, start: () => undefined, stop: () => Promise.resolve() };
  }
  const api = new DingTalkApi({ clientId: config.clientId, clientSecret: config.clientSecret, apiUrl: config.apiUrl, oapiUrl: config.oapiUrl });
  const platform = new DingTalkPlatform(api, { robotCode: config.robotCode, messagesPerMinute: config.messagesPerMinute });
  const running = new Set<Promise<void>>();
  const stream = new DingTalkStream({
    apiUrl: config.apiUrl,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    log,
    callbacks: {
      // Answered at once with no card change (DingTalk pushes an unanswered callback again); the
      // press is handled afterwards, and what the presser must be told goes to them privately.
      [CARD_CALLBACK_TOPIC]: (data, messageId) => {
        const parsed = pressFromCallback(data, config.alertConversationId);
        if (parsed.kind === 'invalid') {
          log.warn({ reason: parsed.reason }, 'dingtalk card callback ignored');
          return {};
        }
        const work = (async () => {
          const engine = getEngine();
          // A callback pushed again (its answer was lost) carries the same message id.
          if (!(await engine.firstSighting(`dingtalk:callback:${messageId}`))) return;
          await handleButtonPress(engine, platform, parsed.press, log);
        })()
          .catch((error: unknown) => log.error({ err: error }, 'dingtalk button press failed'))
          .finally(() => running.delete(work));
        running.add(work);
        return {};
      },
    },
  });
  return {
    platform,
    start: () => stream.start(),
    async stop() {
      stream.stop();
      await Promise.all([...running]);
    },
  };
}
