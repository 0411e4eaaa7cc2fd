import type { Incident } from '../domain.js';
import type { CommandContext } from './context.js';
import { UsageError } from './usage.js';
import { t } from '../i18n/index.js';

const SCAN_LIMIT = 500;

/** Whether the incident is shown in this channel: its card's channel, or (Discord) the thread its card started. */
async function shownIn(c: CommandContext, incident: Incident): Promise<boolean> {
  const platform = c.actor.platform;
  if (incident.targets.some((t) => t.platform === platform && t.channel === c.channel)) return true;
  const cards = await c.engine.cardMessages(incident.id);
  return cards.some((m) => m.platform === platform && m.threadId === c.channel);
}

/**
 * The incident a runbook command acts for: the one named with `--incident`, else the only open
 * incident shown in this channel. Never a guess: with none or several open here, the user must say
 * which, since a step's params come from that incident's labels.
 */
export async function incidentForCommand(c: CommandContext, explicit: number | undefined): Promise<Incident> {
  if (explicit !== undefined) {
    const incident = await c.engine.incident(explicit);
    if (!incident) throw new UsageError(t('refusal.incidentMissing', { id: explicit }));
    return incident;
  }
  const open = await c.engine.openIncidents(SCAN_LIMIT);
  const here: Incident[] = [];
  for (const incident of open) if (await shownIn(c, incident)) here.push(incident);
  if (here.length === 1 && here[0]) return here[0];
  if (here.length === 0) throw new UsageError(t('command.noIncidentHere'));
  throw new UsageError(t('command.manyIncidentsHere', { n: here.length, ids: here.map((i) => `#${i.id}`).join(', ') }));
}
