import type { ChatUser } from './chat-platform.js';
import type { StepRun } from './domain.js';

/** Someone acting through a chat platform. */
export interface Actor extends ChatUser {
  platform: string;
}

export const actorId = (a: Pick<Actor, 'platform' | 'id'>): string => `${a.platform}:${a.id}`;

/**
 * Whether this actor may approve (or deny) this run. `approvers` lists user or group ids; an
 * empty list lets anyone approve. Nobody approves their own request unless the step allows it.
 * Returns the reason for a refusal, or undefined when allowed.
 */
export function approvalRefusal(actor: Actor, run: StepRun, approvers: readonly string[], decision: 'approve' | 'deny'): string | undefined {
  const isRequester = actor.platform === run.platform && actor.id === run.requestedBy;
  // A requester may always withdraw their own request.
  if (decision === 'deny' && isRequester) return undefined;
  if (decision === 'approve' && isRequester && !run.selfApprove) {
    return `You requested "${run.stepTitle}", so you cannot approve it: a teammate must.`;
  }
  if (approvers.length > 0 && !approvers.includes(actor.id) && !actor.groups.some((g) => approvers.includes(g))) {
    return `You are not an approver for "${run.stepTitle}". Approvers: ${approvers.join(', ')}.`;
  }
  return undefined;
}
