import type { Labels } from './domain.js';
import type { StepOffer } from './offers.js';
import { sizeText } from './result-text.js';
import { t } from './i18n/index.js';

/*
 * A chosen file, once checked, is recorded with the run as reserved params beside its value:
 * `<param>#sha256`, `<param>#bytes`, `<param>#mtime`. A `#` can never be in a declared param name
 * (nor typed in a command, which only fills declared params), so these never reach a template;
 * they let the approval request, the card and the executor name and re-check the exact file.
 */

/** What was checked about one chosen file when its step was requested. */
export interface PinnedFile {
  param: string;
  path: string;
  sizeBytes: number;
  mtime: string;
  sha256: string;
}

/** The runbook's `chosen` params that have a value in this offer. */
export function chosenParams(offer: StepOffer): string[] {
  return Object.entries(offer.runbook.params)
    .filter(([name, spec]) => spec.chosen && Object.hasOwn(offer.params, name))
    .map(([name]) => name);
}

export function pinParams(files: readonly PinnedFile[]): Labels {
  return Object.fromEntries(files.flatMap((f) => [[`${f.param}#sha256`, f.sha256], [`${f.param}#bytes`, String(f.sizeBytes)], [`${f.param}#mtime`, f.mtime]]));
}

/** The files a run's params pin, as recorded when it was requested. */
export function pinnedFiles(params: Labels): PinnedFile[] {
  return Object.keys(params)
    .filter((key) => key.endsWith('#sha256'))
    .map((key) => key.slice(0, -'#sha256'.length))
    .filter((param) => Object.hasOwn(params, param))
    .map((param) => ({
      param,
      path: params[param] ?? '',
      sha256: params[`${param}#sha256`] ?? '',
      sizeBytes: Number(params[`${param}#bytes`] ?? 'NaN'),
      mtime: params[`${param}#mtime`] ?? '',
    }));
}

/** "`/backups/app-….db.gz` (1.2 KiB (1234 bytes), modified 2024-01-31 23:59:59 UTC, sha256 …)": what approvers approve. */
export function describePinnedFile(f: PinnedFile): string {
  const when = f.mtime.replace('T', ' ').replace(/\.\d+Z$|Z$/u, ' UTC');
  return t('pinned.file', { path: f.path, size: Number.isFinite(f.sizeBytes) ? sizeText(f.sizeBytes) : t('pinned.sizeUnknown'), when, sha: f.sha256 });
}
