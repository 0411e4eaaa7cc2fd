import type { ServerResponse } from 'node:http';
import type { IncidentUseCases } from '../core/use-cases.js';
import { redactData, type Redactor } from '../domain/redact.js';
import { sendError, sendJson } from '../http/respond.js';

/** The incident (or run) id of a route, or undefined after answering 400. */
function routeIncidentId(res: ServerResponse, rawId: string, what = 'incident'): number | undefined {
  if (/^\d{1,15}$/.test(rawId)) return Number(rawId);
  sendError(res, 400, 'invalid_id', `${what} id must be a number, got "${rawId.slice(0, 40)}"`);
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

/**
 * GET /incidents/:id/runs/:run/output: a step run's whole output as plain text, redacted when the
 * step ran and again here with the bot's own secrets; the thread shows only a head and a tail of it.
 */
export async function handleRunOutput(res: ServerResponse, engine: IncidentUseCases, rawId: string, rawRun: string, redact: Redactor): Promise<void> {
  const id = routeIncidentId(res, rawId);
  if (id === undefined) return;
  const run = routeIncidentId(res, rawRun, 'run');
  if (run === undefined) return;
  const output = await engine.runOutput(id, run);
  if (output === undefined) return sendError(res, 404, 'not_found', `incident ${id} has no run ${run}`);
  if (output === null) return sendError(res, 404, 'not_finished', `run ${run} of incident ${id} has no output yet`);
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'content-disposition': `inline; filename="incident-${id}-run-${run}-output.txt"` });
  res.end(redact(output));
}
