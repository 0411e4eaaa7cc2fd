import type { ServerResponse } from 'node:http';
import type { Engine } from '../core/engine.js';
import { sendError, sendJson } from '../http/respond.js';

/** GET /incidents/:id/audit: the incident's audit trail as JSON, oldest first. */
export async function handleIncidentAudit(res: ServerResponse, engine: Engine, rawId: string): Promise<void> {
  if (!/^\d{1,15}$/.test(rawId)) return sendError(res, 400, 'invalid_id', `incident id must be a number, got "${rawId.slice(0, 40)}"`);
  const events = await engine.auditTrail(Number(rawId));
  if (!events) return sendError(res, 404, 'not_found', `incident ${rawId} does not exist`);
  sendJson(res, 200, { incidentId: Number(rawId), events });
}
