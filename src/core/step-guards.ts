import type { Incident, StepRun } from './domain.js';
import { recordRunEvent, runTime } from './run-thread.js';
import { actorId, type Actor, type StepPolicy } from './policy.js';
import type { StoreTx } from './ports/store.js';
import { t } from './i18n/index.js';

/**
 * A second name typed in the same console browser is not a second person: a decision from a
 * session that already decided on this run under another name is refused. Chat platforms vouch
 * for their users themselves, so their actors carry no session and pass.
 */
export async function sameSessionRefusal(tx: StoreTx, actor: Actor, run: StepRun): Promise<string | undefined> {
  if (actor.session === undefined) return undefined;
  const me = actorId(actor);
  const earlier = (await tx.listApprovals(run.id)).find((a) => a.session === actor.session && a.approver !== me);
  if (!earlier) return undefined;
  return t(earlier.decision === 'approve' ? 'refusal.sameBrowser.approved' : 'refusal.sameBrowser.denied', { title: run.stepTitle, name: earlier.approverName });
}

/**
 * Once an incident is resolved its changing steps stop by default: only a step or policy rule
 * marked `afterResolve: true` may still be requested, and only when the requester confirms it.
 * Read-only steps always run.
 */
export function resolvedRefusal(
  incident: Pick<Incident, 'id' | 'status'>,
  step: { id: string; title: string; changes: boolean },
  runbook: string,
  p: Pick<StepPolicy, 'afterResolve'>,
  confirmed: boolean,
): string | undefined {
  if (incident.status !== 'resolved' || !step.changes) return undefined;
  if (!p.afterResolve) {
    return t('refusal.resolvedNoChanges', { id: incident.id, title: step.title });
  }
  if (!confirmed) {
    return t('refusal.resolvedConfirm', { id: incident.id, title: step.title, command: `/runbook run ${runbook} ${step.id} --confirm --incident ${incident.id}` });
  }
  return undefined;
}

/** Whether a request was made before its incident resolved: such a request is not approved afterwards. */
export function requestedBeforeResolution(incident: Pick<Incident, 'status' | 'resolvedAt'> | undefined, run: Pick<StepRun, 'createdAt' | 'changes'>): boolean {
  if (!incident || incident.status !== 'resolved' || !run.changes) return false;
  return incident.resolvedAt === null || Date.parse(run.createdAt) <= Date.parse(incident.resolvedAt);
}

/**
 * Resolving an incident (by Alertmanager or by hand) ends its pending changes: requests waiting for
 * approval, and approved changes not started yet, expire with a note in the thread. Their Approve
 * and Deny buttons are then refused (the run is no longer `requested`). Read-only runs go on.
 */
export async function expireChangesOnResolve(tx: StoreTx, incidentId: number, now: string): Promise<number> {
  const pending = (await tx.listStepRuns(incidentId)).filter((r) => r.changes && (r.state === 'requested' || r.state === 'approved'));
  let expired = 0;
  for (const run of pending) {
    if (!(await tx.transitionStepRun(run.id, [run.state], 'expired', now))) continue;
    expired += 1;
    await recordRunEvent(
      tx,
      { at: now, incidentId, actor: 'system', kind: 'step.expired', text: t(run.state === 'requested' ? 'thread.expiredOnResolve.requested' : 'thread.expiredOnResolve.approved', { title: run.stepTitle, id: incidentId }), data: { runId: run.id, reason: 'resolved', was: run.state } },
      run,
      { line: `⌛ ${runTime(now)} ${t('line.expiredOnResolve', { id: incidentId })}` },
      { refreshCard: true },
    );
  }
  return expired;
}
