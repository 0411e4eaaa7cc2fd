import { z } from 'zod';

/*
 * COMPOSE_COMMAND, read by the bot and by runners alike: the compose program as words, e.g.
 * `docker compose` (the v2 plugin) or `docker-compose` (v1). Empty or `auto`: the steps use the
 * first of the two that answers `version` on the host where they run.
 */

/** The words of a compose command, or undefined when it is not one (empty, or with an option). */
export function parseComposeCommand(value: string): [string, ...string[]] | undefined {
  const words = value.trim().split(/\s+/u).filter((w) => w !== '');
  const [program, ...rest] = words;
  if (program === undefined || words.some((w) => w.startsWith('-'))) return undefined;
  return [program, ...rest];
}

/** The setting: absent or `auto` → undefined (detect); else the command's words. */
export const composeCommandSetting = z
  .string()
  .default('auto')
  .transform((value, ctx) => {
    if (value.trim() === '' || value.trim() === 'auto') return undefined;
    const words = parseComposeCommand(value);
    if (words === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a compose program and its subcommand words, e.g. "docker compose" or "docker-compose" (no options), or auto' });
      return z.NEVER;
    }
    return words;
  });
