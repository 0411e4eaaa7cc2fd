import { BotError, NotAllowedError } from '../../domain/errors.js';
import type { CommandContext } from './context.js';
import { runIncidentCommand } from './incident-commands.js';
import { validateCommand } from './parse.js';
import { runRunbookCommand } from './runbook-commands.js';
import type { CommandInput } from './schema.js';
import { UsageError } from './usage.js';
import { t } from '../i18n/index.js';

export type CommandOutcome = { ok: true; text: string } | { ok: false; text: string; error?: unknown };

/**
 * Runs one slash command and says what to tell the user, privately. What a command changes is
 * recorded, audited and posted in the incident's thread by the engine, like a button press; the
 * reply only confirms it to the person who typed it. Refusals and bad input are answers, not
 * failures; anything unexpected is reported as `error` for the adapter to log.
 */
export async function executeCommand(c: CommandContext, input: CommandInput): Promise<CommandOutcome> {
  try {
    const command = validateCommand(input);
    const text = command.key.startsWith('incident ')
      ? await runIncidentCommand(c, command as Parameters<typeof runIncidentCommand>[1])
      : await runRunbookCommand(c, command as Parameters<typeof runRunbookCommand>[1]);
    return { ok: true, text };
  } catch (error) {
    if (error instanceof UsageError || error instanceof NotAllowedError) return { ok: false, text: error.message };
    if (error instanceof BotError) return { ok: false, text: error.message, error };
    return { ok: false, text: t('command.failed'), error };
  }
}
