import { BotError } from '../../domain/errors.js';
import { t } from '../i18n/index.js';
import { USAGE, type CommandKey } from './schema.js';

/** The input was not a valid command; the message names what was wrong and shows the usage. */
export class UsageError extends BotError {
  constructor(message: string) {
    super('usage', message);
  }
}

export function usageLine(key: CommandKey): string {
  // USAGE's English `what` is also what Discord registers; the answer is in the bot's language.
  const { args } = USAGE[key];
  return `\`/${key}${args ? ` ${args}` : ''}\` — ${t(`usage.${key}`)}`;
}

/** Every subcommand of one command (or of all, for an unknown command). */
export function commandUsage(name: string): string {
  const keys = (Object.keys(USAGE) as CommandKey[]).filter((k) => k.startsWith(`${name} `));
  return (keys.length > 0 ? keys : (Object.keys(USAGE) as CommandKey[])).map(usageLine).join('\n');
}

export function usageError(problem: string, key: CommandKey | undefined, name: string): UsageError {
  return new UsageError(`${problem}\n${t('usage.header')}\n${key ? usageLine(key) : commandUsage(name)}`);
}
