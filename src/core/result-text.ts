import type { ResultMessage } from '../domain/result-message.js';
import { CATALOGUES, currentLocale, interpolate, t, type MessageKey } from './i18n/index.js';

/*
 * The runbook actions are a lower layer with no catalogue: they describe a step and its result in
 * English, and say the common results (an HTTP check, a timeout, a cancellation) as a code with
 * values too, which is said here in the bot's language. The shapes every exec step produces ("will
 * run `argv` (timeout 60s)", "exit 0 in 1.2s") are recognised here, their values (argv, paths,
 * times) kept exactly; any other text (a typed action's finding) is shown as the action wrote it.
 */

/** The exec action's plain summary, "exit 0 in 1.2s". */
const EXIT_SUMMARY = /^exit (-?\d+) in (\S+(?: ms)?)$/;

/** The exec action's description, "will run `argv` in /dir (timeout 60s)", optionally " (on runner)". */
const EXEC_DESCRIPTION = /^will run (`[^`]*`)(?: in (\S+))? \(timeout (\d+)s\)(?: \(on (.+)\))?$/s;

/** A step result's one-line summary as people read it. */
export function resultSummary(result: { summary: string; exitCode?: number | undefined; said?: ResultMessage | undefined }): string {
  // English is the action's own words (and names the runner exactly as it wrote it).
  if (result.said && currentLocale().locale !== 'en') return said(result.said);
  const exit = EXIT_SUMMARY.exec(result.summary);
  if (!exit || result.exitCode === undefined || Number(exit[1]) !== result.exitCode) return result.summary;
  return t('result.exit', { code: result.exitCode, took: took(exit[2] ?? '') });
}

/** A result code with its values in the bot's language; a `…Ms` value is a duration, shown as `…` in the bot's units. */
function said(message: ResultMessage): string {
  // A code without a catalogue text is a type error here.
  const key: MessageKey = `result.${message.code}`;
  const params = Object.fromEntries(
    Object.entries(message.params).map(([name, value]) => (name.endsWith('Ms') && typeof value === 'number' ? [name.slice(0, -2), milliseconds(value)] : [name, value])),
  );
  const summary = interpolate(CATALOGUES[currentLocale().locale][key], params);
  return message.onRunner !== undefined ? t('result.onRunner', { summary, runner: message.onRunner }) : summary;
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

/** What a step will do (the runner's description), as people read it. */
export function describeAction(description: string): string {
  const exec = EXEC_DESCRIPTION.exec(description);
  if (!exec) return description;
  const [, argv = '', dir, timeout = '', runner] = exec;
  const what = t('action.exec', { argv, where: dir !== undefined ? t('action.exec.in', { dir }) : '', timeout });
  return runner !== undefined ? t('action.onRunner', { what, target: runner }) : what;
}
