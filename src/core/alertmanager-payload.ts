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
const NUL = '\u0000';
const withoutNul = (s: string): string => (s.includes(NUL) ? s.replaceAll(NUL, '\uFFFD') : s);

type LabelMap = Record<string, string>;

/**
 * Labels and annotations (name → text), checked in one pass over the entries. `z.record` runs a
 * schema for every key and every value, which was three quarters of the time spent validating a
 * notification; the issues are the same kind, with the entry's name in their path.
 */
const labelMap = z.unknown().transform((input, ctx): LabelMap => {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    ctx.issues.push({ code: 'custom', message: `expected an object of names to strings, received ${Array.isArray(input) ? 'array' : input === null ? 'null' : typeof input}`, input });
    return z.NEVER;
  }
  const entries = input as Record<string, unknown>;
  let count = 0;
  let hasNul = false;
  for (const name of Object.keys(entries)) {
    count += 1;
    const value = entries[name];
    if (name.length === 0 || name.length > MAX_LABEL_NAME) {
      ctx.issues.push({ code: 'custom', message: `names are 1 to ${MAX_LABEL_NAME} characters`, input: name, path: [name] });
    }
    if (typeof value !== 'string') {
      ctx.issues.push({ code: 'custom', message: `Invalid input: expected string, received ${value === null ? 'null' : typeof value}`, input: value, path: [name] });
    } else if (value.length > MAX_VALUE) {
      ctx.issues.push({ code: 'custom', message: `at most ${MAX_VALUE} characters`, input: value, path: [name] });
    } else if (value.includes(NUL)) {
      hasNul = true;
    }
    if (name.includes(NUL)) hasNul = true;
  }
  if (count > MAX_LABELS) ctx.issues.push({ code: 'custom', message: `at most ${MAX_LABELS} entries`, input });
  if (!hasNul) return entries as LabelMap;
  return Object.fromEntries(Object.entries(entries as LabelMap).map(([name, value]) => [withoutNul(name), withoutNul(value)]));
});

const timestamp = z.string().max(64).refine((s) => !Number.isNaN(Date.parse(s)), { message: 'not an RFC 3339 timestamp' });

export const alertSchema = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels: labelMap,
  annotations: labelMap.default({}),
  startsAt: timestamp,
  endsAt: timestamp.optional(),
  generatorURL: z.string().max(4096).default(''),
  fingerprint: z.string().min(1).max(128),
});

type Alert = z.infer<typeof alertSchema>;

/** The alert's own texts without NUL (its label maps are cleaned as they are checked). */
function cleanAlert(a: Alert): Alert {
  const { startsAt, endsAt, generatorURL, fingerprint } = a;
  if (!(startsAt + (endsAt ?? '') + generatorURL + fingerprint).includes(NUL)) return a;
  return { ...a, startsAt: withoutNul(startsAt), ...(endsAt === undefined ? {} : { endsAt: withoutNul(endsAt) }), generatorURL: withoutNul(generatorURL), fingerprint: withoutNul(fingerprint) };
}

/** One pass over the whole notification at the end: a transform per text field costs more than the checks themselves. */
export const notificationSchema = z
  .looseObject({
    version: z.literal('4'),
    groupKey: z.string().min(1).max(8192),
    truncatedAlerts: z.number().int().min(0).default(0),
    status: z.enum(['firing', 'resolved']),
    receiver: z.string().max(1024),
    groupLabels: labelMap,
    commonLabels: labelMap,
    commonAnnotations: labelMap,
    externalURL: z.string().max(4096),
    alerts: z.array(alertSchema).min(1).max(MAX_ALERTS),
  })
  .transform((n) => {
    const alerts = n.alerts.map(cleanAlert);
    const changed = alerts.some((a, i) => a !== n.alerts[i]);
    if (!changed && !(n.groupKey + n.receiver + n.externalURL).includes(NUL)) return n;
    return { ...n, groupKey: withoutNul(n.groupKey), receiver: withoutNul(n.receiver), externalURL: withoutNul(n.externalURL), alerts };
  });

export type AlertmanagerAlert = Alert;
export type AlertmanagerNotification = z.infer<typeof notificationSchema>;

/** Alertmanager writes this for "not ended" (Go's zero time); it means no end time. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
