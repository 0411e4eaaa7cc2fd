import { createBot } from './app.js';
import { loadConfig } from './config.js';
import { BotError } from './core/errors.js';

/** Entry point: the only place that reads process.env and handles signals. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const bot = await createBot(config, { env: process.env });
  await bot.listen();
  let signals = 0;
  const shutdown = (signal: string) => {
    signals += 1;
    if (signals > 1) process.exit(1);
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
