import { en, type MessageKey } from './en.js';
import { zhCN } from './zh-CN.js';
import { interpolate, type ParamNames, type ParamValue } from './format.js';

/*
 * The message catalogue: every text the bot writes to people (cards, thread messages, private
 * answers, command usage, the console) comes from here, in the language LOCALE names. Texts that
 * come from data stay as written: runbook titles and descriptions, alert labels and annotations,
 * a step's output.
 *
 * One language and one time zone per bot process, set once at start-up from the settings (like
 * TZ itself): every replica of a team's bot speaks to the same channels, and threading a locale
 * through every use case and worker would only repeat the same value. Tests of another language
 * set it with useLocale and put the previous one back.
 */

export type { MessageKey } from './en.js';
export { interpolate, paramNames } from './format.js';

/** The languages the bot speaks: LOCALE takes one of these. */
export const LOCALES = ['en', 'zh-CN'] as const;
export type LocaleName = (typeof LOCALES)[number];

/** A complete catalogue: every key English has (a missing one is a type error). */
export type Catalogue = Readonly<Record<MessageKey, string>>;

export const CATALOGUES: Readonly<Record<LocaleName, Catalogue>> = { en, 'zh-CN': zhCN };

export interface LocaleSetting {
  locale: LocaleName;
  /** An IANA time zone (Asia/Shanghai, UTC): the zone every time is shown in. */
  timeZone: string;
}

let current: LocaleSetting = { locale: 'en', timeZone: 'UTC' };

/** Sets the process's language and time zone; returns the previous ones (for tests to restore). */
export function useLocale(setting: LocaleSetting): LocaleSetting {
  const previous = current;
  current = { ...setting };
  return previous;
}

export function currentLocale(): LocaleSetting {
  return current;
}

/** The parameters a key's English text takes (every locale takes the same; the catalogue test checks). */
export type MessageParams<K extends MessageKey> = Record<ParamNames<(typeof en)[K]>, ParamValue>;

type ParamsArg<K extends MessageKey> = [ParamNames<(typeof en)[K]>] extends [never] ? [] : [params: MessageParams<K>];

/** The text of `key` in the current language, its placeholders filled. */
export function t<K extends MessageKey>(key: K, ...params: ParamsArg<K>): string {
  return interpolate(CATALOGUES[current.locale][key], params[0]);
}

/** Whether a time zone name is one this runtime knows (the settings check TZ with it). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
