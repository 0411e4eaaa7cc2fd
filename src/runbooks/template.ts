import { RunbookError } from '../domain/errors.js';

/**
 * `{{ name }}` with optional spaces inside the braces. The name part excludes braces so that
 * `{{{x}}}` is read as a literal brace around a placeholder rather than a name containing `{`.
 */
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

/** The param names a template refers to, in order of first use, without duplicates. */
export function templateNames(template: string): string[] {
  const names = new Set<string>();
  for (const match of template.matchAll(PLACEHOLDER)) names.add((match[1] ?? '').trim());
  return [...names];
}

/**
 * Replaces every `{{ name }}` with its value; an unknown name throws `RunbookError`.
 *
 * Substitution is one pass over the template, so a value that itself contains `{{other}}` is
 * inserted verbatim and never expanded again. Callers render each argv element separately, so a
 * value can never split into extra arguments: there is no shell and no word splitting anywhere.
 */
export function renderTemplate(template: string, params: Record<string, string>): string {
  // A replacer function (not a replacement string) so `$&`, `$1`, … in values stay literal.
  return template.replace(PLACEHOLDER, (_whole, raw: string) => {
    const name = raw.trim();
    const value = Object.hasOwn(params, name) ? params[name] : undefined;
    if (value === undefined) throw new RunbookError(`template ${JSON.stringify(template)} uses unknown param "${name}"`);
    return value;
  });
}
