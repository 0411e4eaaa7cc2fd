import type { ResultMessage } from '../domain/result-message.js';
import { formatUnits } from '../domain/format.js';
import type { RunbookStep, StepResult } from './ports/runbooks.js';
import type { StepRunner } from './ports/step-runner.js';
import { CATALOGUES, currentLocale, interpolate, t, type MessageKey } from './i18n/index.js';
import { formatTime } from './time.js';

/*
 * The runbook actions are a lower layer with no catalogue: they describe a step and its result in
 * English, and say them as codes with values too (one code, or a part per phase of a typed
 * action; a finding's value, a picker's label), which are said here in the bot's language. The
 * shapes every exec step produces ("will run `argv` (timeout 60s)", "exit 0 in 1.2s") are
 * recognised here, their values (argv, paths, times) kept exactly. A text with no code (a newer
 * runner's, a program's own line) is shown as the action wrote it.
 */

/** The exec action's plain summary, "exit 0 in 1.2s". */
const EXIT_SUMMARY = /^exit (-?\d+) in (\S+(?: ms)?)$/;

/** The exec action's description, "will run `argv` in /dir (timeout 60s)", optionally " (on runner)". */
const EXEC_DESCRIPTION = /^will run (`[^`]*`)(?: in (\S+))? \(timeout (\d+)s\)(?: \(on (.+)\))?$/s;

/** A step result's one-line summary as people read it. */
export function resultSummary(result: { summary: string; exitCode?: number | undefined; said?: ResultMessage | undefined; saidParts?: readonly ResultMessage[] | undefined }): string {
  // English is the action's own words (and names the runner exactly as it wrote it).
  if (currentLocale().locale !== 'en') {
    if (result.saidParts?.length) return result.saidParts.map(said).join(t('result.join'));
    if (result.said) return said(result.said);
  }
  const exit = EXIT_SUMMARY.exec(result.summary);
  if (!exit || result.exitCode === undefined || Number(exit[1]) !== result.exitCode) return result.summary;
  return t('result.exit', { code: result.exitCode, took: took(exit[2] ?? '') });
}

/** A result code with its values in the bot's language (durations, sizes and times in its units: see paramText). */
function said(message: ResultMessage): string {
  // A code without a catalogue text is a type error here.
  const key: MessageKey = `result.${message.code}`;
  const params = Object.fromEntries(Object.entries(message.params).map(([name, value]) => paramText(name, value)));
  const summary = interpolate(CATALOGUES[currentLocale().locale][key], params);
  return message.onRunner !== undefined ? t('result.onRunner', { summary, runner: message.onRunner }) : summary;
}

type StepFact = NonNullable<StepResult['facts']>[number];

/** A finding as "label: value" in the bot's language: its label from the catalogue, its value said where the action gave a code. */
export function factText(f: StepFact): string {
  return `${labelText('fact', f.label)}: ${f.said && currentLocale().locale !== 'en' ? said(f.said) : f.value}`;
}

/** A catalogue text for a label the actions write (`fact.<label>`, `artefact.<kind>`), else the label as written. */
function labelText(prefix: 'fact' | 'artefact', label: string): string {
  const catalogue: Readonly<Record<string, string>> = CATALOGUES[currentLocale().locale];
  return catalogue[`${prefix}.${label}`] ?? label;
}

/** A size in the bot's units ("512 bytes" is a word; KiB and up are symbols, with the exact bytes after them). */
export function sizeText(bytes: number): string {
  return bytes < 1024 ? t('size.bytes', { n: bytes }) : t('size.units', { size: formatUnits(bytes), n: bytes });
}

/**
 * The structured part of a result for the thread: findings, produced files, then the output as
 * shown (a head and a tail when long, the cut marked), and where the whole output is when it was
 * cut (`fullOutputLink`: the run's output route, absolute when the bot's public URL is known).
 */
export function resultDetails(result: StepResult, fullOutputLink?: string): string {
  const facts = (result.facts ?? []).map((f) => `\n• ${factText(f)}`).join('');
  const files = (result.artefacts ?? [])
    .map((a) => `\n${t('result.artefact', { kind: labelText('artefact', a.kind), path: a.path, size: sizeText(a.sizeBytes), sha: `${a.sha256.slice(0, 16)}…` })}`)
    .join('');
  const tail = result.outputTail.trim() ? `\n\`\`\`\n${result.outputTail.trim()}\n\`\`\`` : '';
  const link = result.output !== undefined && fullOutputLink !== undefined ? `\n${t('result.fullOutput', { link: fullOutputLink })}` : '';
  return `${facts}${files}${tail}${link}`;
}

