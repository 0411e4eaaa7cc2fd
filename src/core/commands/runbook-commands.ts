import { ALERT_CHOICE, findOffer, targetValues } from '../offers.js';
import type { Runbook } from '../ports/runbooks.js';
import { freezeRefusal, stepPolicy } from '../policy.js';
import type { CommandContext } from './context.js';
import { incidentForCommand } from './incident-context.js';
import type { Command } from './schema.js';
import { UsageError } from './usage.js';
import { t } from '../i18n/index.js';
import { stepDescription } from '../result-text.js';
import { formatStamp } from '../time.js';

type RunbookCommand = Extract<Command, { key: `runbook ${string}` }>;
type StepArgs = Extract<Command, { key: 'runbook run' }>['args'];

function findRunbook(c: CommandContext, name: string): Runbook {
  const runbook = c.engine.runbooks.find((r) => r.name === name);
  if (!runbook) throw new UsageError(t('command.noRunbook', { name }));
  return runbook;
}

/** Typed in a command, names the alert of a grouped incident a step is for (`alert=host2:3001`). */
const ALERT_WORD = 'alert';

/**
 * Params typed in chat may only fill params the runbook marks `chosen` (a backup to restore):
 * everything else comes from the incident's labels or the runbook's defaults, as for buttons.
 * Values are then held to the param's pattern by the same resolution buttons use. `alert=` (unless
 * the runbook has a param of that name) chooses which firing alert of a group the step is for,
 * among those its menu offers, which is how one beyond a platform's menu limit is chosen.
 */
function choicesFrom(runbook: Runbook, given: Record<string, string> | undefined): Record<string, string> {
  const choices: Record<string, string> = {};
  for (const [name, value] of Object.entries(given ?? {})) {
    const spec = runbook.params[name];
    if (!spec && name === ALERT_WORD) {
      choices[ALERT_CHOICE] = value;
      continue;
    }
    if (!spec) throw new UsageError(t('command.noParam', { runbook: runbook.name, name }));
    if (!spec.chosen) throw new UsageError(t('command.paramNotChosen', { name }));
    choices[name] = value;
  }
  return choices;
}

function describeRunbook(runbook: Runbook): string {
  const steps = runbook.steps.map((s) => `${s.id}${s.danger ? t('command.stepDanger') : s.changes ? t('command.stepChanges') : ''}`);
  return t('command.runbookLine', { name: runbook.name, description: runbook.description ?? t('command.noDescription'), steps: steps.join(', ') });
}

function showRunbook(c: CommandContext, runbook: Runbook): string {
  const matches = [runbook.match, ...runbook.alsoMatch].map((m) => Object.entries(m).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`).join(', ') || t('command.showRunbook.anyLabels'));
  const lines = [
    t('command.showRunbook.title', { name: runbook.name, description: runbook.description ?? t('command.noDescription') }),
    t('command.showRunbook.applies', { match: matches.join(t('command.showRunbook.or')) }),
  ];
  for (const [name, p] of Object.entries(runbook.params)) {
    const sources = [p.fromLabel && t('command.showRunbook.label', { label: p.fromLabel }), p.default !== undefined && t('command.showRunbook.default', { value: p.default })];
    const from = p.chosen ? t('command.showRunbook.chosen') : sources.filter(Boolean).join(t('command.showRunbook.else'));
    lines.push(t('command.showRunbook.param', { name, from, pattern: `\`${p.pattern}\`` }));
  }
  for (const step of runbook.steps) {
    const sp = stepPolicy(c.engine.policy, runbook.name, step, {});
    const approval = sp.requiredApprovals > 0 ? approvalsText(sp) : t('command.readOnly');
    lines.push(t('command.showRunbook.step', { id: step.id, title: step.title, action: step.action, approval }));
  }
  return lines.join('\n');
}

/** "needs 2 approval(s) from sre or dba". */
function approvalsText(sp: { requiredApprovals: number; approverRoles?: readonly string[] | undefined }): string {
  const n = sp.requiredApprovals;
  return sp.approverRoles ? t('command.needsApprovalsFrom', { n, roles: sp.approverRoles.join(t('thread.stepRequested.roleOr')) }) : t('command.needsApprovals', { n });
}

async function run(c: CommandContext, args: StepArgs): Promise<string> {
  const runbook = findRunbook(c, args.name);
  const choices = choicesFrom(runbook, args.params);
  const incident = await incidentForCommand(c, args.incident);
  const requested = await c.engine.requestStep(c.actor, incident.id, runbook.name, args.step, choices, { confirmAfterResolve: args.confirm === true });
  if (!requested) return t('command.run.needsBackup', { step: args.step, id: incident.id });
  const what = requested.state === 'requested' ? t('command.run.waits', { n: requested.requiredApprovals }) : t('command.run.now');
  return t('command.run.requested', { runbook: runbook.name, step: args.step, id: incident.id, run: requested.id, what });
}

async function dryRun(c: CommandContext, args: StepArgs): Promise<string> {
  const runbook = findRunbook(c, args.name);
  const choices = choicesFrom(runbook, args.params);
  const incident = await incidentForCommand(c, args.incident);
  const found = findOffer(c.engine.runbooks, incident.commonLabels, runbook.name, args.step, choices, (await c.engine.incidentDetails(incident.id))?.alerts ?? []);
  if (found.ok === 'target') throw new UsageError(t('command.dry.target', { title: found.offer.step.title, targets: found.targets.map((x) => x.label).join('; '), example: found.targets[0] ? targetValues(found.targets[0]) : '<alert>' }));
  if (found.ok === 'pick') throw new UsageError(t('command.dry.pick', { title: found.offer.step.title, param: found.pick.param }));
  if (!found.ok) throw new UsageError(found.reason);
  const { step, params } = found.offer;
  const sp = stepPolicy(c.engine.policy, runbook.name, step, incident.commonLabels);
  const freeze = step.changes ? freezeRefusal(c.engine.policy, c.engine.now(), incident.commonLabels, step.title) : undefined;
  const approval = sp.requiredApprovals > 0 ? approvalsText(sp) : t('command.dry.readOnly');
  return [
    t('command.dry.title', { runbook: runbook.name, step: step.id, title: step.title, id: incident.id }),
    t('command.dry.it', { what: stepDescription(c.engine.runner, step, params) }),
    t('command.dry.params', { params: Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ') || t('command.dry.noParams') }),
    t('command.dry.approval', { approval }),
    ...(freeze ? [freeze] : []),
  ].join('\n');
}

export async function runRunbookCommand(c: CommandContext, command: RunbookCommand): Promise<string> {
  switch (command.key) {
    case 'runbook list':
      return c.engine.runbooks.length === 0 ? t('command.noRunbooks') : `${t('command.runbooksHeader')}\n${c.engine.runbooks.map(describeRunbook).join('\n')}`;
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
  if (runners.length === 0) return t('command.noRunners');
  const lines = runners.map((r) => {
    const labels = Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(', ') || t('command.runner.noLabels');
    const state = r.connected ? t('command.runner.connected', { time: formatStamp(r.connectedAt) }) : t('command.runner.disconnected');
    return t('command.runner.line', { name: r.name, labels, version: r.version ? t('command.runner.version', { version: r.version }) : '', state, seconds: r.silentSeconds });
  });
  return `${t('command.runnersHeader')}\n${lines.join('\n')}`;
}
