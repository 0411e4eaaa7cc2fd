import type { Logger } from 'pino';
import { decodeButtonId } from '../core/button-codec.js';
import type { ChatPlatform, ChatUser } from '../core/ports/chat-platform.js';
import { BUTTON_SILENCE_MS, type IncidentUseCases } from '../core/use-cases.js';
import { BotError, NotAllowedError } from '../domain/errors.js';
import { t } from '../core/i18n/index.js';

/** A button press, as every platform adapter reports it after verifying and acknowledging it. */
export interface ButtonPress {
  userId: string;
  channel: string;
  /** The thread the pressed message is in, for the private answer. */
  threadId?: string | undefined;
  buttonId: string;
  /** Who pressed, when the platform's payload already says (name, roles); else resolved through the platform. */
  user?: ChatUser | undefined;
  /**
   * Answers the presser privately through the interaction itself (Discord's follow-up message);
   * without it the platform's `tellUser` is used (Slack's ephemeral message).
   */
  tellPrivately?: ((text: string) => Promise<void>) | undefined;
  /** The browser session behind a typed name (the console's), so one session counts as one person. */
  session?: string | undefined;
  /** The presser counts as an approver only where a policy role lists it with its platform prefix. */
  listedOnly?: boolean | undefined;
}

/**
 * Turns a press into a step request or an approval decision. Refusals and errors are told to the
 * presser privately; nothing here waits on a step (the executor runs it).
 */
export async function handleButtonPress(engine: IncidentUseCases, platform: ChatPlatform, press: ButtonPress, log: Logger): Promise<void> {
  const where = { channel: press.channel, ...(press.threadId ? { threadId: press.threadId } : {}) };
  const tell = (text: string) =>
    (press.tellPrivately ? press.tellPrivately(text) : platform.tellUser(press.userId, where, text)).catch((error: unknown) =>
      log.warn({ err: error, user: press.userId }, 'could not tell user'),
    );

  const target = decodeButtonId(press.buttonId);
  if (!target) {
    log.warn({ buttonId: press.buttonId.slice(0, 120), user: press.userId }, 'unrecognised button');
    await tell(t('answer.unknownButton'));
    return;
  }
  try {
    const user = press.user ?? (await platform.resolveUser(press.userId));
    const actor = { ...user, platform: platform.name, session: press.session, listedOnly: press.listedOnly };
    switch (target.action) {
      case 'run-step':
        await engine.requestStep(actor, target.incidentId, target.runbook, target.step);
        break;
      case 'pick':
        await engine.requestChoice(actor, target.choiceId);
        break;
      case 'rollback':
        await engine.requestRollback(actor, target.runId);
        break;
      case 'ack':
        await engine.acknowledge(actor, target.incidentId);
        break;
      case 'resolve':
        await engine.resolve(actor, target.incidentId, '');
        break;
      case 'silence':
        await engine.silence(actor, target.incidentId, BUTTON_SILENCE_MS);
        break;
      case 'unsilence':
        await engine.unsilence(actor, target.incidentId);
        break;
      case 'post-cards':
        await engine.releaseStorm(actor, target.stormId);
        await tell(t('answer.stormPosting'));
        break;
      default:
        await engine.decide(actor, target.runId, target.action);
    }
  } catch (error) {
    if (error instanceof NotAllowedError) {
      await tell(error.message);
      return;
    }
    log.error({ err: error, buttonId: press.buttonId }, 'button press failed');
    await tell(error instanceof BotError ? error.message : t('answer.buttonFailed'));
  }
}
