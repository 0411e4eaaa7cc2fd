import { makeButton } from './button-codec.js';
import type { Runbook } from './ports/runbooks.js';
import type { StepRun } from './domain.js';
import { NotAllowedError, type RefusalAudit } from '../domain/errors.js';
import { recordEvent } from './events.js';
import { recordRunEvent, runSubject, runTime, timedLine } from './run-thread.js';
import { leftoverRefusal } from './leftovers.js';
import { choiceValues, findOffer, targetParams, targetText, targetValues } from './offers.js';
import { actorId, approvalRefusal, freezeRefusal, requestRefusal, stepPolicy, type Actor } from './policy.js';
import type { Policy } from '../settings/policy.js';
import { appendAudit } from './audit.js';
import { acknowledgeIncident } from './acknowledge.js';
import { uncheckedChoice } from './chosen.js';
import { describePinnedFile, pinParams, type PinnedFile } from './chosen-pins.js';
import { requestedBeforeResolution, resolvedRefusal, sameSessionRefusal } from './step-guards.js';
import type { StoreTx } from './ports/store.js';
import { t } from './i18n/index.js';
import { stepStateText } from './card.js';

export interface StepContext {
  runbooks: readonly Runbook[];
  policy: Policy;
  now: string;
  /** The requester confirmed a changing step on a resolved incident (`--confirm`). */
  confirmAfterResolve?: boolean | undefined;
}

function refuse(incidentId: number | null, kind: RefusalAudit['kind'], reason: string, data: Record<string, unknown> = {}): never {
  throw new NotAllowedError(reason, { incidentId, kind, data });
}

/** Records a refusal in the audit trail; called in a transaction of its own after the refused one rolled back. */
export async function auditRefusal(tx: StoreTx, actor: Actor, error: NotAllowedError, now: string): Promise<void> {
  const audit = error.audit;
  if (!audit) return;
  await appendAudit(tx, {
    at: now,
    incidentId: audit.incidentId,
    actor: actorId(actor),
    kind: audit.kind,
    text: t('thread.refused', { name: actor.name, reason: error.message }),
    data: { reason: error.message, ...audit.data },
  });
}

/**
 * A button press or command asking to run a step. Read-only steps are approved at once; steps that
 * change a system wait for approvals. A step already requested or running is never queued twice.
 * Chosen values must come with their files checked beforehand (`pinned`, see chosen.ts): the
 * request names each file and records its hash for the executor to check again.
 */
export async function requestStep(
  tx: StoreTx,
  ctx: StepContext,
  actor: Actor,
  incidentId: number,
  runbook: string,
  stepId: string,
  choices: Record<string, string> = {},
  pinned: readonly PinnedFile[] = [],
): Promise<StepRun> {
  const incident = await tx.getIncident(incidentId);
  if (!incident) return refuse(null, 'step.refused', t('refusal.incidentMissing', { id: incidentId }), { incidentId });
  const found = findOffer(ctx.runbooks, incident.commonLabels, runbook, stepId, choices, await tx.listAlerts(incidentId));
  if (found.ok === 'pick') return refuse(incidentId, 'step.refused', t('refusal.needsBackup', { title: found.offer.step.title }), { runbook, step: stepId });
  if (found.ok === 'target') {
    return refuse(incidentId, 'step.refused', t('refusal.needsTarget', { title: found.offer.step.title, targets: found.targets.map((x) => x.label).join('; '), example: found.targets[0] ? targetValues(found.targets[0]) : 'alert' }), { runbook, step: stepId });
  }
  if (!found.ok) return refuse(incidentId, 'step.refused', found.reason, { runbook, step: stepId });
  const unchecked = uncheckedChoice(found.offer, pinned);
  if (unchecked) return refuse(incidentId, 'step.refused', unchecked, { runbook, step: stepId });
  // One active request per step and alert: another alert's pending run of the step does not block this one.
  const active = await tx.activeStepRun(incidentId, runbook, stepId, found.offer.target?.fingerprint);
  if (active) {
    const forAlert = active.params['@alert-label'] !== undefined ? t('thread.forAlert', { alert: active.params['@alert-label'] }) : '';
    return refuse(incidentId, 'step.refused', t('refusal.alreadyRequested', { title: active.stepTitle, forAlert, name: active.requestedByName, state: stepStateText(active.state), run: active.id }), { runbook, step: stepId, runId: active.id });
  }

  const step = found.offer.step;
  const params = { ...found.offer.params, ...pinParams(pinned), ...targetParams(found.offer) };
  const files = pinned.map((f) => `\n📄 ${f.param}: ${describePinnedFile(f)}`).join('') + targetText(found.offer);
  const sp = stepPolicy(ctx.policy, runbook, step, incident.commonLabels);
  if (step.changes) {
    const refusal =
      resolvedRefusal(incident, step, runbook, sp, ctx.confirmAfterResolve === true) ??
      requestRefusal(actor, step.title, sp) ??
      freezeRefusal(ctx.policy, ctx.now, incident.commonLabels, step.title) ??
      (await leftoverRefusal(tx, runbook, step, params));
    if (refusal) return refuse(incidentId, 'step.refused', refusal, { runbook, step: stepId });
  }
  const needsApproval = sp.requiredApprovals > 0;
  // Working on it is owning it: the escalation stops for whoever requests a step first (policy may turn this off).
  if (ctx.policy.defaults.acknowledgeOnRequest && incident.status === 'firing' && !incident.acknowledgement) await acknowledgeIncident(tx, actor, incidentId, ctx.now);
  const run = await tx.insertStepRun({
    incidentId,
    runbook,
    step: step.id,
    stepTitle: step.title,
    params,
    platform: actor.platform,
    requestedBy: actor.id,
    requestedByName: actor.name,
    requestedSession: actor.session ?? null,
    changes: step.changes,
    requiredApprovals: sp.requiredApprovals,
    selfApprove: sp.selfApprove,
    state: needsApproval ? 'requested' : 'approved',
    createdAt: ctx.now,
  });
  const base = { at: ctx.now, incidentId, actor: actorId(actor), data: { runId: run.id, runbook, step: step.id, params, ...(pinned.length > 0 ? { files: pinned } : {}) } };
  // The run's one message in the thread: what was asked, then a line per event of the run (run-thread.ts).
  const subject = runSubject(run.id);
  if (needsApproval) {
    const n = run.requiredApprovals;
    const who = sp.approverRoles ? t('thread.stepRequested.from', { roles: sp.approverRoles.join(t('thread.stepRequested.roleOr')) }) : '';
    const env = sp.environment ? ` (${sp.environment})` : '';
    const ttl = ctx.policy.defaults.approvalTtlMinutes;
    const asks = `${t('thread.stepRequested', { name: actor.name, title: step.title, env, n, who, notRequester: step.danger ? t('thread.stepRequested.notRequester') : '', ttl })}${files}`;
    await recordEvent(tx, { ...base, kind: 'step.requested', text: asks }, { refreshCard: true, subject, buttons: requestButtons(run.id), shown: timedLine(asks, ctx.now) });
  } else {
    const runs = `${t('thread.stepReadOnly', { name: actor.name, title: step.title })}${files}`;
    await recordEvent(tx, { ...base, kind: 'step.requested', text: runs }, { refreshCard: true, subject, shown: timedLine(runs, ctx.now) });
  }
  return run;
}

