import { z } from 'zod';

/**
 * Alertmanager's webhook payload, version 4 (unchanged from 0.16 to today). Unknown fields are
 * accepted, because newer Alertmanagers add some (`notification_reason`, `routeLabels`).
 * Sizes are bounded so one request cannot make the bot store megabytes of label noise.
 */
const MAX_LABELS = 64;
const MAX_LABEL_NAME = 256;
const MAX_VALUE = 16 * 1024;
const MAX_ALERTS = 20_000;

/**
 * NUL characters become U+FFFD in the texts the bot keeps: PostgreSQL text cannot hold NUL, and a
 * notification refused for one would be refused on every retry, so the incident would be lost.
 */
const withoutNul = (s: string): string => (s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s);
const text = (max: number) => z.string().max(max).transform(withoutNul);

const labelMap = z
  .record(z.string().min(1).max(MAX_LABEL_NAME), z.string().max(MAX_VALUE))
  .refine((m) => Object.keys(m).length <= MAX_LABELS, { message: `at most ${MAX_LABELS} entries` })
  .transform((m) => Object.fromEntries(Object.entries(m).map(([name, value]) => [withoutNul(name), withoutNul(value)])));

const timestamp = z.string().max(64).refine((s) => !Number.isNaN(Date.parse(s)), { message: 'not an RFC 3339 timestamp' }).transform(withoutNul);

export const alertSchema = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels: labelMap,
  annotations: labelMap.default({}),
  startsAt: timestamp,
  endsAt: timestamp.optional(),
  generatorURL: text(4096).default(''),
  fingerprint: z.string().min(1).max(128).transform(withoutNul),
});

export const notificationSchema = z.looseObject({
  version: z.literal('4'),
  groupKey: z.string().min(1).max(8192).transform(withoutNul),
  truncatedAlerts: z.number().int().min(0).default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: text(1024),
  groupLabels: labelMap,
  commonLabels: labelMap,
  commonAnnotations: labelMap,
  externalURL: text(4096),
  alerts: z.array(alertSchema).min(1).max(MAX_ALERTS),
});

export type AlertmanagerAlert = z.infer<typeof alertSchema>;
export type AlertmanagerNotification = z.infer<typeof notificationSchema>;

/** Alertmanager writes this for "not ended" (Go's zero time); it means no end time. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
