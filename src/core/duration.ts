/** Silence durations as people type them: 30m, 2h, 1d. Bounded, so a typo cannot silence a group for a year. */
export const MIN_SILENCE_MS = 60_000;
export const MAX_SILENCE_MS = 7 * 24 * 3_600_000;

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 24 * 3_600_000 } as const;

export type DurationParse = { ok: true; ms: number } | { ok: false; reason: string };

export function parseSilenceDuration(text: string): DurationParse {
  const m = /^(\d{1,4})([mhd])$/.exec(text.trim());
  if (!m) return { ok: false, reason: `"${text.slice(0, 20)}" is not a duration: use a number and m, h or d, e.g. 30m, 2h, 1d` };
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms < MIN_SILENCE_MS) return { ok: false, reason: 'a silence lasts at least 1m' };
  if (ms > MAX_SILENCE_MS) return { ok: false, reason: 'a silence lasts at most 7d' };
  return { ok: true, ms };
}
