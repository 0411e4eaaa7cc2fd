import { commandSchemas, isCommandKey, type Command, type CommandInput, type CommandKey, type OptionValue } from './schema.js';
import { usageError } from './usage.js';
import { t } from '../i18n/index.js';

/** How a subcommand's words map to options when typed as text (Slack): positional names, then the rest of the line. */
const POSITIONAL: Record<CommandKey, { args: string[]; rest?: string; flags?: string[]; switches?: string[] }> = {
  'incident list': { args: [] },
  'incident show': { args: ['id'] },
  'incident ack': { args: ['id'] },
  'incident resolve': { args: ['id'], rest: 'note' },
  'incident timeline': { args: ['id'] },
  'incident silence': { args: ['id', 'duration'] },
  'runbook list': { args: [] },
  'runbook show': { args: ['name'] },
  'runbook run': { args: ['name', 'step'], rest: 'params', flags: ['incident'], switches: ['confirm'] },
  'runbook dry-run': { args: ['name', 'step'], rest: 'params', flags: ['incident'] },
  'runbook runners': { args: [] },
};

/**
 * A command typed as text, e.g. `/incident resolve 12 restarted the pool`, as the same input
 * Discord's options give. Words are split on spaces; the last field of resolve (note) and run
 * (params) takes the rest of the line. `--incident 12` (or `--incident=12`) and the switch `--confirm`
 * may stand anywhere.
 */
export function parseCommandText(name: string, text: string): CommandInput {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const subcommand = words.shift()?.toLowerCase();
  const key = `${name} ${subcommand ?? ''}`;
  if (subcommand === undefined || !isCommandKey(key)) return { name, subcommand, options: {} };
  const spec = POSITIONAL[key];
  const options: Record<string, OptionValue> = {};
  const rest: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? '';
    const flag = /^--([a-z]+)(?:=(.*))?$/.exec(word);
    if (flag && flag[2] === undefined && spec.switches?.includes(flag[1] ?? '')) {
      options[flag[1] ?? ''] = true;
      continue;
    }
    if (flag && spec.flags?.includes(flag[1] ?? '')) {
      const value = flag[2] ?? words[++i];
      if (value !== undefined) options[flag[1] ?? ''] = value;
      continue;
    }
    rest.push(word);
  }
  for (const arg of spec.args) {
    const word = rest.shift();
    if (word !== undefined) options[arg] = word;
  }
  if (rest.length > 0) {
    // Unknown extra words become an option no schema takes, so validation names them.
    options[spec.rest ?? `unexpected "${rest.join(' ').slice(0, 40)}"`] = rest.join(' ');
  }
  return { name, subcommand, options };
}

/** Validates an input against its subcommand's schema; throws a UsageError naming the first problem. */
export function validateCommand(input: CommandInput): Command {
  const key = `${input.name} ${input.subcommand ?? ''}`;
  if (!isCommandKey(key)) {
    const problem = input.subcommand ? t('parse.notSubcommand', { sub: input.subcommand, name: input.name }) : t('parse.needsSubcommand', { name: input.name });
    throw usageError(problem, undefined, input.name);
  }
  const parsed = commandSchemas[key].safeParse(input.options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    let problem: string;
    if (issue?.code === 'unrecognized_keys') problem = t('parse.unexpected', { words: issue.keys.map((k) => (k.startsWith('unexpected ') ? k.slice(11) : `"${k}"`)).join(', ') });
    else if (field !== '' && input.options[field] === undefined) problem = t('parse.missing', { field });
    else problem = `${field ? `<${field}>: ` : ''}${issue?.message ?? t('parse.invalid')}`;
    throw usageError(t('parse.problem', { key, problem }), key, input.name);
  }
  return { key, args: parsed.data } as Command;
}
