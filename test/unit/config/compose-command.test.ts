import { describe, expect, it } from 'vitest';
import { composeCommandSetting, parseComposeCommand } from '../../../src/domain/compose-command.js';
import { loadRunnerConfig } from '../../../src/runner/config.js';
import { loadConfig } from '../../../src/settings/config.js';

const RUNNER = { BOT_URL: 'https://chatops.example.com', RUNNER_NAME: 'im-1', RUNNER_TOKEN: 'runner-token-0123456789abcdef', RUNBOOKS_DIR: '/etc/runbooks' };

describe('COMPOSE_COMMAND', () => {
  it('is the compose program as words; auto or empty means detect', () => {
    expect(parseComposeCommand('docker compose')).toEqual(['docker', 'compose']);
    expect(parseComposeCommand('  /usr/bin/docker-compose ')).toEqual(['/usr/bin/docker-compose']);
    expect(parseComposeCommand('')).toBeUndefined();
    expect(parseComposeCommand('docker --host tcp://x compose')).toBeUndefined();
    expect(composeCommandSetting.parse(undefined)).toBeUndefined();
    expect(composeCommandSetting.parse('auto')).toBeUndefined();
    expect(composeCommandSetting.parse('docker-compose')).toEqual(['docker-compose']);
    expect(composeCommandSetting.safeParse('docker -H x compose').error?.issues[0]?.message).toMatch(/^must be a compose program/);
  });

  it('reaches the bot and the runner configuration', () => {
    expect(loadConfig({ COMPOSE_COMMAND: 'docker-compose' }).composeCommand).toEqual(['docker-compose']);
    expect(loadConfig({}).composeCommand).toBeUndefined();
    expect(loadRunnerConfig({ ...RUNNER, COMPOSE_COMMAND: 'docker compose' }, 'h').composeCommand).toEqual(['docker', 'compose']);
    expect(loadRunnerConfig(RUNNER, 'h').composeCommand).toBeUndefined();
    expect(() => loadRunnerConfig({ ...RUNNER, COMPOSE_COMMAND: '-x' }, 'h')).toThrow(/COMPOSE_COMMAND: must be a compose program/);
  });
});
