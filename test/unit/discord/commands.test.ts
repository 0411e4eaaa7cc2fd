import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseDiscordCommands, type DiscordCommand } from '../../../src/bot/discord/commands.js';

const file = new URL('../../../manifests/discord-commands.json', import.meta.url);
const load = async () => JSON.parse(await readFile(file, 'utf8')) as DiscordCommand[];

describe('manifests/discord-commands.json', () => {
  it('validates and holds /incident and /runbook with their subcommands', async () => {
    const parsed = parseDiscordCommands(await load());
    expect(parsed.ok ? [] : parsed.problems).toEqual([]);
    if (!parsed.ok) return;
    const subs = Object.fromEntries(parsed.commands.map((c) => [c.name, (c.options ?? []).map((o) => o.name)]));
    expect(subs).toEqual({ incident: ['list', 'show', 'ack', 'resolve', 'timeline', 'silence'], runbook: ['list', 'show', 'run', 'dry-run', 'runners'] });
    for (const c of parsed.commands) {
      expect(c.type).toBe(1);
      for (const o of c.options ?? []) expect(o.type).toBe(1);
    }
  });

  it('refuses what Discord would refuse, naming the path', async () => {
    const commands = await load();
    const problems = (mutate: (c: DiscordCommand[]) => void) => {
      const copy = structuredClone(commands);
      mutate(copy);
      const parsed = parseDiscordCommands(copy);
      return parsed.ok ? [] : parsed.problems;
    };
    const sub = (c: DiscordCommand[], i: number) => (c[0]!.options as Array<{ name: string; options?: Array<Record<string, unknown>> }>)[i]!;
    expect(problems((c) => (c[0]!.name = 'Incident'))).toEqual([expect.stringMatching(/^0\.name: names are/)]);
    expect(problems((c) => (c[0]!.name = 'x'.repeat(33)))).toEqual([expect.stringMatching(/^0\.name/)]);
    expect(problems((c) => (c[0]!.description = 'd'.repeat(101)))).toEqual([expect.stringMatching(/^0\.description/)]);
    expect(problems((c) => (c[0]!.description = ''))).toEqual([expect.stringMatching(/^0\.description/)]);
    expect(problems((c) => (c[1]!.name = 'incident'))).toEqual(['1.name: duplicate command "incident"']);
    expect(problems((c) => (sub(c, 1).name = 'list'))).toEqual(['0.options.1.name: duplicate option name "list"']);
    expect(problems((c) => (sub(c, 3).options = [...(sub(c, 3).options ?? [])].reverse()))).toEqual([expect.stringMatching(/required option "id" after an optional one/)]);
    expect(problems((c) => (sub(c, 1).options![0]!.require = true))).not.toEqual([]);
    expect(problems((c) => (sub(c, 1).options![0]!.type = 12))).not.toEqual([]);
    expect(problems((c) => c.push(...Array.from({ length: 99 }, (_, i) => ({ type: 1 as const, name: `c${i}`, description: 'd' }))))).not.toEqual([]);
    expect(parseDiscordCommands('nope')).toMatchObject({ ok: false });
    expect(parseDiscordCommands([])).toMatchObject({ ok: false });
  });
});
