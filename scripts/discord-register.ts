/**
 * Entry point (reads process.env): registers the bot's slash commands with Discord.
 *
 *   DISCORD_BOT_TOKEN=… DISCORD_APPLICATION_ID=… [DISCORD_GUILD_ID=…] [DISCORD_API_URL=…] \
 *     npx tsx scripts/discord-register.ts [manifests/discord-commands.json]
 *
 * With DISCORD_GUILD_ID the commands are the guild's and appear at once; without it they are
 * global (all guilds, may take a while to show). A PUT replaces the whole set: commands no longer
 * in the file are removed. The JSON is validated before anything is sent.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiscordAPIError } from '@discordjs/rest';
import { Routes } from 'discord-api-types/v10';
import { parseDiscordCommands } from '../src/bot/discord/commands.js';
import { createDiscordRest } from '../src/bot/discord/platform.js';

const DEFAULT_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'manifests', 'discord-commands.json');

async function main(env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  const token = env.DISCORD_BOT_TOKEN?.trim();
  const applicationId = env.DISCORD_APPLICATION_ID?.trim();
  const guildId = env.DISCORD_GUILD_ID?.trim() || undefined;
  const apiUrl = env.DISCORD_API_URL?.trim() || undefined;
  const missing = [!token && 'DISCORD_BOT_TOKEN', !applicationId && 'DISCORD_APPLICATION_ID'].filter((v): v is string => Boolean(v));
  if (missing.length > 0 || !token || !applicationId) throw new Error(`missing environment variables: ${missing.join(', ')}`);
  const problems = [applicationId, guildId].filter((id): id is string => id !== undefined && !/^\d{5,25}$/.test(id));
  if (problems.length > 0) throw new Error(`DISCORD_APPLICATION_ID and DISCORD_GUILD_ID must be numeric ids; got ${problems.map((p) => JSON.stringify(p)).join(', ')}`);

  const file = args[0] ?? DEFAULT_FILE;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = parseDiscordCommands(json);
  if (!parsed.ok) throw new Error(`${file} is not valid command JSON:\n  ${parsed.problems.join('\n  ')}`);

  const rest = createDiscordRest({ botToken: token, apiUrl });
  const route = guildId ? Routes.applicationGuildCommands(applicationId, guildId) : Routes.applicationCommands(applicationId);
  const answer = await rest.put(route, { body: parsed.commands });
  const count = Array.isArray(answer) ? answer.length : parsed.commands.length;
  return `registered ${count} command${count === 1 ? '' : 's'} (${parsed.commands.map((c) => `/${c.name}`).join(', ')}) ${guildId ? `in guild ${guildId} (visible now)` : 'globally (may take a while to appear)'}`;
}

main(process.env, process.argv.slice(2)).then(
  (message) => {
    console.log(message);
  },
  (error: unknown) => {
    const message =
      error instanceof DiscordAPIError ? `Discord refused the commands: ${error.status} ${error.message}` : error instanceof Error ? error.message : String(error);
    console.error(`discord-register: ${message}`);
    process.exitCode = 1;
  },
);