/** An Approve or Deny press. Approvals are counted per distinct user; the step runs once enough arrived. */
export async function decideStep(tx: StoreTx, ctx: StepContext, actor: Actor, runId: number, decision: 'approve' | 'deny'): Promise<StepRun> {
  const run = await tx.getStepRun(runId);
  if (!run) return refuse(null, 'approval.refused', t('refusal.runMissing', { run: runId }), { runId });
  if (run.state === 'requested' && isExpired(run, ctx)) {
    // Committed, not refused: the expiry is a fact for everyone. The caller tells the presser.
    await expireRun(tx, ctx, run);
    return { ...run, state: 'expired' };
  }
  if (run.state !== 'requested') {
    return refuse(run.incidentId, 'approval.refused', t('refusal.alreadyDecided', { title: run.stepTitle, state: stepStateText(run.state), decision: t(`decision.${decision}`) }), { runId, decision });
  }
  const incident = await tx.getIncident(run.incidentId);
  if (decision === 'approve' && requestedBeforeResolution(incident, run)) {
    return refuse(run.incidentId, 'approval.refused', t('refusal.resolvedSinceRequest', { id: run.incidentId, title: run.stepTitle }), { runId, decision });
  }
  const labels = incident?.commonLabels ?? {};
  const step = ctx.runbooks.find((r) => r.name === run.runbook)?.steps.find((s) => s.id === run.step);
  const sp = stepPolicy(ctx.policy, run.runbook, step ?? { id: run.step, changes: run.changes, danger: false, approval: { approvers: run.requiredApprovals, selfApprove: run.selfApprove } }, labels);
  const refusal =
    approvalRefusal(actor, run, sp, decision) ?? (decision === 'approve' && run.changes ? freezeRefusal(ctx.policy, ctx.now, labels, run.stepTitle) : undefined);
  const sessionRefusal = refusal ?? (await sameSessionRefusal(tx, actor, run));
  if (sessionRefusal) return refuse(run.incidentId, 'approval.refused', sessionRefusal, { runId, decision });

  // Counted per namespaced identity: Slack's U1 and Discord's U1 are two people.
  const inserted = await tx.insertApproval({ runId, approver: actorId(actor), approverName: actor.name, decision, at: ctx.now, session: actor.session ?? null });
  if (!inserted) return refuse(run.incidentId, 'approval.refused', t('refusal.youDecided', { title: run.stepTitle }), { runId, decision });

  const base = { at: ctx.now, incidentId: run.incidentId, actor: actorId(actor) };
  // The alert of a grouped incident the run is for, named in the decision as in the request.
  const alertLabel = run.params['@alert-label'];
  const forAlert = alertLabel !== undefined ? t('thread.forAlert', { alert: alertLabel }) : '';
  const alertData = alertLabel !== undefined ? { alert: alertLabel } : {};
  const at = runTime(ctx.now);
  if (decision === 'deny') {
    await tx.transitionStepRun(runId, ['requested'], 'denied', ctx.now);
    const verb = actor.platform === run.platform && actor.id === run.requestedBy ? 'withdrew' : 'denied';
    await recordRunEvent(tx, { ...base, kind: 'step.denied', text: t(verb === 'withdrew' ? 'thread.stepWithdrawn' : 'thread.stepDenied', { name: actor.name, title: run.stepTitle, forAlert }), data: { runId, ...alertData } }, run,
      { line: `🚫 ${at} ${t(verb === 'withdrew' ? 'settle.withdrawn' : 'settle.denied', { name: actor.name })}` },
      { refreshCard: true },
    );
  } else {
    const approvals = (await tx.listApprovals(runId)).filter((a) => a.decision === 'approve');
    const enough = approvals.length >= run.requiredApprovals;
    const count = `${approvals.length}/${run.requiredApprovals}`;
    const approved = enough && (await tx.transitionStepRun(runId, ['requested'], 'approved', ctx.now));
    await recordRunEvent(tx, { ...base, kind: 'step.approved', text: t(enough ? 'thread.stepApproved.running' : 'thread.stepApproved', { name: actor.name, title: run.stepTitle, count, forAlert }), data: { runId, approvals: approvals.map((a) => a.approver), ...alertData } },
      run,
      // Still waiting for more approvals: the buttons stay.
      { line: `👍 ${at} ${t('line.approved', { name: actor.name, count, running: approved ? t('line.approved.running') : '' })}`, ...(approved ? {} : { buttons: requestButtons(runId) }) },
      { refreshCard: true },
    );
  }
  const updated = await tx.getStepRun(runId);
  if (!updated) throw new Error(`run ${runId} vanished`);
  return updated;
}

