/**
 * Removes secrets from text before it leaves the process (thread messages, logs, audit data).
 * Known secret values are replaced exactly; common token shapes are replaced by pattern so that a
 * token the bot was never told about still does not leak through a command's output.
 */
export type Redactor = (text: string) => string;

// Lookbehinds bound their runs of spaces ({0,8}): an unbounded one is tried backwards from every
// position of a long run of spaces, quadratic time on hostile input.
const TOKEN_SHAPES: RegExp[] = [
  // PEM private keys, the whole block (a block whose END line was cut off: to the end of the text).
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*$)/g,
  /xox[abposr]-[A-Za-z0-9-]{8,}/g, // Slack bot/user/app tokens
  /xapp-[A-Za-z0-9-]{8,}/g, // Slack app-level tokens
  /[MN][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}/g, // Discord bot tokens
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, // AWS access key ids (long-term and temporary)
  /\bgh[opsur]_[A-Za-z0-9]{20,}\b/g, // GitHub tokens: personal, OAuth, app installation, user-to-server, refresh
  /\bgithub_pat_[A-Za-z0-9_]{20,}/g, // GitHub fine-grained personal access tokens
  /\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, // JWTs (header and claims are base64url JSON)
  /(?<=\b[Bb]earer\s{1,8})[A-Za-z0-9._~+/=-]{8,}/g, // Authorization: Bearer …
  /(?<=\bauthorization["']?\s{0,8}[=:]\s{0,8}["']?basic\s{1,8})[A-Za-z0-9+/=]{4,}/gi, // Authorization: Basic base64(user:password)
  /(?<=:\/\/[^/\s:@]+:)[^@\s/]+(?=@)/g, // passwords in URLs (scheme://user:password@host)
  // key=value, key: value and "key":"value" secrets, the key possibly prefixed:
  // DB_PASSWORD=, PGPASSWORD=, MYSQL_PWD=, aws_secret_access_key =, "api_key":
  /(?<=\b\w{0,40}(?:password|passwd|_pwd|secret|secret_access_key|token|api[_-]?key)["']?\s{0,8}[=:]\s{0,8}["']?)[^\s'"&,}]+/gi,
];

export const REDACTED = '[REDACTED]';

const PEM_END = /-----END [A-Z0-9 ]*PRIVATE KEY-----/g;
const KEY_LINE = /^[A-Za-z0-9+/=]{16,}$/;
/** A line break in text, or in text serialised as JSON (a log record). */
const LINE_BREAK = /(?:\r?\n|\\n)$/;

/**
 * The END line of a private key whose BEGIN line is not in the text (an output tail cut it off)
 * and the base64 lines just above it. Walked back line by line: as one regular expression, this
 * took quadratic time on long runs of letters.
 */
function redactHeadlessKeys(text: string): string {
  if (!text.includes('PRIVATE KEY-----')) return text;
  let out = '';
  let from = 0;
  for (const match of text.matchAll(PEM_END)) {
    let start = match.index;
    for (;;) {
      const br = LINE_BREAK.exec(text.slice(Math.max(from, start - 3), start));
      if (!br) break;
      const lineEnd = start - br[0].length;
      const lineStart = Math.max(from, text.lastIndexOf('\n', lineEnd - 1) + 1, text.lastIndexOf('\\n', lineEnd - 1) + 2);
      if (!KEY_LINE.test(text.slice(lineStart, lineEnd))) break;
      start = lineStart;
    }
    out += text.slice(from, start) + REDACTED;
    from = match.index + match[0].length;
  }
  return out + text.slice(from);
}

/** The usable secret values: no empty or very short ones (they would redact ordinary words), longest first. */
function secretList(secretValues: Iterable<string | undefined>): string[] {
  // Longest first, so a secret that contains another is replaced whole.
  return [...new Set([...secretValues].filter((v): v is string => typeof v === 'string' && v.length >= 6))].sort((a, b) => b.length - a.length);
}

function replaceValues(text: string, values: readonly string[]): string {
  let out = text;
  for (const value of values) out = out.split(value).join(REDACTED);
  return out;
}

/** Builds a redactor for the given secret values (empty and very short values are ignored). */
export function createRedactor(secretValues: Iterable<string | undefined>): Redactor {
  const values = secretList(secretValues);
  return (text: string) => {
    let out = replaceValues(text, values);
    for (const shape of TOKEN_SHAPES) out = out.replace(shape, REDACTED);
    return redactHeadlessKeys(out);
  };
}

/**
 * A redactor that also replaces these exact values, first: the variables a step receives from the
 * bot's environment (its manifest's `env`) are secrets of that step whatever their shape.
 */
export function withSecretValues(redact: Redactor, secretValues: Iterable<string | undefined>): Redactor {
  const values = secretList(secretValues);
  return values.length === 0 ? redact : (text: string) => redact(replaceValues(text, values));
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
