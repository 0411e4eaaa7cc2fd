import type { ThreadMessage } from './card.js';
import type { NewAuditEvent, StepRun } from './domain.js';
import { appendAudit } from './audit.js';
import { syncCard } from './events.js';
import { formatClock } from './time.js';
import { t } from './i18n/index.js';
import type { StoreTx } from './ports/store.js';

/**
 * A step run is one message in the incident's thread: the request is posted, and everything that
 * happens to the run after it (approvals, denial, expiry, start, checkpoint, result, interruption)
 * is a line added to that message by an edit, instead of a message of its own. Every one of those
 * events is still an audit record of its own; only what chat shows is folded.
 */

/** The subject of a run's message, by which its edits find it (OutboxMessage.subject). */
export const runSubject = (runId: number): string => `run:${runId}`;

/**
 * How long a run's message may grow before a result's details go in a message of their own:
 * Discord's 2000 characters is the smallest message of the platforms, less room for the markup
 * renderers add. Longer text would be cut by the platform's renderer, and output would be lost.
 */
export const RUN_MESSAGE_BUDGET = 1800;

/** "11:01:45": a time on a run's line (the thread gives the day), as on the card's step lines. */
export const runTime = (iso: string): string => formatClock(iso);

/**
 * A run's line from an event's text: the time goes after the icon the text opens with
 * ("▶️ 11:01:45 Started …"); a text without one gets the time first.
 */
export function timedLine(text: string, at: string): string {
  const m = /^(\S+) ([\s\S]*)$/u.exec(text);
  const icon = m?.[1];
  if (m && icon !== undefined && !/[\p{L}\p{N}*"「]/u.test(icon)) return `${icon} ${runTime(at)} ${m[2] ?? ''}`;
  return `${runTime(at)} ${text}`;
}

/** One event of a run, as its message shows it. */
export interface RunLine {
  /** One line: icon, time, what happened (the step's title is in the message's first line). */
  line: string;
  /** What follows it (findings, files, output), each starting with a newline; moved to a message of its own when the run's message would not hold it. */
  details?: string | undefined;
  /** The buttons the message shows from now on; without, its buttons go (they would only be refused now). */
  buttons?: ThreadMessage['buttons'];
}

/**
 * Records an audit event of a run and adds its line to the run's message in each of the incident's
 * threads, in one transaction. The edit is queued in the same thread as the message, so it goes
 * out after it however far behind the message still is, and it names the message by subject, so
 * whichever replica sends it edits the message that was posted. A thread that has no message of
 * this run (a run requested before runs were folded) gets the event's own text as a reply.
 */
export async function recordRunEvent(
  tx: StoreTx,
  event: NewAuditEvent & { incidentId: number },
  run: Pick<StepRun, 'id' | 'stepTitle'>,
  line: RunLine,
  options: { refreshCard?: boolean } = {},
): Promise<void> {
  await appendAudit(tx, event);
  const targets = await tx.incidentTargets(event.incidentId);
  if (options.refreshCard) await syncCard(tx, event.incidentId, event.at, targets);
  const subject = runSubject(run.id);
  const versions = await tx.repliesAbout(event.incidentId, subject);
  const withButtons = (text: string): ThreadMessage => (line.buttons?.length ? { text, buttons: line.buttons } : { text });
  for (const target of targets) {
    const thread = { platform: target.platform, channel: target.channel, incidentId: event.incidentId, at: event.at };
    const current = versions.find((v) => v.platform === target.platform && v.channel === target.channel);
    if (!current) {
      await tx.enqueueOutbox({ ...thread, kind: 'reply', payload: withButtons(event.text) });
      continue;
    }
    const folded = `${current.message.text}\n${line.line}`;
    const details = line.details ?? '';
    if (`${folded}${details}`.length <= RUN_MESSAGE_BUDGET) {
      await tx.enqueueOutbox({ ...thread, kind: 'edit', subject, payload: withButtons(`${folded}${details}`) });
      continue;
    }
    // Too long for one message: the line goes in the run's message, its details right below it.
    await tx.enqueueOutbox({ ...thread, kind: 'edit', subject, payload: withButtons(`${folded}${t('line.detailsBelow')}`) });
    await tx.enqueueOutbox({ ...thread, kind: 'reply', payload: { text: `↳ *${run.stepTitle}* (${t('line.run', { run: run.id })}):${details}` } });
  }
}

/**
 * The command lines a run's "Started" line shows (its `quoted` parts). A result's summary and facts
 * often name the same command (`restart command \`…\``); in the run's message it is shown once, on
 * the Started line, so the result's line leaves it out. The audit record keeps it whole.
 */
export function shownCommands(started: string): string[] {
  return [...started.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? '').filter((c) => c.trim().length > 0);
}

/** A result as the run's message shows it: without the command lines its Started line showed. */
export function withoutCommands<R extends { summary: string; facts?: Array<{ label: string; value: string }> | undefined }>(result: R, commands: readonly string[]): R {
  if (commands.length === 0) return result;
  let summary = result.summary;
  for (const c of commands) summary = summary.split(` \`${c}\``).join('').split(`\`${c}\``).join(t('line.commandAbove'));
  // A fact may quote the command itself (`…`), and add where it ran (` in /dir`).
  const bare = (value: string) => value.replace(/`/g, '');
  const facts = result.facts?.filter((f) => !commands.some((c) => bare(f.value) === c || bare(f.value).startsWith(`${c} in `)));
  return { ...result, summary, ...(result.facts ? { facts } : {}) };
}
