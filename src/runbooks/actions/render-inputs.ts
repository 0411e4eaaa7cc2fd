import { renderTemplate } from '../template.js';

/** Renders every string inside a typed action's inputs with the params; other values pass through. */
export function renderInputs(value: unknown, params: Record<string, string>): unknown {
  if (typeof value === 'string') return renderTemplate(value, params);
  if (Array.isArray(value)) return value.map((v) => renderInputs(v, params));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderInputs(v, params)]));
  }
  return value;
}
