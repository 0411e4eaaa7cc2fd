import { spawn } from 'node:child_process';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeDiscord, type FakeDiscord } from '../../fakes/discord-api.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the script as a person would, with only the variables given (and PATH). */
function register(env: Record<string, string>, args: string[] = []): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/discord-register.ts', ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('scripts/discord-register.ts', () => {
  let discord: FakeDiscord;
  let env: Record<string, string>;
  beforeAll(async () => {
    discord = await startFakeDiscord();
    env = { DISCORD_BOT_TOKEN: discord.token, DISCORD_APPLICATION_ID: discord.applicationId, DISCORD_API_URL: discord.url };
  });
  afterAll(async () => {
    await discord.close();
  });

  it('registers the commands in a guild (instant) or globally, and says how many', async () => {
    const guild = await register({ ...env, DISCORD_GUILD_ID: discord.guildId });
    expect(guild).toMatchObject({ code: 0, stderr: '' });
    expect(guild.stdout).toContain(`registered 2 commands (/incident, /runbook) in guild ${discord.guildId}`);
    expect(discord.commands(discord.guildId).map((c) => c.name)).toEqual(['incident', 'runbook']);
    const global = await register(env);
    expect(global.code).toBe(0);
    expect(global.stdout).toContain('globally');
    expect(discord.commands().map((c) => c.name)).toEqual(['incident', 'runbook']);
  });

  it('lists every missing variable at once and exits 1', async () => {
    const run = await register({});
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('missing environment variables: DISCORD_BOT_TOKEN, DISCORD_APPLICATION_ID');
  });

  it('validates the JSON before sending anything, and reports Discord refusing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'discord-commands-'));
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify([{ type: 1, name: 'Bad Name', description: 'x' }]));
    const before = discord.calls.length;
    const invalid = await register(env, [bad]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('0.name: names are 1–32 lower-case letters');
    expect(discord.calls.length).toBe(before);
    const refused = await register({ ...env, DISCORD_BOT_TOKEN: 'wrong-token' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Discord refused the commands: 401');
  });
});
