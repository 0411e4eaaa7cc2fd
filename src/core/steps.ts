import { makeButton } from './button-codec.js';
import type { Runbook } from './ports/runbooks.js';
import type { StepRun } from './domain.js';
import { NotAllowedError, type RefusalAudit } from '../domain/errors.js';
import { recordEvent } from './events.js';
import { recordRunEvent, runSubject, runTime } from './run-thread.js';
import { leftoverRefusal } from './leftovers.js';
import { findOffer, targetParams, targetText } from './offers.js';
import { actorId, approvalRefusal, freezeRefusal, requestRefusal, stepPolicy, type Actor } from './policy.js';
import type { Policy } from '../settings/policy.js';
import { appendAudit } from './audit.js';
import { acknowledgeIncident } from './acknowledge.js';
import { uncheckedChoice } from './chosen.js';
import { describePinnedFile, pinParams, type PinnedFile } from './chosen-pins.js';
import { requestedBeforeResolution, resolvedRefusal, sameSessionRefusal } from './step-guards.js';
import type { StoreTx } from './ports/store.js';

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
    text: `⛔ ${actor.name} was refused: ${error.message}`,
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
  if (!incident) return refuse(null, 'step.refused', `Incident #${incidentId} does not exist.`, { incidentId });
  const found = findOffer(ctx.runbooks, incident.commonLabels, runbook, stepId, choices, await tx.listAlerts(incidentId));
  if (found.ok === 'pick') return refuse(incidentId, 'step.refused', `"${found.offer.step.title}" needs a backup chosen first.`, { runbook, step: stepId });
  if (found.ok === 'target') {
    return refuse(incidentId, 'step.refused', `"${found.offer.step.title}" needs the alert it is for chosen first (${found.targets.map((t) => t.label).join('; ')}): press its button on the card.`, { runbook, step: stepId });
  }
  if (!found.ok) return refuse(incidentId, 'step.refused', found.reason, { runbook, step: stepId });
  const unchecked = uncheckedChoice(found.offer, pinned);
  if (unchecked) return refuse(incidentId, 'step.refused', unchecked, { runbook, step: stepId });
  const active = await tx.activeStepRun(incidentId, runbook, stepId);
  if (active) {
    return refuse(incidentId, 'step.refused', `"${active.stepTitle}" was already requested by ${active.requestedByName} and is ${active.state} (run ${active.id}).`, { runbook, step: stepId, runId: active.id });
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
    const who = sp.approverRoles ? ` from ${sp.approverRoles.join(' or ')}` : '';
    const env = sp.environment ? ` (${sp.environment})` : '';
    const ttl = ctx.policy.defaults.approvalTtlMinutes;
    const asks = `${actor.name} asks to run *${step.title}*${env} — needs ${n} approval${n === 1 ? '' : 's'}${who}${step.danger ? ', not counting the requester' : ''}. The request expires in ${ttl} min.${files}`;
    await recordEvent(tx, { ...base, kind: 'step.requested', text: `🙋 ${asks}` }, { refreshCard: true, subject, buttons: requestButtons(run.id), shown: `🙋 ${runTime(ctx.now)} ${asks}` });
  } else {
    const runs = `${actor.name} runs *${step.title}* (read-only, no approval needed).${files}`;
    await recordEvent(tx, { ...base, kind: 'step.requested', text: `🔎 ${runs}` }, { refreshCard: true, subject, shown: `🔎 ${runTime(ctx.now)} ${runs}` });
  }
  return run;
}

