import type { Incident } from './domain.js';
import type { TimelineInput } from './timeline.js';
import type { StoreTx } from './ports/store.js';

/** Reads what a timeline is built from. Sequential reads: a transaction runs one statement at a time. */
export async function gatherTimeline(tx: StoreTx, incident: Incident): Promise<TimelineInput> {
  const runs = await tx.listStepRuns(incident.id);
  const approvals = await tx.listIncidentApprovals(incident.id);
  return { incident, alerts: await tx.listAlerts(incident.id), runs, approvals, audit: await tx.listAudit(incident.id) };
}
