/**
 * Interpolation for catalogue texts. `{name}` is replaced by the parameter; `{name|one|other}`
 * picks `one` when the parameter is 1 and `other` otherwise (English plurals; Chinese texts have
 * no need of it). Kept tiny on purpose: a text is data that translators edit, not code.
 */

/** The parameter names a text uses: `{count}` and `{count|alert|alerts}` both name `count`. */
export type ParamNames<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? (P extends `${infer N}|${string}` ? N : P) | ParamNames<Rest> : never;

export type ParamValue = string | number;

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9]*)(?:\|([^|{}]*)\|([^|{}]*))?\}/g;

/** Every parameter name in a text, sorted and unique (the catalogue test compares locales with it). */
export function paramNames(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1] as string))].sort();
}

/**
 * Fills a text's placeholders. A parameter missing at run time (a caller outside the type checker)
 * is shown as its placeholder rather than as "undefined", so the text still says what was meant.
 */
export function interpolate(text: string, params: Readonly<Record<string, ParamValue>> = {}): string {
  return text.replace(PLACEHOLDER, (whole, name: string, one: string | undefined, other: string | undefined) => {
    const value = params[name];
    if (value === undefined) return whole;
    if (one !== undefined && other !== undefined) return Number(value) === 1 ? one : other;
    return String(value);
  });
}
