/**
 * What a param value may be. Shared by manifest validation (defaults are checked at load) and by
 * param resolution (label values are checked before any step runs), so both apply the same rules.
 */

/** Longest value accepted; labels are short, and a huge value is more likely abuse than data. */
export const MAX_PARAM_VALUE_LENGTH = 1024;

/**
 * Compiles a param's `pattern` the one way it is ever applied: anchored, as a whole-string match,
 * with the `u` flag so that `.` and classes work on code points rather than UTF-16 halves.
 *
 * The raw pattern must also compile on its own. Wrapping alone is not enough: a pattern such as
 * `x)|.*|(?:y` compiles once wrapped (`^(?:x)|.*|(?:y)$`) but its `|` escapes the anchors and
 * matches anything. Requiring it to compile alone means its groups are balanced.
 *
 * Throws the RegExp constructor's `SyntaxError` when the pattern is invalid.
 */
export function compileAnchoredPattern(pattern: string): RegExp {
  new RegExp(pattern, 'u');
  return new RegExp(`^(?:${pattern})$`, 'u');
}

/** Why a pattern cannot be used, or `undefined` when it compiles. */
export function patternProblem(pattern: string): string | undefined {
  try {
    compileAnchoredPattern(pattern);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Why a value is rejected, or `undefined` when it is acceptable. Line breaks and NUL are refused
 * whatever the pattern says: they are the classic ways to smuggle a second command or to cut a
 * C string short, and no legitimate label value needs them.
 */
export function valueProblem(value: string, pattern: string): string | undefined {
  if (value.length > MAX_PARAM_VALUE_LENGTH) {
    return `value is ${value.length} characters long (max ${MAX_PARAM_VALUE_LENGTH})`;
  }
  if (/[\0\n\r]/u.test(value)) return `value ${quoteValue(value)} contains a line break or NUL character`;
  if (!compileAnchoredPattern(pattern).test(value)) return `value ${quoteValue(value)} does not match ${pattern}`;
  return undefined;
}

/** Quotes a value for a message: escaped (so control characters are visible) and shortened. */
export function quoteValue(value: string, max = 60): string {
  return value.length > max ? `${JSON.stringify(value.slice(0, max))}…` : JSON.stringify(value);
}
