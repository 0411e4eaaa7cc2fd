import { useLocale, type LocaleSetting } from '../../src/core/i18n/index.js';

/**
 * Finds English prose left in a text meant for another language. What may stay as written is taken
 * out first: code spans and blocks (commands, argv, output), URLs, `key=value` labels, identifiers
 * (anything with a digit, `_`, `:`, `/`, `.` or `@` in it), product names, and the `allowed`
 * strings a test names (runbook titles, alert names and annotations: data shown as written). What
 * remains must hold no English word: two or more in a row are a sentence, one alone a stray label.
 *
 * To check a new text: `expect(englishIn(text, { allowed: [...] })).toEqual([])`.
 */
export const PRODUCT_NAMES = ['runner', 'Runner', 'Alertmanager', 'Prometheus', 'Slack', 'Discord', 'DingTalk', 'Feishu', 'Lark', 'PostgreSQL', 'SQLite', 'UTC', 'HTTP', 'sha256', 'ALERTMANAGER_URL', 'ChatOps', 'JSON', 'HTML', 'Cookie', 'Authorization: Bearer', 'KiB', 'MiB', 'GiB', 'TiB'];

export interface EnglishCheck {
  /** Strings shown as written (data): removed before looking. */
  allowed?: readonly string[];
}

export function englishIn(text: string, check: EnglishCheck = {}): string[] {
  let rest = text
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/`[^`\n]*`/g, ' ')
    .replace(/\bhttps?:\/\/\S+/g, ' ')
    .replace(/--[a-z][a-z-]*/g, ' ');
  // Longest first, so that "Restart shop now" goes before "Restart shop".
  for (const allowed of [...(check.allowed ?? []), ...PRODUCT_NAMES].filter(Boolean).sort((a, b) => b.length - a.length)) {
    rest = rest.split(allowed).join(' ');
  }
  rest = rest
    .replace(/[^\s=，。：；（）「」、]+=[^\s，。：；（）「」、]*/g, ' ')
    .replace(/[A-Za-z0-9_:/.@<>#-]+/g, (token) => (/[0-9_/@<>#]/.test(token) || /\w[:.]\w/.test(token) ? ' ' : token));
  const found: string[] = [];
  for (const m of rest.matchAll(/[A-Za-z]{2,}(?:[ \t,'’-]+[A-Za-z]{2,})*/g)) found.push(m[0].replace(/\s+/g, ' '));
  return found;
}

/** Every string under a `text`, `title`, `confirm`, `deny` or `placeholder` key of a chat payload (Block Kit, embeds, cards). */
export function shownTexts(payload: unknown): string[] {
  const out: string[] = [];
  const walk = (value: unknown, key: string | undefined): void => {
    if (typeof value === 'string') {
      if (key !== undefined && ['text', 'title', 'confirm', 'deny', 'placeholder', 'label', 'name', 'value', 'description', 'content'].includes(key)) out.push(value);
      return;
    }
    if (Array.isArray(value)) for (const v of value) walk(v, key);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, k);
  };
  walk(payload, undefined);
  return out;
}

/** Runs `fn` with the bot speaking `setting` (a language and a time zone), then puts the previous one back. */
export function speaking<T>(setting: LocaleSetting, fn: () => T): T {
  const previous = useLocale(setting);
  try {
    return fn();
  } finally {
    useLocale(previous);
  }
}
