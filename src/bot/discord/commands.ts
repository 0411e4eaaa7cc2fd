import { z } from 'zod';

/**
 * Discord application command JSON (discord.com/developers/docs/interactions/application-commands),
 * validated before it is sent so a mistake is named here rather than as a 400 from Discord.
 * Strict objects: a misspelt key (`require`) is an error, not silently ignored.
 */
export const COMMAND_LIMITS = { commands: 100, options: 25, choices: 25, name: 32, description: 100, totalCharacters: 4000 } as const;

export const OPTION_TYPE = { subCommand: 1, subCommandGroup: 2, string: 3, integer: 4, boolean: 5, user: 6, channel: 7, role: 8, mentionable: 9, number: 10, attachment: 11 } as const;

const name = z.string().regex(/^[-_a-z0-9]{1,32}$/, 'names are 1–32 lower-case letters, digits, - or _');
const description = z.string().min(1).max(COMMAND_LIMITS.description);

const Choice = z.strictObject({ name: z.string().min(1).max(100), value: z.union([z.string().max(100), z.number()]) });

const ValueOption = z
  .strictObject({
    type: z.union([z.literal(3), z.literal(4), z.literal(5), z.literal(6), z.literal(7), z.literal(8), z.literal(9), z.literal(10), z.literal(11)]),
    name,
    description,
    required: z.boolean().optional(),
    choices: z.array(Choice).max(COMMAND_LIMITS.choices).optional(),
    min_value: z.number().optional(),
    max_value: z.number().optional(),
    min_length: z.number().int().min(0).max(6000).optional(),
    max_length: z.number().int().min(1).max(6000).optional(),
    autocomplete: z.boolean().optional(),
  })
  .refine((o) => o.min_value === undefined || o.max_value === undefined || o.min_value <= o.max_value, 'min_value is above max_value')
  .refine((o) => o.min_length === undefined || o.max_length === undefined || o.min_length <= o.max_length, 'min_length is above max_length')
  .refine((o) => !(o.choices && o.autocomplete), 'an option cannot have both choices and autocomplete');

/** Names unique at one level, and required options before optional ones (Discord refuses otherwise). */
function checkLevel(options: Array<{ name: string; required?: boolean | undefined }>, ctx: z.core.$RefinementCtx): void {
  const seen = new Set<string>();
  let optionalSeen = false;
  options.forEach((o, i) => {
    if (seen.has(o.name)) ctx.addIssue({ code: 'custom', message: `duplicate option name "${o.name}"`, path: [i, 'name'] });
    seen.add(o.name);
    if (o.required && optionalSeen) ctx.addIssue({ code: 'custom', message: `required option "${o.name}" after an optional one`, path: [i, 'required'] });
    if (!o.required) optionalSeen = true;
  });
}

const leafOptions = z.array(ValueOption).max(COMMAND_LIMITS.options).superRefine(checkLevel);

const SubCommand = z.strictObject({ type: z.literal(1), name, description, options: leafOptions.optional() });
const SubCommandGroup = z.strictObject({
  type: z.literal(2),
  name,
  description,
  options: z.array(SubCommand).min(1).max(COMMAND_LIMITS.options).superRefine(checkLevel),
});

type AnyOption = { name: string; description: string; options?: AnyOption[] | undefined; choices?: Array<{ name: string; value: string | number }> | undefined };

/** Discord's 4,000-character limit per command: names, descriptions and choices, at every level. */
function characters(o: AnyOption): number {
  return (
    o.name.length +
    o.description.length +
    (o.choices ?? []).reduce((n, c) => n + c.name.length + String(c.value).length, 0) +
    (o.options ?? []).reduce((n, child) => n + characters(child), 0)
  );
}

export const ChatInputCommand = z
  .strictObject({
    type: z.literal(1),
    name,
    description,
    options: z
      .union([z.array(z.union([SubCommand, SubCommandGroup])), leafOptions])
      .refine((a) => a.length <= COMMAND_LIMITS.options, `at most ${COMMAND_LIMITS.options} options`)
      .superRefine(checkLevel)
      .optional(),
    /** 0 guild, 1 bot DM, 2 private channels. */
    contexts: z.array(z.union([z.literal(0), z.literal(1), z.literal(2)])).min(1).optional(),
    integration_types: z.array(z.union([z.literal(0), z.literal(1)])).min(1).optional(),
    default_member_permissions: z.string().regex(/^\d+$/).nullable().optional(),
    nsfw: z.boolean().optional(),
  })
  .refine((c) => characters(c as AnyOption) <= COMMAND_LIMITS.totalCharacters, `over ${COMMAND_LIMITS.totalCharacters} characters in names, descriptions and choices`);

export const DiscordCommands = z
  .array(ChatInputCommand)
  .min(1)
  .max(COMMAND_LIMITS.commands)
  .superRefine((commands, ctx) => {
    const seen = new Set<string>();
    commands.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', message: `duplicate command "${c.name}"`, path: [i, 'name'] });
      seen.add(c.name);
    });
  });

export type DiscordCommand = z.infer<typeof ChatInputCommand>;

/** Validates command JSON; the error lists every problem with its path (e.g. `1.options.2.name`). */
export function parseDiscordCommands(json: unknown): { ok: true; commands: DiscordCommand[] } | { ok: false; problems: string[] } {
  const result = DiscordCommands.safeParse(json);
  if (result.success) return { ok: true, commands: result.data };
  return { ok: false, problems: result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`) };
}
