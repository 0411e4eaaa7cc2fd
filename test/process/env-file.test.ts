/**
 * Settings from a file: `.env` in the working directory when present, or the file ENV_FILE names,
 * with variables already in the environment winning; and what a person sees at start-up: one plain
 * "Console:" line, readable logs on request, a sentence (not a stack) for a port in use.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnBot, startBotProcess, postWebhook, type BotProcess } from '../support/bot-process.js';
import { loadFixture } from '../support/fixtures.js';

describe('settings files and start-up output', { timeout: 30_000 }, () => {
  const bots: BotProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const bot of bots.splice(0)) await bot.dispose({ removeDir: true });
    for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
  });
  const workDir = async (files: Record<string, string>) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'env-file-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(dir, name), text);
    return dir;
  };
  const track = (bot: BotProcess) => (bots.push(bot), bot);
  const webhookStatus = async (bot: BotProcess, token?: string) =>
    (await postWebhook(bot.url, loadFixture('firing-single.json'), token ? { authorization: `Bearer ${token}` } : {})).status;

  it('reads .env from the working directory; a variable set in the environment wins over it', async () => {
    // PORT in the file loses to the environment's (the bot is reachable on the port it was given);
    // the webhook token, set only in the file, is in force.
    const cwd = await workDir({ '.env': 'PORT=1\nALERTMANAGER_WEBHOOK_TOKEN=token-from-dotenv-file\n# a comment\n' });
    const bot = track(await startBotProcess({ cwd }));
    expect(await webhookStatus(bot)).toBe(401);
    expect(await webhookStatus(bot, 'token-from-dotenv-file')).toBe(200);

    const overridden = track(await startBotProcess({ cwd, env: { ALERTMANAGER_WEBHOOK_TOKEN: 'token-from-environment' } }));
    expect(await webhookStatus(overridden, 'token-from-dotenv-file')).toBe(401);
    expect(await webhookStatus(overridden, 'token-from-environment')).toBe(200);
  });

  it('reads the file ENV_FILE names instead of .env', async () => {
    const cwd = await workDir({ '.env': 'ALERTMANAGER_WEBHOOK_TOKEN=token-from-dotenv-file\n', 'bot.env': 'ALERTMANAGER_WEBHOOK_TOKEN=token-from-env-file\n' });
    const bot = track(await startBotProcess({ cwd, env: { ENV_FILE: path.join(cwd, 'bot.env') } }));
    expect(await webhookStatus(bot, 'token-from-dotenv-file')).toBe(401);
    expect(await webhookStatus(bot, 'token-from-env-file')).toBe(200);
  });

  it('refuses to start when ENV_FILE names a file that does not exist, naming it', async () => {
    const cwd = await workDir({});
    const missing = path.join(cwd, 'nope.env');
    const bot = track(await spawnBot({ cwd, env: { ENV_FILE: missing } }));
    expect((await bot.waitForExit()).code).toBe(1);
    expect(bot.stderr()).toContain('ENV_FILE');
    expect(bot.stderr()).toContain(missing);
    expect(bot.stderr()).not.toMatch(/^\s+at /m);
  });

  it('prints one plain "Console:" line with the address once it listens', async () => {
    const bot = track(await startBotProcess());
    const line = await bot.waitForLog(/^Console: /);
    expect(line).toBe(`Console: http://127.0.0.1:${bot.port}`);
  });

  it('writes readable lines instead of JSON with LOG_FORMAT=pretty', async () => {
    const bot = track(await startBotProcess({ env: { LOG_FORMAT: 'pretty' } }));
    await bot.waitForLog(/listening/);
    const lines = bot.stdout().split('\n').filter(Boolean);
    expect(lines.some((l) => /INFO.*listening/.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
  });

  it('names PORT in one sentence when the port is in use, without a stack trace', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const bot = track(await spawnBot({ env: { PORT: String(port) } }));
      expect((await bot.waitForExit()).code).toBe(1);
      expect(bot.stderr()).toContain(`Cannot listen on 127.0.0.1:${port}: the port is in use`);
      expect(bot.stderr()).toContain('Set PORT');
      expect(bot.stderr()).not.toMatch(/^\s+at /m);
    } finally {
      holder.close();
    }
  });
});
