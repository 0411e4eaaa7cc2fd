/**
 * What the slash commands will do. Their handlers arrive with the incident-lifecycle work; until
 * then a command answers, privately, with this and says plainly that it is not handled yet.
 */
const PLANNED: Record<string, string[]> = {
  incident: [
    '`/incident list` — the open incidents',
    '`/incident show <id>` — one incident: alerts, steps, links',
    '`/incident ack <id>` — acknowledge: you are on it',
    '`/incident resolve <id> [note]` — resolve by hand, with an optional note',
    '`/incident timeline <id>` — everything that happened, oldest first',
    '`/incident silence <id> <duration>` — silence its alerts for a while (e.g. 2h)',
  ],
  runbook: [
    '`/runbook list` — the runbooks and their steps',
    '`/runbook show <name>` — one runbook: what each step does and who may approve it',
    '`/runbook run <name> <step> [params]` — request a step (changing steps still need approval)',
    '`/runbook dry-run <name> <step> [params]` — show what a step would run, without running it',
  ],
};

export const NOT_HANDLED_YET = 'This command is not handled yet: use the buttons on incident cards.';

/** The ephemeral answer to a slash command for now. */
export function commandHelp(name: string): string {
  const lines = PLANNED[name] ?? Object.values(PLANNED).flat();
  return [NOT_HANDLED_YET, '', 'What the commands will do:', ...lines].join('\n');
}