/**
 * A value in the bot's units, under the name the texts use: `tookMs` (a duration) is `{took}`,
 * `sizeBytes` (a size) `{size}`, `takenAt` (an ISO time, shown in the bot's time zone) `{taken}`.
 */
function paramText(name: string, value: string | number): [string, string | number] {
  if (name.endsWith('Ms') && typeof value === 'number') return [name.slice(0, -2), milliseconds(value)];
  if (name.endsWith('Bytes') && typeof value === 'number') return [name.slice(0, -5), sizeText(value)];
  if (name.endsWith('At') && typeof value === 'string') return [name.slice(0, -2), formatTime(value)];
  return [name, value];
}

/** A backup picker's button label in the bot's language (English: as the step runner wrote it). */
export function choiceLabel(choice: { label: string; said?: readonly ResultMessage[] | undefined }): string {
  if (currentLocale().locale === 'en' || !choice.said?.length) return choice.label;
  return choice.said.map(said).join(t('result.join'));
}

/** A duration as the actions write it ("339 ms" under a second, "1.2s" above), in the bot's units. */
function milliseconds(ms: number): string {
  return ms < 1000 ? t('time.milliseconds', { ms: Math.round(ms) }) : t('time.seconds', { s: (ms / 1000).toFixed(1) });
}

/** "339 ms", "1.2s" as the action measured them, in the bot's units. */
function took(text: string): string {
  const ms = /^(\d+) ms$/.exec(text);
  if (ms) return t('time.milliseconds', { ms: ms[1] ?? '' });
  const s = /^(\d+(?:\.\d+)?)s$/.exec(text);
  return s ? t('time.seconds', { s: s[1] ?? '' }) : text;
}

/** A description's runner suffix, " (on …)", as the routing runner adds it. */
const ON_SUFFIX = / \(on (.+)\)$/s;

/** The timeout every description ends with, "(timeout 60s)". */
const TIMEOUT_IN = /\(timeout (\d+)s\)/;

/**
 * What a step will do, as people read it: in English the runner's own description; in another
 * language the action's description as a code where it says one, else the exec shape read below.
 */
export function stepDescription(runner: Pick<StepRunner, 'describe' | 'describeSaid'>, step: RunbookStep, params: Record<string, string>): string {
  const text = runner.describe(step, params);
  const code = currentLocale().locale !== 'en' ? runner.describeSaid?.(step, params) : undefined;
  if (!code) return describeAction(text);
  // The timeout the description names (an HTTP check's own, else the step's).
  const timeout = TIMEOUT_IN.exec(text)?.[1] ?? step.timeoutSeconds;
  const what = t('action.typed', { what: said(code), timeout });
  const on = ON_SUFFIX.exec(text);
  return on ? t('action.onRunner', { what, target: runnerTarget(on[1] ?? '') }) : what;
}

/** What a step will do (the runner's description), as people read it. */
export function describeAction(description: string): string {
  const exec = EXEC_DESCRIPTION.exec(description);
  if (!exec) return description;
  const [, argv = '', dir, timeout = '', runner] = exec;
  const what = t('action.exec', { argv, where: dir !== undefined ? t('action.exec.in', { dir }) : '', timeout });
  return runner !== undefined ? t('action.onRunner', { what, target: runnerTarget(runner) }) : what;
}

/** The runner a description names, as the routing runner writes it (src/runners/step-runner.ts). */
const RUNNER_TARGET = /^(?:runner (?<runner>\S+)(?: \(labelled (?<labels>.+)\))?|a runner labelled (?<only>.+)|a runner: (?<reason>.+))$/s;

/** "runner db-1", "a runner labelled host=a" in the bot's language; any other text as written. */
export function runnerTarget(text: string): string {
  const m = RUNNER_TARGET.exec(text)?.groups;
  if (!m) return text;
  if (m.runner !== undefined) return m.labels !== undefined ? t('runner.target.nameLabels', { runner: m.runner, labels: m.labels }) : t('runner.target.name', { runner: m.runner });
  return m.only !== undefined ? t('runner.target.labels', { labels: m.only }) : t('runner.target.unresolved', { reason: m.reason ?? '' });
}
