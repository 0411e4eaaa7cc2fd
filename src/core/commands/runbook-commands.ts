import { findOffer } from '../offers.js';
import type { Runbook } from '../ports/runbooks.js';
import { freezeRefusal, stepPolicy } from '../policy.js';
import type { CommandContext } from './context.js';
import { incidentForCommand } from './incident-context.js';
import type { Command } from './schema.js';
import { UsageError } from './usage.js';

type RunbookCommand = Extract<Command, { key: `runbook ${string}` }>;
type StepArgs = Extract<Command, { key: 'runbook run' }>['args'];

function findRunbook(c: CommandContext, name: string): Runbook {
  const runbook = c.engine.runbooks.find((r) => r.name === name);
  if (!runbook) throw new UsageError(`There is no runbook named "${name}". \`/runbook list\` shows them.`);
  return runbook;
}

/**
 * Params typed in chat may only fill params the runbook marks `chosen` (a backup to restore):
 * everything else comes from the incident's labels or the runbook's defaults, as for buttons.
 * Values are then held to the param's pattern by the same resolution buttons use.
 */
function choicesFrom(runbook: Runbook, given: Record<string, string> | undefined): Record<string, string> {
  for (const name of Object.keys(given ?? {})) {
    const spec = runbook.params[name];
    if (!spec) throw new UsageError(`Runbook "${runbook.name}" has no param "${name}".`);
    if (!spec.chosen) throw new UsageError(`Param "${name}" comes from the incident's labels or the runbook's default; it cannot be set from chat.`);
  }
  return given ?? {};
}

function describeRunbook(runbook: Runbook): string {
  const steps = runbook.steps.map((s) => `${s.id}${s.danger ? ' (danger)' : s.changes ? ' (changes)' : ''}`);
  return `• *${runbook.name}* — ${runbook.description ?? 'no description'}; steps: ${steps.join(', ')}`;
}

function showRunbook(c: CommandContext, runbook: Runbook): string {
  const matches = [runbook.match, ...runbook.alsoMatch].map((m) => Object.entries(m).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`).join(', ') || 'any labels');
  const lines = [`*${runbook.name}* — ${runbook.description ?? 'no description'}`, `Applies to alerts with ${matches.join(', or ')}`];
  for (const [name, p] of Object.entries(runbook.params)) {
    const from = p.chosen ? 'chosen in chat' : [p.fromLabel && `label ${p.fromLabel}`, p.default !== undefined && `default ${p.default}`].filter(Boolean).join(', else ');
    lines.push(`Param ${name}: ${from}; must match \`${p.pattern}\``);
  }
  for (const step of runbook.steps) {
    const sp = stepPolicy(c.engine.policy, runbook.name, step, {});
    const approval = sp.requiredApprovals > 0 ? `needs ${sp.requiredApprovals} approval(s)${sp.approverRoles ? ` from ${sp.approverRoles.join(' or ')}` : ''}` : 'runs at once (read-only)';
    lines.push(`Step ${step.id} — ${step.title}: ${step.action}, ${approval}`);
  }
  return lines.join('\n');
}

async function run(c: CommandContext, args: StepArgs): Promise<string> {
  const runbook = findRunbook(c, args.name);
  const choices = choicesFrom(runbook, args.params);
  const incident = await incidentForCommand(c, args.incident);
  const requested = await c.engine.requestStep(c.actor, incident.id, runbook.name, args.step, choices, { confirmAfterResolve: args.confirm === true });
  if (!requested) return `"${args.step}" needs a backup chosen first: pick one in incident #${incident.id}'s thread.`;
  const what = requested.state === 'requested' ? `it needs ${requested.requiredApprovals} approval(s) in the thread before it runs` : 'it runs now';
  return `Requested ${runbook.name} ${args.step} for incident #${incident.id} (run ${requested.id}): ${what}.`;
}

async function dryRun(c: CommandContext, args: StepArgs): Promise<string> {
  const runbook = findRunbook(c, args.name);
  const choices = choicesFrom(runbook, args.params);
  const incident = await incidentForCommand(c, args.incident);
  const found = findOffer(c.engine.runbooks, incident.commonLabels, runbook.name, args.step, choices, (await c.engine.incidentDetails(incident.id))?.alerts ?? []);
  if (found.ok === 'target') throw new UsageError(`"${found.offer.step.title}" runs for one alert of this group (${found.targets.map((t) => t.label).join('; ')}): press its button on the card to choose which.`);
  if (found.ok === 'pick') throw new UsageError(`"${found.offer.step.title}" needs \`${found.pick.param}=<path>\`: a backup to restore from.`);
  if (!found.ok) throw new UsageError(found.reason);
  const { step, params } = found.offer;
  const sp = stepPolicy(c.engine.policy, runbook.name, step, incident.commonLabels);
  const freeze = step.changes ? freezeRefusal(c.engine.policy, c.engine.now(), incident.commonLabels, step.title) : undefined;
  const approval = sp.requiredApprovals > 0 ? `needs ${sp.requiredApprovals} approval(s)${sp.approverRoles ? ` from ${sp.approverRoles.join(' or ')}` : ''}` : 'read-only: runs at once when requested';
  return [
    `Dry run of ${runbook.name} ${step.id} ("${step.title}") for incident #${incident.id}; nothing was run.`,
    `It ${c.engine.runner.describe(step, params)}.`,
    `Params: ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}`,
    `Approval: ${approval}.`,
    ...(freeze ? [freeze] : []),
  ].join('\n');
}

export async function runRunbookCommand(c: CommandContext, command: RunbookCommand): Promise<string> {
  switch (command.key) {
    case 'runbook list':
      return c.engine.runbooks.length === 0 ? 'No runbooks are loaded.' : `Runbooks:\n${c.engine.runbooks.map(describeRunbook).join('\n')}`;
    case 'runbook show':
      return showRunbook(c, findRunbook(c, command.args.name));
    case 'runbook run':
      return run(c, command.args);
    case 'runbook dry-run':
      return dryRun(c, command.args);
    case 'runbook runners':
      return listRunners(c);
  }
}

/** The runners that have polled this bot: connected while their heartbeat is within the bound. */
async function listRunners(c: CommandContext): Promise<string> {
  const runners = await c.engine.runners();
  if (runners.length === 0) return 'No runner has connected to this bot. Steps without runOn run in the bot itself.';
  const lines = runners.map((r) => {
    const labels = Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(', ') || 'no labels';
    const state = r.connected ? `🟢 connected since ${r.connectedAt.slice(0, 19).replace('T', ' ')} UTC` : '🔴 disconnected';
    return `• *${r.name}* (${labels}${r.version ? `, version ${r.version}` : ''}): ${state}; last heartbeat ${r.silentSeconds} s ago`;
  });
  return `Runners:\n${lines.join('\n')}`;
}
