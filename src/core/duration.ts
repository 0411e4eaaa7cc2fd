import { z } from 'zod';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(?:\d+[smhd])+$/;

/** "90s", "5m", "1h", "1h30m", "7d": durations in settings files, as milliseconds. */
export const durationSchema = z
  .string()
  .regex(DURATION, 'must be a duration like 30s, 5m, 1h, 1h30m or 7d')
  .transform((text) => [...text.matchAll(/(\d+)([smhd])/g)].reduce((ms, [, n, unit]) => ms + Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS], 0))
  .refine((ms) => ms > 0, 'must be longer than zero');
