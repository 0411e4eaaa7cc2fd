import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { loadRunnerConfig, parseLabels } from '../../../src/runner/config.js';

const TOKEN = 'runner-token-0123456789abcdef';
const BASE = { BOT_URL: 'https://chatops.example.com/', RUNNER_NAME: 'gitcortex-1', RUNNER_TOKEN: TOKEN, RUNBOOKS_DIR: '/etc/chatops-runner/runbooks' };

const problemsOf = (env: Record<string, string | undefined>): string[] => {
  try {
    loadRunnerConfig(env, 'host-a');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message.split('\n').slice(1).map((line) => line.replace(/^\s+- /, ''));
  }
  throw new Error('the configuration was accepted');
};

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('runner configuration', () => {
  it('reads a minimal environment, with the defaults the README gives', () => {
    const config = loadRunnerConfig(BASE, 'host-a');
    expect(config).toMatchObject({
      botUrl: 'https://chatops.example.com',
      name: 'gitcortex-1',
      token: TOKEN,
      labels: { host: 'host-a' },
      runbooksDirs: ['/etc/chatops-runner/runbooks'],
      stateDir: path.resolve('runner-state'),
      stopGraceMs: 10_000,
      prometheusUrl: undefined,
      logLevel: 'info',
      logFormat: 'auto',
    });
    // The token is a secret the runner redacts from everything it reports.
    expect(config.secrets).toEqual([TOKEN]);
  });

  it('names every variable that is missing, in one message', () => {
    expect(problemsOf({})).toEqual([
      'BOT_URL: required',
      'RUNNER_NAME: required',
      'RUNBOOKS_DIR: required',
      'RUNNER_TOKEN: required (or RUNNER_TOKEN_FILE, a file holding it): the token the bot lists for this runner in its RUNNERS_FILE',
    ]);
    // Empty counts as unset, as .env files and Kubernetes write it.
    expect(problemsOf({ ...BASE, BOT_URL: ' ' })).toEqual(['BOT_URL: required']);
  });

  it('refuses bad values, naming the variable', () => {
    expect(problemsOf({ ...BASE, BOT_URL: 'ftp://bot' })).toEqual(['BOT_URL: must be the http(s) URL of the bot, e.g. https://chatops.example.com']);
    expect(problemsOf({ ...BASE, RUNNER_NAME: 'Gitcortex 1' })[0]).toMatch(/^RUNNER_NAME: must match/);
    expect(problemsOf({ ...BASE, RUNNER_TOKEN: 'short' })).toEqual(['RUNNER_TOKEN: the token must be at least 24 characters (e.g. openssl rand -hex 32)']);
    expect(problemsOf({ ...BASE, RUNNER_STOP_GRACE_SECONDS: '-1' })[0]).toMatch(/^RUNNER_STOP_GRACE_SECONDS: /);
    expect(problemsOf({ ...BASE, LOG_LEVEL: 'loud' })[0]).toMatch(/^LOG_LEVEL: /);
    expect(problemsOf({ ...BASE, PROMETHEUS_URL: 'not a url' })[0]).toMatch(/^PROMETHEUS_URL: /);
  });

  it('reads the token from RUNNER_TOKEN_FILE (trimmed), and refuses both or an unreadable file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-config-'));
    dirs.push(dir);
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, `${TOKEN}\n`);
    const { RUNNER_TOKEN: _inline, ...withoutToken } = BASE;
    expect(loadRunnerConfig({ ...withoutToken, RUNNER_TOKEN_FILE: file }, 'h').token).toBe(TOKEN);
    expect(problemsOf({ ...BASE, RUNNER_TOKEN_FILE: file })).toEqual(['RUNNER_TOKEN: set RUNNER_TOKEN or RUNNER_TOKEN_FILE, not both']);
    expect(problemsOf({ ...withoutToken, RUNNER_TOKEN_FILE: path.join(dir, 'missing') })).toEqual([`RUNNER_TOKEN_FILE: cannot read ${JSON.stringify(path.join(dir, 'missing'))}: ENOENT`]);
    fs.writeFileSync(file, 'too-short\n');
    expect(problemsOf({ ...withoutToken, RUNNER_TOKEN_FILE: file })).toEqual(['RUNNER_TOKEN_FILE: the token must be at least 24 characters (e.g. openssl rand -hex 32)']);
  });

  it('advertises RUNNER_LABELS, with host defaulting to the host name', () => {
    expect(loadRunnerConfig({ ...BASE, RUNNER_LABELS: 'service=gitcortex, env=prod' }, 'host-a').labels).toEqual({ host: 'host-a', service: 'gitcortex', env: 'prod' });
    expect(loadRunnerConfig({ ...BASE, RUNNER_LABELS: 'host=gitcortex-1,service=gitcortex' }, 'host-a').labels).toEqual({ host: 'gitcortex-1', service: 'gitcortex' });
    expect(problemsOf({ ...BASE, RUNNER_LABELS: 'service,1bad=x' })).toEqual([
      'RUNNER_LABELS: label service needs a value of 1 to 200 characters (name=value)',
      'RUNNER_LABELS: label name "1bad" must match ^[a-zA-Z_][a-zA-Z0-9_.-]{0,62}$',
    ]);
    expect(parseLabels('', 'h')).toEqual({ labels: { host: 'h' } });
  });

  it('takes several runbook directories and a relative state directory', () => {
    const config = loadRunnerConfig({ ...BASE, RUNBOOKS_DIR: 'a, b', RUNNER_STATE_DIR: 'state', RUNNER_STOP_GRACE_SECONDS: '30' }, 'h');
    expect(config.runbooksDirs).toEqual(['a', 'b']);
    expect(config.stateDir).toBe(path.resolve('state'));
    expect(config.stopGraceMs).toBe(30_000);
  });
});
