import type { IncidentUseCases } from '../use-cases.js';
import type { Actor } from '../policy.js';
import { t } from '../i18n/index.js';

/** Where a command was typed and by whom; the reply goes back to that person privately. */
export interface CommandContext {
  engine: IncidentUseCases;
  actor: Actor;
  /** The channel the command was typed in (its incidents are the default context of `runbook run`). */
  channel: string;
  /** The longest reply the platform shows in one private message. */
  maxReplyChars: number;
}

/** Cuts a reply to what the platform shows, saying where the rest is. */
export function fitReply(text: string, max: number, more: string): string {
  if (text.length <= max) return text;
  const tail = `\n${t('command.cut', { more })}`;
  return `${text.slice(0, Math.max(0, max - tail.length))}${tail}`;
}
