import { t } from './i18n/index.js';

/** The exec action's plain summary, "exit 0 in 1.2s": the one result the core says in its own words. */
const EXIT_SUMMARY = /^exit (-?\d+) in (\S+(?: ms)?)$/;

/**
 * A step result's one-line summary as people read it. Actions (a lower layer, with no catalogue)
 * write their summaries in English; the common "exit N in T" is said in the bot's language, any
 * other summary (a timeout, an HTTP status, a check's finding) is shown as the action wrote it.
 */
export function resultSummary(result: { summary: string; exitCode?: number | undefined }): string {
  const exit = EXIT_SUMMARY.exec(result.summary);
  if (!exit || result.exitCode === undefined || Number(exit[1]) !== result.exitCode) return result.summary;
  return t('result.exit', { code: result.exitCode, took: exit[2] ?? '' });
}
