import { z } from 'zod';
import type { Labels } from './domain.js';

/** label → value or any-of values; every listed label must match (as in runbooks and routes). */
export const labelMatchSchema = z.record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)]));
export type LabelMatch = z.output<typeof labelMatchSchema>;

export function labelsMatch(match: LabelMatch, labels: Labels): boolean {
  return Object.entries(match).every(([name, want]) => {
    const value = labels[name];
    return value !== undefined && (Array.isArray(want) ? want.includes(value) : want === value);
  });
}
