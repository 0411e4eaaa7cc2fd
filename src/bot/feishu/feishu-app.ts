import { Client, EventDispatcher, LoggerLevel, WSClient } from '@larksuiteoapi/node-sdk';
import type { Logger } from 'pino';
import type { FeishuConfig } from '../../settings/config.js';
import type { ChatPlatform } from '../../core/ports/chat-platform.js';
import type { IncidentUseCases } from '../../core/use-cases.js';
import { handleButtonPress } from '../../handlers/button-press.js';
import { pressFromCardAction } from './callbacks.js';
import { larkLogger } from './lark-logger.js';
import { FeishuPlatform } from './platform.js';
import { TokenCache } from './token-cache.js';
import { FeishuWebhookPlatform } from './webhook.js';

export interface FeishuApp {
  platform: ChatPlatform;
  start(): void;
  /** Closes the long connection and waits for presses still being handled. */
  stop(): Promise<void>;
}

/**
 * Feishu/Lark as configured: a custom app's bot, with presses over the long connection (the
 * SDK's WSClient: no public URL needed), or one-way through a custom bot's webhook.
 */
export function createFeishu(config: FeishuConfig, getEngine: () => IncidentUseCases, log: Logger): FeishuApp {
  if (config.mode === 'webhook') {
    const platform = new FeishuWebhookPlatform({ webhookUrl: config.webhookUrl, secret: config.webhookSecret, consoleUrl: config.consoleUrl, log });
    return { platform, start: () => undefined, stop: () => Promise.resolve() };
  }
  const logger = larkLogger(log);
  const common = { appId: config.appId, appSecret: config.appSecret, domain: config.domain, logger, loggerLevel: LoggerLevel.warn };
  const tokens = new TokenCache();
  const platform = new FeishuPlatform(new Client({ ...common, cache: tokens }), { tokens });
  const running = new Set<Promise<void>>();
  const dispatcher = new EventDispatcher({ logger, loggerLevel: LoggerLevel.warn }).register({
    // Feishu wants the answer within 3 seconds: an empty one (the card stays as it is) goes at
    // once, and the press is handled afterwards; what the presser must be told is an ephemeral card.
    'card.action.trigger': (data: unknown) => {
      const parsed = pressFromCardAction(data, config.alertChatId);
      if (parsed.kind === 'invalid') {
        log.warn({ reason: parsed.reason }, 'feishu card action ignored');
        return {};
      }
      const work = (async () => {
        const engine = getEngine();
        // Feishu delivers an event again when its answer was lost; the event id stays the same.
        if (parsed.eventId !== undefined && !(await engine.firstSighting(`feishu:event:${parsed.eventId}`))) return;
        await handleButtonPress(engine, platform, parsed.press, log);
      })()
        .catch((error: unknown) => log.error({ err: error }, 'feishu button press failed'))
        .finally(() => running.delete(work));
      running.add(work);
      return {};
    },
  });
  const ws = new WSClient({ ...common, autoReconnect: true });
  return {
    platform,
    start: () => void ws.start({ eventDispatcher: dispatcher }),
    async stop() {
      ws.close({ force: true });
      await Promise.all([...running]);
    },
  };
}
