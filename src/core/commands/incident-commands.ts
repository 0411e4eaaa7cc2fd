import type { Incident } from '../domain.js';
import { offersFor } from '../offers.js';
import { isSilenced } from '../silence.js';
import { formatDuration, formatTime } from '../time.js';
import { fitReply, type CommandContext } from './context.js';
import type { Command } from './schema.js';
import { t } from '../i18n/index.js';
import { stepStateText } from '../card.js';
import { resultSummary } from '../result-text.js';

type IncidentCommand = Extract<Command, { key: `incident ${string}` }>;

const LIST_LIMIT = 20;

function ownerText(incident: Incident): string {
  return incident.acknowledgement ? t('command.owner', { name: incident.acknowledgement.byName }) : t('command.unacknowledged');
}

function silenceText(incident: Incident, now: string): string | undefined {
  return incident.silence && isSilenced(incident, now) ? t('command.silencedBy', { name: incident.silence.byName, time: formatTime(incident.silence.until) }) : undefined;
}

function listLine(incident: Incident, now: string): string {
  const parts = [t('command.firingSince', { time: formatTime(incident.createdAt) }), ownerText(incident), silenceText(incident, now)].filter(Boolean);
  return t('command.listLine', { id: incident.id, severity: incident.severity, title: incident.title, parts: parts.join(t('clause.separator')) });
}

async function list(c: CommandContext): Promise<string> {
  const open = await c.engine.openIncidents(LIST_LIMIT + 1);
  if (open.length === 0) return t('command.noOpen');
  const now = c.engine.now();
  const more = open.length > LIST_LIMIT ? `\n${t('command.openMore', { n: LIST_LIMIT })}` : '';
  return `${t('command.openHeader')}\n${open.slice(0, LIST_LIMIT).map((i) => listLine(i, now)).join('\n')}${more}`;
}

async function show(c: CommandContext, id: number): Promise<string> {
  const found = await c.engine.incidentDetails(id);
  if (!found) return t('refusal.incidentMissing', { id });
  const { incident, alerts, runs } = found;
  const now = c.engine.now();
  const firing = alerts.filter((a) => a.status === 'firing').length;
  const lines = [
    t('command.show.title', { id: incident.id, title: incident.title, severity: incident.severity, status: t(`status.${incident.status}`) }),
    incident.status === 'resolved'
      ? t('command.show.openedResolved', { time: formatTime(incident.createdAt), duration: formatDuration(Date.parse(incident.resolvedAt ?? incident.updatedAt) - Date.parse(incident.createdAt)) })
      : t('command.show.openedFiring', { time: formatTime(incident.createdAt), firing, total: alerts.length }),
    t('command.show.group', { labels: Object.entries(incident.groupLabels).map(([k, v]) => `${k}=${v}`).join(', ') || t('none') }),
    incident.acknowledgement ? t('command.show.owner', { name: incident.acknowledgement.byName, time: formatTime(incident.acknowledgement.at) }) : t('command.show.noOwner'),
  ];
  const silenced = silenceText(incident, now);
  if (silenced) lines.push(t('command.show.silence', { text: silenced }));
  const r = incident.resolution;
  if (r) lines.push(r.note ? t('command.show.resolvedByNote', { name: r.byName, note: r.note }) : t('command.show.resolvedBy', { name: r.byName }));
  for (const run of runs) {
    const what = { step: `${run.runbook}/${run.step}`, run: run.id, state: stepStateText(run.state), name: run.requestedByName };
    lines.push(run.result ? t('command.show.stepResult', { ...what, summary: resultSummary(run.result) }) : t('command.show.step', what));
  }
  const { offers } = offersFor(c.engine.runbooks, incident.commonLabels, alerts);
  if (offers.length > 0) lines.push(t('command.show.offered', { steps: offers.map((o) => `${o.runbook.name} ${o.step.id}`).join(', ') }));
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
      return t('command.acked', { id: command.args.id });
    }
    case 'incident resolve': {
      const incident = await c.engine.resolve(c.actor, command.args.id, command.args.note ?? '');
      return t('command.resolved', { id: incident.id });
    }
    case 'incident timeline': {
      const markdown = await c.engine.timeline(command.args.id);
      if (markdown === undefined) return t('refusal.incidentMissing', { id: command.args.id });
      return fitReply(markdown, c.maxReplyChars, t('command.timelineAt', { id: command.args.id }));
    }
    case 'incident silence': {
      const incident = await c.engine.silence(c.actor, command.args.id, command.args.duration);
      return t('command.silenced', { id: incident.id, time: formatTime(incident.silence?.until ?? ''), silence: incident.silence?.id ?? '?' });
    }
  }
}
