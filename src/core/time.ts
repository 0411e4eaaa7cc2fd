import { currentLocale, t } from './i18n/index.js';

/** "45s", "12m", "3h 05m", "2d 4h" (in Chinese "45秒", "12分钟" …): compact durations for cards and thread messages. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return t('time.seconds', { s });
  const m = Math.floor(s / 60);
  if (m < 60) return t('time.minutes', { m });
  const h = Math.floor(m / 60);
  if (h < 48) return t('time.hoursMinutes', { h, m: String(m % 60).padStart(2, '0') });
  return t('time.daysHours', { d: Math.floor(h / 24), h: h % 24 });
}

interface Parts {
  date: string;
  minute: string;
  second: string;
  zone: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'shortOffset',
    });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * A time's parts in the configured zone. The zone is written as an offset ("UTC+8", "UTC-3:30"),
 * never as an abbreviation: "CST" is China, Cuba and the US Midwest at once.
 */
function parts(iso: string): Parts | undefined {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return undefined;
  const p = Object.fromEntries(formatter(currentLocale().timeZone).formatToParts(d).map((x) => [x.type, x.value]));
  const offset = (p.timeZoneName ?? 'GMT').replace(/^GMT/, '');
  return {
    date: `${p.year}-${p.month}-${p.day}`,
    minute: `${p.hour}:${p.minute}`,
    second: `${p.hour}:${p.minute}:${p.second}`,
    zone: offset === '' || offset === '+0' ? 'UTC' : `UTC${offset}`,
  };
}

/** "2026-11-22 01:37 UTC", "2026-11-22 09:37 UTC+8": unambiguous for a team spread across time zones. */
export function formatTime(iso: string): string {
  const p = parts(iso);
  return p ? `${p.date} ${p.minute} ${p.zone}` : iso;
}

/** "2026-11-22 01:37:05 UTC": seconds matter in an event log. */
export function formatStamp(iso: string): string {
  const p = parts(iso);
  return p ? `${p.date} ${p.second} ${p.zone}` : iso;
}

/** "11:01:45", or "11:01:45 UTC" with `zone`: a time of day where the day is known. */
export function formatClock(iso: string, o: { zone?: boolean } = {}): string {
  const p = parts(iso);
  if (!p) return iso;
  return o.zone ? `${p.second} ${p.zone}` : p.second;
}

