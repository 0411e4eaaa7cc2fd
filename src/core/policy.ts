import type { ChatUser } from './ports/chat-platform.js';
import type { RunbookStep } from './ports/runbooks.js';
import type { Labels, StepRun } from './domain.js';
import type { Policy } from '../settings/policy.js';
import { t } from './i18n/index.js';

/** Someone acting through a chat platform. */
export interface Actor extends ChatUser {
  platform: string;
  /**
   * The browser session behind a name nobody vouches for (the console's, as a digest): one session
   * is one person, whatever names it types.
   */
  session?: string | undefined;
  /**
   * Counts as an approver only where a policy role lists it by its platform prefix: the console
   * beside Slack or Discord, whose typed names must not stand in for the people those platforms know.
   */
  listedOnly?: boolean | undefined;
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
  /** Whether a changing step may still be requested once the incident is resolved (with a confirmation). */
  afterResolve: boolean;
}

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

function members(policy: Policy, roles: readonly string[] | undefined): string[] | undefined {
  return roles === undefined ? undefined : roles.flatMap((r) => policy.roles[r] ?? []);
}

const PREFIXED = /^([a-z][a-z0-9-]{0,31}):(.+)$/;
const SNOWFLAKE = /^\d{15,21}$/;

/**
 * The platform and id a policy entry names. `platform:id` names that platform. An unprefixed entry
 * keeps meaning what APPROVERS always documented, on its own platform only: a numeric snowflake is
 * a Discord user or role id, anything else a Slack user or group id (U…, W…, S…). Unprefixed
 * entries never name console users: those are typed names, so they are listed as `console:alice`.
 */
export function policyEntry(entry: string): { platform: string; id: string } {
  const m = PREFIXED.exec(entry);
  if (m) return { platform: m[1] ?? '', id: m[2] ?? '' };
  return { platform: SNOWFLAKE.test(entry) ? 'discord' : 'slack', id: entry };
}

/** Whether an actor is one of `ids`: its own platform's entry for its user id or one of its groups. */
export function isMember(actor: Actor, ids: readonly string[]): boolean {
  const own = [actor.id, ...actor.groups];
  return ids.some((entry) => {
    const { platform, id } = policyEntry(entry);
    return platform === actor.platform && own.includes(id);
  });
}

export function environmentOf(policy: Policy, labels: Labels): string | undefined {
  const label = policy.environments?.label;
  return label === undefined ? undefined : labels[label];
}

export function stepPolicy(policy: Policy, runbook: string, step: Pick<RunbookStep, 'id' | 'changes' | 'danger' | 'approval'> & { afterResolve?: boolean | undefined }, labels: Labels): StepPolicy {
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
    afterResolve: rule?.afterResolve ?? step.afterResolve ?? false,
  };
}

/** Why this actor may not request the step, or undefined. */
export function requestRefusal(actor: Actor, title: string, p: StepPolicy): string | undefined {
  if (p.requesters === undefined || isMember(actor, p.requesters)) return undefined;
  return t('refusal.notRequester', { title });
}

/** The change freeze in force for a changing step now, as a refusal reason, or undefined. */
export function freezeRefusal(policy: Policy, now: string, labels: Labels, title: string): string | undefined {
  const at = Date.parse(now);
  const environment = environmentOf(policy, labels);
  const freeze = policy.freezes.find(
    (f) => Date.parse(f.from) <= at && at < Date.parse(f.to) && (f.environments === undefined || (environment !== undefined && f.environments.includes(environment))),
  );
  return freeze ? t('refusal.freeze', { until: freeze.to, reason: freeze.reason, title }) : undefined;
}

/**
 * Whether this actor may approve (or deny) this run under the step's policy. Nobody approves their
 * own request unless the step allows it (never for `danger` steps); a requester may always
 * withdraw. Returns the reason for a refusal, or undefined when allowed.
 */
export function approvalRefusal(actor: Actor, run: StepRun, p: Pick<StepPolicy, 'approvers' | 'approverRoles'>, decision: 'approve' | 'deny'): string | undefined {
  // The same console browser under another name is still the requester.
  const sameSession = actor.session !== undefined && actor.session === run.requestedSession;
  const isRequester = (actor.platform === run.platform && actor.id === run.requestedBy) || sameSession;
  if (decision === 'deny' && isRequester) return undefined;
  if (decision === 'approve' && isRequester && !run.selfApprove) {
    return t('refusal.selfApprove', { title: run.stepTitle });
  }
  // Role names, never member ids: a refusal must not hand out the ids that would pass.
  const roles = p.approverRoles?.length ? t(p.approverRoles.length === 1 ? 'refusal.role' : 'refusal.roles', { roles: p.approverRoles.join(t('refusal.rolesOr')) }) : t('refusal.policyApprovers');
  if (p.approvers !== undefined && !isMember(actor, p.approvers)) {
    return t(actor.listedOnly ? 'refusal.notApproverListed' : 'refusal.notApprover', { title: run.stepTitle, roles, platform: actor.platform });
  }
  if (p.approvers === undefined && actor.listedOnly && decision === 'approve') {
    return t('refusal.listedOnly', { platform: actor.platform, title: run.stepTitle });
  }
  return undefined;
}
