import fs from 'node:fs';
import { createBot } from './app.js';
import { loadConfig } from './settings/config.js';
import { BotError, ConfigError } from './domain/errors.js';
import { prettyDestination } from './logger.js';

/**
 * Settings files: ENV_FILE when set (it must exist), else ./.env when present. Variables already in
 * the environment win, so a deployment's own settings are never overridden by a stray file.
 */
function loadEnvFile(env: NodeJS.ProcessEnv): void {
  const explicit = env.ENV_FILE?.trim();
  const file = explicit || '.env';
  if (!explicit && !fs.existsSync(file)) return;
  try {
    process.loadEnvFile(file);
  } catch (error) {
    throw new ConfigError(`Invalid configuration:\n  - ENV_FILE: cannot read ${JSON.stringify(file)}: ${(error as Error).message}`);
  }
}

/** Entry point: the only place that reads process.env and handles signals. */
async function main(): Promise<void> {
  loadEnvFile(process.env);
  const config = loadConfig(process.env);
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  const bot = await createBot(config, { env: process.env, ...(pretty ? { logDestination: await prettyDestination() } : {}) });
  await bot.listen();
  // One plain line a person can click, whatever the log format.
  if (bot.consoleUrl) process.stdout.write(`Console: ${bot.consoleUrl}\n`);
  let stopping = false;
  const shutdown = (signal: string) => {
    // A terminal's Ctrl-C reaches every process of the group, and a launcher may pass the same
    // signal on: a second signal must not cut the graceful stop short (it is bounded by
    // SHUTDOWN_TIMEOUT_MS already).
    if (stopping) {
      bot.log.info({ signal }, 'already shutting down');
      return;
    }
    stopping = true;
    bot.log.info({ signal }, 'shutting down');
    bot.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        bot.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  // Configuration and manifest errors are for a person to read: print the message, not a stack.
  process.stderr.write(`${error instanceof BotError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
