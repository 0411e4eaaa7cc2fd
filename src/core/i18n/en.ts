/*
 * The English catalogue: the reference every other language is checked against (same keys, same
 * parameters; see test/unit/core/i18n-catalogue.test.ts). Keys are grouped by where the text
 * appears: `card.*`, `thread.*` (audit events posted in the incident's thread), `answer.*`
 * (private answers to the person who pressed or typed), `command.*`, `console.*`.
 *
 * `{name}` is a parameter; `{n|one|other}` is an English plural on parameter n. To add a text: add
 * its key here and in every other catalogue (the type checker names a catalogue that lacks it).
 */
export const en = {
  // Separators: a list of names, and clauses of one line.
  'list.separator': ', ',
  'clause.separator': ', ',
  'none': '—',

  // Durations (src/core/time.ts).
  'time.seconds': '{s}s',
  'time.minutes': '{m}m',
  'time.hoursMinutes': '{h}h {m}m',
  'time.daysHours': '{d}d {h}h',

  // Step states, as cards and answers name them.
  'state.requested': 'requested',
  'state.approved': 'approved',
  'state.running': 'running',
  'state.succeeded': 'succeeded',
  'state.failed': 'failed',
  'state.timed_out': 'timed out',
  'state.interrupted': 'interrupted',
  'state.denied': 'denied',
  'state.expired': 'expired',

  // Incident states.
  'status.firing': 'firing',
  'status.resolved': 'resolved',

  // The incident card.
  'card.button.ack': 'Acknowledge',
  'card.button.silence': 'Silence 1h',
  'card.button.unsilence': 'Unsilence',
  'card.button.resolve': 'Resolve',
  'card.menu.moreSteps': 'More steps',
  'card.field.severity': 'Severity',
  'card.field.status': 'Status',
  'card.field.alerts': 'Alerts',
  'card.field.service': 'Service',
  'card.field.instance': 'Instance',
  'card.field.started': 'Started',
  'card.field.owner': 'Owner',
  'card.field.silenced': 'Silenced',
  'card.field.resolvedBy': 'Resolved by',
  'card.field.escalated': 'Escalated',
  'card.field.previous': 'Previous',
  'card.value.firing': 'firing ({firing} of {total})',
  'card.value.instancesMore': '{listed} and {more} more',
  'card.value.owner': '{name} (since {time})',
  'card.value.silenced': 'by {name} until {time}',
  'card.value.resolvedBy': '{name} at {time}',
  'card.value.resolvedByNote': '{name} at {time}: {note}',
  'card.value.escalated': 'level {level} (last {time}); nobody has acknowledged it',
  'card.link.source': 'Source',
  'card.link.runbook': 'Runbook',
  'card.confirm.title': 'Run "{title}"?',
  'card.confirm.text': 'This changes a system and needs {n} approval(s) before it runs.',
  'card.confirm.request': 'Request',
  'card.confirm.cancel': 'Cancel',
  'card.statusLine.firing': 'Firing since {time}',
  'card.statusLine.escalated': ' · ⏰ escalated (level {level})',
  'card.statusLine.resolved': 'Resolved after {duration}',
  'card.notOffered': 'Not offered: {runbook}: {problems}',
  'card.fallback.firing': 'FIRING',
  'card.fallback.resolved': 'RESOLVED',
  'card.step.requestedBy': 'requested by {name}',
  'card.step.approvedBy': 'approved by {names}',
  'card.step.deniedBy': 'denied by {names}',
  'card.step.expires': '{time}, expires {expires}',
  'card.step.for': 'for {target}',
  'card.hiddenSteps': '{hidden} more {hidden|step|steps} not shown: {platform} limits the size of a message.',
  'card.hiddenSteps.short': '{hidden} more {hidden|step|steps} not shown.',
  'card.discord.hiddenRows': '{hidden} more {hidden|step|steps} not shown: Discord allows {rows} rows of buttons and menus on a message.',
  'card.discord.moreFields': 'More fields',
  'card.discord.moreFieldsNote': '{dropped} more fields not shown.',
  'card.discord.hiddenOptions': '({hidden} more {hidden|option|options} not shown: Discord allows {max} buttons on a message.)',

  // A step's result, when an action reported only its exit.
  'result.exit': 'exit {code} in {took}',
} as const satisfies Record<string, string>;

export type MessageKey = keyof typeof en;
