import { z } from 'zod';
import { t } from './i18n/index.js';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(?:\d+[smhd])+$/;

/** "90s", "5m", "1h", "1h30m", "7d": durations in settings files, as milliseconds. */
export const durationSchema = z
  .string()
  .regex(DURATION, 'must be a duration like 30s, 5m, 1h, 1h30m or 7d')
  .transform((text) => [...text.matchAll(/(\d+)([smhd])/g)].reduce((ms, [, n, unit]) => ms + Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS], 0))
  .refine((ms) => ms > 0, 'must be longer than zero');

/** Silence durations as people type them: 30m, 2h, 1d. Bounded, so a typo cannot silence a group for a year. */
export const MIN_SILENCE_MS = 60_000;
export const MAX_SILENCE_MS = 7 * 24 * 3_600_000;

export type DurationParse = { ok: true; ms: number } | { ok: false; reason: string };

export function parseSilenceDuration(text: string): DurationParse {
  const m = /^(\d{1,4})([mhd])$/.exec(text.trim());
  if (!m) return { ok: false, reason: t('duration.invalid', { text: text.slice(0, 20) }) };
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms < MIN_SILENCE_MS) return { ok: false, reason: t('duration.tooShort') };
  if (ms > MAX_SILENCE_MS) return { ok: false, reason: t('duration.tooLong') };
  return { ok: true, ms };
}
