import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pino from 'pino';
import type { Logger } from 'pino';
import { createRedactor } from '../domain/redact.js';
import { createLogger } from '../logger.js';
import { loadRunbooks, localStepRunner } from '../runbooks/index.js';
import { RunnerAgent } from './agent.js';
import type { RunnerConfig } from './config.js';

/** The project's version (package.json), sent with each poll; the same file in a checkout, a build and the image. */
async function projectVersion(): Promise<string> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // src/runner/ in a checkout, dist/src/runner/ in a build.
  for (const up of ['../..', '../../..']) {
    try {
      const pkg = JSON.parse(await fs.readFile(path.join(here, up, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'incident-chatops-bot' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not this one
    }
  }
  return 'unknown';
}

export interface StartedRunner {
  agent: RunnerAgent;
  log: Logger;
  /** Loads the manifests again (SIGHUP); an invalid set is logged and the loaded one kept. */
  reload(): Promise<void>;
}

/**
 * Builds the runner from its configuration: its logger (which redacts its token), its own copy of
 * the runbooks (an invalid one stops the start, as for the bot), its state directory, and the agent.
 */
export async function startRunner(config: RunnerConfig, env: NodeJS.ProcessEnv, destination?: pino.DestinationStream): Promise<StartedRunner> {
  const redact = createRedactor(config.secrets);
  const log = createLogger(config.logLevel, redact, destination, 'chatops-runner');
  const runbooks = await loadRunbooks(config.runbooksDirs);
  await fs.mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  const version = await projectVersion();
  const agent = new RunnerAgent({ config, log, redact, env, version, runbooks });
  if (new URL(config.botUrl).protocol === 'http:' && !/^(localhost|127\.|\[::1\])/.test(new URL(config.botUrl).host)) {
    log.warn({ bot: config.botUrl }, 'BOT_URL is plain http to another host: the runner token crosses the network unencrypted; use https');
  }
  await agent.start();
  log.info(
    { runner: config.name, bot: config.botUrl, labels: config.labels, runbooks: runbooks.map((r) => r.name), stateDir: config.stateDir, host: localStepRunner.host(), version },
    'runner started',
  );
  return {
    agent,
    log,
    async reload() {
      try {
        const fresh = await loadRunbooks(config.runbooksDirs);
        agent.replaceRunbooks(fresh);
        log.info({ runbooks: fresh.map((r) => r.name) }, 'runbooks reloaded');
      } catch (error) {
        log.error({ err: error }, 'the runbooks could not be reloaded; the ones loaded before stay in use');
      }
    },
  };
}
