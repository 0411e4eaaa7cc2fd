import { en } from '../core/i18n/en.js';
import { CATALOGUES, currentLocale, interpolate } from '../core/i18n/index.js';

/*
 * Why the bot ended a runner's job itself is stored with the job, in English as the catalogue's
 * English text writes it (the store keeps one wording, whatever the bot's language); when a step's
 * result is made from it, it is read back against those texts and said in the bot's language. A
 * detail the runner wrote (a refusal's reason) is its own words and is shown as written.
 */

const DETAILS = ['runner.detail.silent', 'runner.detail.noAnswer', 'runner.detail.cancelled', 'runner.detail.disconnected', 'runner.detail.lostStarted', 'runner.detail.lostNotStarted'] as const;

type DetailKey = (typeof DETAILS)[number];

/** A job's detail as it is stored: the English text of `key`. */
export function jobDetail(key: DetailKey, params: Record<string, string | number>): string {
  return interpolate(en[key], params);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Each stored shape as a pattern whose named groups are its parameters. */
const SHAPES = DETAILS.map((key) => ({
  key,
  pattern: new RegExp(`^${en[key].split(/\{([A-Za-z]+)\}/).map((part, i) => (i % 2 === 1 ? `(?<${part}>.+?)` : escape(part))).join('')}$`, 's'),
}));

/** A stored detail in the bot's language (a runner's own words stay as written). */
export function detailText(detail: string): string {
  for (const { key, pattern } of SHAPES) {
    const groups = pattern.exec(detail)?.groups;
    if (groups) return interpolate(CATALOGUES[currentLocale().locale][key], groups);
  }
  return detail;
}