function isExpired(run: StepRun, ctx: Pick<StepContext, 'policy' | 'now'>): boolean {
  return Date.parse(ctx.now) - Date.parse(run.createdAt) >= ctx.policy.defaults.approvalTtlMinutes * 60_000;
}

async function expireRun(tx: StoreTx, ctx: Pick<StepContext, 'policy' | 'now'>, run: StepRun): Promise<void> {
  if (!(await tx.transitionStepRun(run.id, ['requested'], 'expired', ctx.now))) return;
  const ttl = ctx.policy.defaults.approvalTtlMinutes;
  await recordRunEvent(tx, { at: ctx.now, incidentId: run.incidentId, actor: 'system', kind: 'step.expired', text: t('thread.requestExpired', { title: run.stepTitle, minutes: ttl }), data: { runId: run.id } },
    run,
    { line: `⌛ ${runTime(ctx.now)} ${t('settle.expired', { minutes: ttl })}` },
    { refreshCard: true },
  );
}

/** The Approve and Deny buttons of a request waiting for approval. */
function requestButtons(runId: number) {
  return [makeButton({ action: 'approve', runId }, t('button.approve'), { style: 'primary' }), makeButton({ action: 'deny', runId }, t('button.deny'), { style: 'danger' })];
}

/** Expires requests that waited longer than the policy allows; returns how many. */
export async function expireStaleRequests(tx: StoreTx, ctx: Pick<StepContext, 'policy' | 'now'>): Promise<number> {
  const stale = (await tx.listStepRunsInState('requested', 500)).filter((run) => isExpired(run, ctx));
  for (const run of stale) await expireRun(tx, ctx, run);
  return stale.length;
}

/** A press on one option of a picker: requests the picker's step with the chosen value. */
export async function requestChoice(tx: StoreTx, ctx: StepContext, actor: Actor, choiceId: number, pinned: readonly PinnedFile[] = []): Promise<StepRun> {
  const choice = await tx.getChoice(choiceId);
  if (!choice) return refuse(null, 'step.refused', t('refusal.choiceMissing', { choice: choiceId }), { choiceId });
  return requestStep(tx, ctx, actor, choice.incidentId, choice.runbook, choice.step, choiceValues(choice), pinned);
}

/** "Roll back" after a step with a pre-change checkpoint: requests the declared rollback step bound to that snapshot. */
export async function requestRollback(tx: StoreTx, ctx: StepContext, actor: Actor, runId: number, pinned: readonly PinnedFile[] = []): Promise<StepRun> {
  const run = await tx.getStepRun(runId);
  const step = run && ctx.runbooks.find((r) => r.name === run.runbook)?.steps.find((s) => s.id === run.step);
  const checkpoint = step?.checkpoint;
  const snapshot = run?.result?.artefacts?.find((a) => a.kind === 'checkpoint');
  if (!run || !checkpoint || !snapshot) {
    return refuse(run?.incidentId ?? null, 'step.refused', t('refusal.noCheckpoint', { run: runId }), { runId });
  }
  return requestStep(tx, ctx, actor, run.incidentId, run.runbook, checkpoint.rollback, { [checkpoint.param]: snapshot.path }, pinned);
}
