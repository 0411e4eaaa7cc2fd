import { BotError, ConfigError } from './domain/errors.js';
import { prettyDestination } from './logger.js';
import { loadRunnerConfig } from './runner/config.js';
import { startRunner } from './runner/start.js';

/*
 * Entry point of the runner agent (`npm run runner`, `node dist/src/runner.js`, the image's `runner`
 * command), deployed on each host whose systems the bot's steps act on. It connects out to the bot
 * (BOT_URL), takes the jobs meant for it, runs them with this host's own copy of the runbooks, and
 * reports back. The only place of the runner that reads process.env and handles signals.
 */

/**
 * ENV_FILE when set (it must exist). Unlike the bot, a runner reads no implicit `.env`: in a
 * checkout that file holds the bot's settings (its RUNBOOKS_DIR, its tokens), not this host's.
 */
function loadEnvFile(env: NodeJS.ProcessEnv): void {
  const file = env.ENV_FILE?.trim();
  if (!file) return;
  try {
    process.loadEnvFile(file);
  } catch (error) {
    throw new ConfigError(`Invalid runner configuration:\n  - ENV_FILE: cannot read ${JSON.stringify(file)}: ${(error as Error).message}`);
  }
}

async function main(): Promise<void> {
  loadEnvFile(process.env);
  const config = loadRunnerConfig(process.env);
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  const runner = await startRunner(config, process.env, pretty ? await prettyDestination() : undefined);
  let stopping = false;
  const shutdown = (signal: string) => {
    // A terminal's Ctrl-C reaches the whole process group; a second signal must not cut the stop short.
    if (stopping) {
      runner.log.info({ signal }, 'already stopping');
      return;
    }
    stopping = true;
    runner.log.info({ signal, graceMs: config.stopGraceMs }, 'stopping');
    runner.agent.stop(config.stopGraceMs).then(
      () => {
        runner.log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        runner.log.error({ err: error }, 'stopping failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => void runner.reload());
}

main().catch((error: unknown) => {
  // Configuration and manifest errors are for a person to read: the message, not a stack.
  process.stderr.write(`${error instanceof BotError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