/** An Approve or Deny press. Approvals are counted per distinct user; the step runs once enough arrived. */
export async function decideStep(tx: StoreTx, ctx: StepContext, actor: Actor, runId: number, decision: 'approve' | 'deny'): Promise<StepRun> {
  const run = await tx.getStepRun(runId);
  if (!run) return refuse(null, 'approval.refused', `Run ${runId} does not exist.`, { runId });
  if (run.state === 'requested' && isExpired(run, ctx)) {
    // Committed, not refused: the expiry is a fact for everyone. The caller tells the presser.
    await expireRun(tx, ctx, run);
    return { ...run, state: 'expired' };
  }
  if (run.state !== 'requested') {
    return refuse(run.incidentId, 'approval.refused', `"${run.stepTitle}" is already ${run.state}; nothing to ${decision}.`, { runId, decision });
  }
  const incident = await tx.getIncident(run.incidentId);
  if (decision === 'approve' && requestedBeforeResolution(incident, run)) {
    return refuse(run.incidentId, 'approval.refused', `Incident #${run.incidentId} was resolved after "${run.stepTitle}" was requested, so it is not approved now.`, { runId, decision });
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
  if (!inserted) return refuse(run.incidentId, 'approval.refused', `You already decided on "${run.stepTitle}".`, { runId, decision });

  const base = { at: ctx.now, incidentId: run.incidentId, actor: actorId(actor) };
  const at = runTime(ctx.now);
  if (decision === 'deny') {
    await tx.transitionStepRun(runId, ['requested'], 'denied', ctx.now);
    const verb = actor.platform === run.platform && actor.id === run.requestedBy ? 'withdrew' : 'denied';
    await recordRunEvent(tx, { ...base, kind: 'step.denied', text: `🚫 ${actor.name} ${verb} *${run.stepTitle}*.`, data: { runId } }, run,
      { line: `🚫 ${at} ${verb === 'withdrew' ? 'withdrawn' : 'denied'} by ${actor.name}` },
      { refreshCard: true },
    );
  } else {
    const approvals = (await tx.listApprovals(runId)).filter((a) => a.decision === 'approve');
    const enough = approvals.length >= run.requiredApprovals;
    const count = `${approvals.length}/${run.requiredApprovals}`;
    const approved = enough && (await tx.transitionStepRun(runId, ['requested'], 'approved', ctx.now));
    await recordRunEvent(tx, { ...base, kind: 'step.approved', text: `👍 ${actor.name} approved *${run.stepTitle}* (${count}).${enough ? ' Running it now.' : ''}`, data: { runId, approvals: approvals.map((a) => a.approver) } },
      run,
      // Still waiting for more approvals: the buttons stay.
      { line: `👍 ${at} approved by ${actor.name} (${count})${approved ? ': running it now' : ''}`, ...(approved ? {} : { buttons: requestButtons(runId) }) },
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
  await recordRunEvent(tx, { at: ctx.now, incidentId: run.incidentId, actor: 'system', kind: 'step.expired', text: `⌛ The request for *${run.stepTitle}* expired: not approved within ${ttl} min.`, data: { runId: run.id } },
    run,
    { line: `⌛ ${runTime(ctx.now)} expired: not approved within ${ttl} min` },
    { refreshCard: true },
  );
}

/** The Approve and Deny buttons of a request waiting for approval. */
function requestButtons(runId: number) {
  return [makeButton({ action: 'approve', runId }, 'Approve', { style: 'primary' }), makeButton({ action: 'deny', runId }, 'Deny', { style: 'danger' })];
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
  if (!choice) return refuse(null, 'step.refused', `Choice ${choiceId} does not exist.`, { choiceId });
  return requestStep(tx, ctx, actor, choice.incidentId, choice.runbook, choice.step, { [choice.param]: choice.value }, pinned);
}

/** "Roll back" after a step with a pre-change checkpoint: requests the declared rollback step bound to that snapshot. */
export async function requestRollback(tx: StoreTx, ctx: StepContext, actor: Actor, runId: number, pinned: readonly PinnedFile[] = []): Promise<StepRun> {
  const run = await tx.getStepRun(runId);
  const step = run && ctx.runbooks.find((r) => r.name === run.runbook)?.steps.find((s) => s.id === run.step);
  const checkpoint = step?.checkpoint;
  const snapshot = run?.result?.artefacts?.find((a) => a.kind === 'checkpoint');
  if (!run || !checkpoint || !snapshot) {
    return refuse(run?.incidentId ?? null, 'step.refused', `Run ${runId} has no pre-change checkpoint to roll back to.`, { runId });
  }
  return requestStep(tx, ctx, actor, run.incidentId, run.runbook, checkpoint.rollback, { [checkpoint.param]: snapshot.path }, pinned);
}
