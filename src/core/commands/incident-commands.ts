import type { Incident } from '../domain.js';
import { offersFor } from '../offers.js';
import { isSilenced } from '../silence.js';
import { formatDuration, formatTime } from '../time.js';
import { fitReply, type CommandContext } from './context.js';
import type { Command } from './schema.js';

type IncidentCommand = Extract<Command, { key: `incident ${string}` }>;

const LIST_LIMIT = 20;

function ownerText(incident: Incident): string {
  return incident.acknowledgement ? `owner ${incident.acknowledgement.byName}` : 'unacknowledged';
}

function silenceText(incident: Incident, now: string): string | undefined {
  return incident.silence && isSilenced(incident, now) ? `silenced by ${incident.silence.byName} until ${formatTime(incident.silence.until)}` : undefined;
}

function listLine(incident: Incident, now: string): string {
  const parts = [`firing since ${formatTime(incident.createdAt)}`, ownerText(incident), silenceText(incident, now)].filter(Boolean);
  return `• #${incident.id} [${incident.severity}] ${incident.title} — ${parts.join(', ')}`;
}

async function list(c: CommandContext): Promise<string> {
  const open = await c.engine.openIncidents(LIST_LIMIT + 1);
  if (open.length === 0) return 'No open incidents.';
  const now = c.engine.now();
  const more = open.length > LIST_LIMIT ? `\n…and more; the ${LIST_LIMIT} newest are shown.` : '';
  return `Open incidents, newest first:\n${open.slice(0, LIST_LIMIT).map((i) => listLine(i, now)).join('\n')}${more}`;
}

async function show(c: CommandContext, id: number): Promise<string> {
  const found = await c.engine.incidentDetails(id);
  if (!found) return `Incident #${id} does not exist.`;
  const { incident, alerts, runs } = found;
  const now = c.engine.now();
  const firing = alerts.filter((a) => a.status === 'firing').length;
  const lines = [
    `*#${incident.id} ${incident.title}* — ${incident.severity}, ${incident.status}`,
    `Opened ${formatTime(incident.createdAt)}; ${incident.status === 'resolved' ? `resolved after ${formatDuration(Date.parse(incident.resolvedAt ?? incident.updatedAt) - Date.parse(incident.createdAt))}` : `${firing} of ${alerts.length} alerts firing`}`,
    `Group: ${Object.entries(incident.groupLabels).map(([k, v]) => `${k}=${v}`).join(', ') || '—'}`,
    incident.acknowledgement ? `Owner: ${incident.acknowledgement.byName} since ${formatTime(incident.acknowledgement.at)}` : 'Owner: nobody yet',
  ];
  const silenced = silenceText(incident, now);
  if (silenced) lines.push(`Silence: ${silenced}`);
  if (incident.resolution) lines.push(`Resolved by ${incident.resolution.byName}${incident.resolution.note ? `: ${incident.resolution.note}` : ''}`);
  for (const run of runs) lines.push(`Step ${run.runbook}/${run.step} (run ${run.id}): ${run.state}, requested by ${run.requestedByName}${run.result ? ` — ${run.result.summary}` : ''}`);
  const { offers } = offersFor(c.engine.runbooks, incident.commonLabels, alerts);
  if (offers.length > 0) lines.push(`Steps offered: ${offers.map((o) => `${o.runbook.name} ${o.step.id}`).join(', ')}`);
  return lines.join('\n');
}

export async function runIncidentCommand(c: CommandContext, command: IncidentCommand): Promise<string> {
  switch (command.key) {
    case 'incident list':
      return list(c);
    case 'incident show':
      return show(c, command.args.id);
    case 'incident ack': {
      await c.engine.acknowledge(c.actor, command.args.id);
      return `You acknowledged incident #${command.args.id}; it is yours now.`;
    }
    case 'incident resolve': {
      const incident = await c.engine.resolve(c.actor, command.args.id, command.args.note ?? '');
      return `Incident #${incident.id} is resolved; the thread has the summary. If its alerts keep firing with changes, a new incident opens and links this one.`;
    }
    case 'incident timeline': {
      const markdown = await c.engine.timeline(command.args.id);
      if (markdown === undefined) return `Incident #${command.args.id} does not exist.`;
      return fitReply(markdown, c.maxReplyChars, `the whole timeline is at GET /incidents/${command.args.id}/timeline`);
    }
    case 'incident silence': {
      const incident = await c.engine.silence(c.actor, command.args.id, command.args.duration);
      return `Silenced incident #${incident.id}'s alerts in Alertmanager until ${formatTime(incident.silence?.until ?? '')} (silence ${incident.silence?.id ?? '?'}).`;
    }
  }
}
