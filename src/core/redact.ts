/**
 * Removes secrets from text before it leaves the process (thread messages, logs, audit data).
 * Known secret values are replaced exactly; common token shapes are replaced by pattern so that a
 * token the bot was never told about still does not leak through a command's output.
 */
export type Redactor = (text: string) => string;

const TOKEN_SHAPES: RegExp[] = [
  /xox[abposr]-[A-Za-z0-9-]{8,}/g, // Slack bot/user/app tokens
  /xapp-[A-Za-z0-9-]{8,}/g, // Slack app-level tokens
  /[MN][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}/g, // Discord bot tokens
  /(?<=\b[Bb]earer\s+)[A-Za-z0-9._~+/=-]{8,}/g, // Authorization: Bearer …
  /(?<=:\/\/[^/\s:@]+:)[^@\s/]+(?=@)/g, // passwords in URLs (scheme://user:password@host)
  /(?<=\b(?:password|passwd|secret|token|api[_-]?key)["']?\s*[=:]\s*["']?)[^\s'"&,}]+/gi, // key=value, key: value and "key":"value" secrets
];

export const REDACTED = '[REDACTED]';

/** Builds a redactor for the given secret values (empty and very short values are ignored). */
export function createRedactor(secretValues: Iterable<string | undefined>): Redactor {
  const values = [...new Set([...secretValues].filter((v): v is string => typeof v === 'string' && v.length >= 6))]
    // Longest first, so a secret that contains another is replaced whole.
    .sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const value of values) out = out.split(value).join(REDACTED);
    for (const shape of TOKEN_SHAPES) out = out.replace(shape, REDACTED);
    return out;
  };
}

/** Redacts every string (keys too) of a JSON value. */
function redactStrings(value: unknown, redact: Redactor): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactStrings(v, redact));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactStrings(v, redact)]));
  }
  return value;
}

/**
 * Redacts JSON data in two passes: every string on its own (a known secret anywhere in a value),
 * then the serialised form, where shapes spanning key and value (`"token":"…"`) are visible —
 * the way the logger redacts objects. If the second pass would break the JSON, the first stands.
 */
export function redactData(data: unknown, redact: Redactor): unknown {
  const strings = redactStrings(data, redact);
  const serialised = JSON.stringify(strings);
  const again = redact(serialised);
  if (again === serialised) return strings;
  try {
    return JSON.parse(again) as unknown;
  } catch {
    return strings;
  }
}
