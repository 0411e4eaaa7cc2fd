import type { ServerResponse } from 'node:http';
import type { IncidentUseCases } from '../core/use-cases.js';
import { redactData, type Redactor } from '../domain/redact.js';
import { sendError, sendJson } from '../http/respond.js';

/** The incident id of a route, or undefined after answering 400. */
function routeIncidentId(res: ServerResponse, rawId: string): number | undefined {
  if (/^\d{1,15}$/.test(rawId)) return Number(rawId);
  sendError(res, 400, 'invalid_id', `incident id must be a number, got "${rawId.slice(0, 40)}"`);
  return undefined;
}

/**
 * GET /incidents/:id/audit: the incident's audit trail as JSON, oldest first, redacted like the
 * timeline and the export (the stored records and their hashes stay as written: a redacted event
 * no longer hashes to its `hash`; audit:verify checks the chains on the database).
 */
export async function handleIncidentAudit(res: ServerResponse, engine: IncidentUseCases, rawId: string, redact: Redactor): Promise<void> {
  const id = routeIncidentId(res, rawId);
  if (id === undefined) return;
  const events = await engine.auditTrail(id);
  if (!events) return sendError(res, 404, 'not_found', `incident ${rawId} does not exist`);
  sendJson(res, 200, { incidentId: id, events: events.map((e) => ({ ...e, text: redact(e.text), data: redactData(e.data, redact) })) });
}

/** GET /incidents/:id/timeline: the incident's timeline as Markdown (redacted), for a post-incident review. */
export async function handleIncidentTimeline(res: ServerResponse, engine: IncidentUseCases, rawId: string): Promise<void> {
  const id = routeIncidentId(res, rawId);
  if (id === undefined) return;
  const markdown = await engine.timeline(id);
  if (markdown === undefined) return sendError(res, 404, 'not_found', `incident ${rawId} does not exist`);
  res.writeHead(200, { 'content-type': 'text/markdown; charset=utf-8', 'content-disposition': `inline; filename="incident-${id}-timeline.md"` });
  res.end(markdown);
}
