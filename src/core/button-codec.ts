import type { ButtonAction, CardButton } from './card.js';

/**
 * How a button says what it means. The id (Slack action_id, Discord custom_id) carries the action
 * and target so a press can be routed without the message it came from; the value repeats the
 * target. Ids stay under 100 characters, Discord's limit and the stricter of the two platforms.
 */
export type ButtonTarget =
  | { action: 'run-step'; incidentId: number; runbook: string; step: string }
  | { action: 'approve' | 'deny'; runId: number }
  /** One option of a picker (a backup to restore). */
  | { action: 'pick'; choiceId: number }
  /** "Roll back" after a step that took a pre-change checkpoint. */
  | { action: 'rollback'; runId: number }
  /** "Acknowledge" on a card: the presser owns the incident. "Resolve": closes it by hand, as `/incident resolve`. */
  | { action: 'ack' | 'resolve'; incidentId: number }
  /** "Silence 1h" / "Unsilence" on a card: an Alertmanager silence for the incident's group. */
  | { action: 'silence' | 'unsilence'; incidentId: number }
  /** "Post cards" on a storm digest: the storm's held cards go out at the channel's full pace. */
  | { action: 'post-cards'; stormId: number };

const ID_LIMIT = 100;

export function encodeButtonId(target: ButtonTarget): string {
  const id =
    target.action === 'run-step'
      ? `run-step:${target.incidentId}:${target.runbook}:${target.step}`
      : target.action === 'pick'
        ? `pick:${target.choiceId}`
        : target.action === 'post-cards'
          ? `post-cards:${target.stormId}`
        : 'incidentId' in target
          ? `${target.action}:${target.incidentId}`
          : `${target.action}:${target.runId}`;
  if (id.length > ID_LIMIT) throw new Error(`button id over ${ID_LIMIT} characters: ${id.slice(0, 40)}…`);
  return id;
}

/** Parses a button id; undefined for anything that is not one of ours (never throws on input). */
export function decodeButtonId(id: string): ButtonTarget | undefined {
  const parts = id.split(':');
  const [action, ...rest] = parts;
  if (action === 'run-step' && rest.length === 3) {
    const [incident, runbook, step] = rest as [string, string, string];
    if (!/^\d{1,15}$/.test(incident) || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(runbook) || !/^[a-z0-9][a-z0-9_-]{0,39}$/.test(step)) {
      return undefined;
    }
    return { action, incidentId: Number(incident), runbook, step };
  }
  if (rest.length !== 1 || !/^\d{1,15}$/.test(rest[0] ?? '')) return undefined;
  const n = Number(rest[0]);
  if (action === 'approve' || action === 'deny' || action === 'rollback') return { action, runId: n };
  if (action === 'pick') return { action, choiceId: n };
  if (action === 'post-cards') return { action, stormId: n };
  if (action === 'ack' || action === 'resolve' || action === 'silence' || action === 'unsilence') return { action, incidentId: n };
  return undefined;
}

export function makeButton(
  target: ButtonTarget,
  label: string,
  extra: Partial<Pick<CardButton, 'style' | 'confirm'>> = {},
): CardButton {
  const id = encodeButtonId(target);
  const action: ButtonAction = target.action;
  return { action, id, label, value: id, ...extra };
}
