import type { Logger } from 'pino';
import type { ChatPlatform, ChatUser } from '../core/ports/chat-platform.js';
import { executeCommand } from '../core/commands/execute.js';
import type { CommandInput } from '../core/commands/schema.js';
import type { IncidentUseCases } from '../core/use-cases.js';
import { t } from '../core/i18n/index.js';

/** A slash command, as every platform adapter reports it after verifying and acknowledging it. */
export interface CommandRequest {
  userId: string;
  /** Who typed it, when the platform's payload already says (Discord); else resolved through the platform. */
  user?: ChatUser | undefined;
  channel: string;
  input: CommandInput;
  /** The longest private reply the platform shows. */
  maxReplyChars: number;
}

/** Runs a command for a platform and returns the private reply; never throws. */
export async function handleCommand(engine: IncidentUseCases, platform: ChatPlatform, request: CommandRequest, log: Logger): Promise<string> {
  let user: ChatUser;
  try {
    user = request.user ?? (await platform.resolveUser(request.userId));
  } catch (error) {
    log.error({ err: error, user: request.userId }, 'could not resolve the user of a command');
    return t('answer.whoFailed');
  }
  const outcome = await executeCommand(
    { engine, actor: { ...user, platform: platform.name }, channel: request.channel, maxReplyChars: request.maxReplyChars },
    request.input,
  );
  if (!outcome.ok && outcome.error !== undefined) {
    log.error({ err: outcome.error, command: request.input.name, subcommand: request.input.subcommand, user: request.userId }, 'command failed');
  }
  return outcome.text;
}
