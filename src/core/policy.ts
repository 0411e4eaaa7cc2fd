import type { ChatUser } from './chat-platform.js';
import type { Labels, StepRun } from './domain.js';
import type { Policy } from './policy-schema.js';
import type { RunbookStep } from '../runbooks/schema.js';

/** Someone acting through a chat platform. */
export interface Actor extends ChatUser {
  platform: string;
}

export const actorId = (a: Pick<Actor, 'platform' | 'id'>): string => `${a.platform}:${a.id}`;

/** What the policy says about one step of one runbook, for one incident (its labels pick the environment). */
export interface StepPolicy {
  /** Member ids allowed to request it; undefined: anyone. Read-only steps: always anyone. */
  requesters: string[] | undefined;
  /** Member ids allowed to approve or deny; undefined: anyone but the requester. */
  approvers: string[] | undefined;
  /** Role names behind `approvers`, for messages. */
  approverRoles: string[] | undefined;
  requiredApprovals: number;
  /** Whether the requester's own approval counts; never for `danger` steps. */
  selfApprove: boolean;
  /** The environment the labels put the incident in, if the policy scopes by environment. */
  environment: string | undefined;
}

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

function members(policy: Policy, roles: readonly string[] | undefined): string[] | undefined {
  return roles === undefined ? undefined : roles.flatMap((r) => policy.roles[r] ?? []);
}

/** Whether an actor is one of `ids` (a user id, one of their groups, or either pinned to a platform). */
export function isMember(actor: Actor, ids: readonly string[]): boolean {
  const own = [actor.id, ...actor.groups];
  return ids.some((id) => own.includes(id) || own.some((o) => id === `${actor.platform}:${o}`));
}

export function environmentOf(policy: Policy, labels: Labels): string | undefined {
  const label = policy.environments?.label;
  return label === undefined ? undefined : labels[label];
}

export function stepPolicy(policy: Policy, runbook: string, step: Pick<RunbookStep, 'id' | 'changes' | 'danger' | 'approval'>, labels: Labels): StepPolicy {
  const rule = policy.rules.find((r) => glob(r.runbook, runbook) && glob(r.step, step.id));
  const environment = environmentOf(policy, labels);
  const scope = environment !== undefined ? policy.environments?.scopes[environment] : undefined;
  const approverRoles = scope?.approve ?? rule?.approve ?? policy.defaults.approve;
  const needsApproval = step.approval !== undefined;
  let required = needsApproval ? (rule?.approvers ?? step.approval?.approvers ?? 1) : 0;
  if (needsApproval && step.danger) required = Math.max(required, policy.defaults.dangerApprovers);
  if (needsApproval && scope) required = Math.min(5, Math.max(required, scope.approvers ?? 0) + (scope.extraApprovers ?? 0));
  return {
    requesters: step.changes ? members(policy, rule?.request ?? policy.defaults.request) : undefined,
    approvers: members(policy, approverRoles),
    approverRoles,
    requiredApprovals: required,
    selfApprove: !step.danger && (step.approval?.selfApprove ?? true),
    environment,
  };
}

/** Why this actor may not request the step, or undefined. */
export function requestRefusal(actor: Actor, title: string, p: StepPolicy): string | undefined {
  if (p.requesters === undefined || isMember(actor, p.requesters)) return undefined;
  return `You may not request "${title}": it changes a system and your role is not allowed to request it.`;
}

/** The change freeze in force for a changing step now, as a refusal reason, or undefined. */
export function freezeRefusal(policy: Policy, now: string, labels: Labels, title: string): string | undefined {
  const at = Date.parse(now);
  const environment = environmentOf(policy, labels);
  const freeze = policy.freezes.find(
    (f) => Date.parse(f.from) <= at && at < Date.parse(f.to) && (f.environments === undefined || (environment !== undefined && f.environments.includes(environment))),
  );
  return freeze ? `Change freeze until ${freeze.to}: ${freeze.reason}. "${title}" changes a system, so it is refused until then.` : undefined;
}

/**
 * Whether this actor may approve (or deny) this run under the step's policy. Nobody approves their
 * own request unless the step allows it (never for `danger` steps); a requester may always
 * withdraw. Returns the reason for a refusal, or undefined when allowed.
 */
export function approvalRefusal(actor: Actor, run: StepRun, p: Pick<StepPolicy, 'approvers' | 'approverRoles'>, decision: 'approve' | 'deny'): string | undefined {
  const isRequester = actor.platform === run.platform && actor.id === run.requestedBy;
  if (decision === 'deny' && isRequester) return undefined;
  if (decision === 'approve' && isRequester && !run.selfApprove) {
    return `You requested "${run.stepTitle}", so you cannot approve it: a teammate must.`;
  }
  if (p.approvers !== undefined && !isMember(actor, p.approvers)) {
    return `You are not an approver for "${run.stepTitle}". Approvers: ${p.approvers.join(', ') || 'nobody (the policy lists no members)'}.`;
  }
  return undefined;
}
