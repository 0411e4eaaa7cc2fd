import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import type { DiscordConfig } from '../../settings/config.js';
import type { IncidentUseCases } from '../../core/use-cases.js';
import { startDiscordGateway } from './gateway.js';
import { createDiscordInteractionsHandler } from './interactions.js';
import { createDiscordRest, DiscordPlatform } from './platform.js';

export interface DiscordApp {
  platform: DiscordPlatform;
  /** Serves POST /discord/interactions in http mode; undefined in gateway mode. */
  interactions: RequestListener | undefined;
  start(): void;
  /** Waits for presses still being handled (http) or closes the gateway connection. */
  stop(): Promise<void>;
}

/**
 * Discord as configured: REST for posting, and interactions either from Discord's HTTP endpoint
 * (verified with the public key) or over the gateway (for deployments without a public URL).
 * Discord delivers interactions one way or the other, never both.
 */
export function createDiscord(config: DiscordConfig, getEngine: () => IncidentUseCases, log: Logger): DiscordApp {
  const rest = createDiscordRest({ botToken: config.botToken, apiUrl: config.apiUrl });
  const platform = new DiscordPlatform(rest, { guildId: config.guildId, log });
  if (config.mode === 'gateway') {
    let gateway: { stop(): Promise<void> } | undefined;
    return {
      platform,
      interactions: undefined,
      start() {
        gateway = startDiscordGateway({ token: config.botToken, apiUrl: config.apiUrl, getEngine, platform, log });
      },
      stop: () => gateway?.stop() ?? Promise.resolve(),
    };
  }
  if (config.publicKey === undefined) throw new Error('DISCORD_PUBLIC_KEY is required in http mode');
  const handler = createDiscordInteractionsHandler({ publicKeyHex: config.publicKey, applicationId: config.applicationId, rest, getEngine, platform, log });
  return { platform, interactions: handler, start: () => undefined, stop: () => handler.idle() };
}
