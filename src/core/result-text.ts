import { t } from './i18n/index.js';

/*
 * The runbook actions are a lower layer with no catalogue: they describe a step and its result in
 * English. The shapes every exec step produces ("will run `argv` (timeout 60s)", "exit 0 in 1.2s")
 * are said here in the bot's language, their values (argv, paths, times) kept exactly; any other
 * text (an HTTP check, a typed action's finding) is shown as the action wrote it.
 */

/** The exec action's plain summary, "exit 0 in 1.2s". */
const EXIT_SUMMARY = /^exit (-?\d+) in (\S+(?: ms)?)$/;

/** The exec action's description, "will run `argv` in /dir (timeout 60s)", optionally " (on runner)". */
const EXEC_DESCRIPTION = /^will run (`[^`]*`)(?: in (\S+))? \(timeout (\d+)s\)(?: \(on (.+)\))?$/s;

/** A step result's one-line summary as people read it. */
export function resultSummary(result: { summary: string; exitCode?: number | undefined }): string {
  const exit = EXIT_SUMMARY.exec(result.summary);
  if (!exit || result.exitCode === undefined || Number(exit[1]) !== result.exitCode) return result.summary;
  return t('result.exit', { code: result.exitCode, took: took(exit[2] ?? '') });
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
