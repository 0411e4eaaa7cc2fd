import { z } from 'zod';

/*
 * How the files of a backup directory are named, beyond the bot's own `<prefix>-<UTC stamp>.<ext>`:
 * the operations manuals' scripts write `gitcortex_20240131_020000.db.gz` (local time, `date
 * +%Y%m%d_%H%M%S`), `memgraph-<date>.tar.gz` or `backup-20251011.sql`, and the GitCortex rollback
 * restores `latest.db.gz`. A runbook step declares such names so that its picker offers them and
 * its retention counts them. A name is a `find -name` pattern (`*`, `?`, `[…]`) in which `{time}`
 * stands for the time the file was taken, written in a strftime format; a name without `{time}`
 * is ordered by the file's modification time, as `find -mtime` does.
 */

const TIME_TOKEN = '{time}';
const FIELDS: Record<string, { width: number; key: 'y' | 'mo' | 'd' | 'h' | 'mi' | 's' }> = {
  '%Y': { width: 4, key: 'y' },
  '%m': { width: 2, key: 'mo' },
  '%d': { width: 2, key: 'd' },
  '%H': { width: 2, key: 'h' },
  '%M': { width: 2, key: 'mi' },
  '%S': { width: 2, key: 's' },
};

/** The pieces of a strftime format (%Y %m %d %H %M %S and literal characters); undefined when it has others. */
function formatPieces(format: string): string[] | undefined {
  const pieces: string[] = [];
  for (let i = 0; i < format.length; i++) {
    const c = format[i] ?? '';
    if (c !== '%') {
      pieces.push(c);
      continue;
    }
    const field = format.slice(i, i + 2);
    if (!Object.hasOwn(FIELDS, field)) return undefined;
    pieces.push(field);
    i++;
  }
  return pieces;
}

export const backupNameSchema = z
  .strictObject({
    /** A `find -name` pattern for the file name; `{time}` where the name holds the time it was taken. */
    name: z.string().min(1).max(200),
    /** How `{time}` is written, in strftime fields %Y %m %d %H %M %S (e.g. "%Y%m%d_%H%M%S"). */
    time: z.string().min(1).max(40).optional(),
    /** Whether that time is the host's local time (what `date +…` writes, the default) or UTC. */
    zone: z.enum(['local', 'utc']).default('local'),
  })
  .superRefine((spec, ctx) => {
    if (spec.name.includes('/')) ctx.addIssue({ code: 'custom', path: ['name'], message: 'a name is a file name, without "/"' });
    const hasToken = spec.name.includes(TIME_TOKEN);
    if (hasToken && spec.time === undefined) ctx.addIssue({ code: 'custom', path: ['time'], message: `a name with ${TIME_TOKEN} needs time: its strftime format, e.g. "%Y%m%d_%H%M%S"` });
    if (!hasToken && spec.time !== undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: `time is given, so the name must say where it is with ${TIME_TOKEN}` });
    if (spec.time !== undefined) {
      const pieces = formatPieces(spec.time);
      if (pieces === undefined) ctx.addIssue({ code: 'custom', path: ['time'], message: 'time may use only %Y %m %d %H %M %S and literal characters' });
      else if (!pieces.includes('%Y') || !pieces.includes('%m') || !pieces.includes('%d')) ctx.addIssue({ code: 'custom', path: ['time'], message: 'time needs at least %Y, %m and %d' });
    }
  });

export type BackupName = z.output<typeof backupNameSchema>;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');

/**
 * A `find -name` pattern as a regular expression over a whole file name: `*` any run of
 * characters (a leading dot included, as find does), `?` one character, `[…]` a set (`!` or `^`
 * negates), a backslash quotes the next character.
 */
export function globSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '\\' && i + 1 < glob.length) {
      out += escapeRegExp(glob[++i] ?? '');
    } else if (c === '*') {
      out += '.*';
    } else if (c === '?') {
      out += '.';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) {
        out += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, end);
      const negate = set.startsWith('!') || set.startsWith('^');
      if (negate) set = set.slice(1);
      out += `[${negate ? '^' : ''}${set.replace(/[\\\]]/gu, '\\$&')}]`;
      i = end;
    } else {
      out += escapeRegExp(c);
    }
  }
  return out;
}

export function globRegExp(glob: string): RegExp {
  return new RegExp(`^${globSource(glob)}$`, 'su');
}

/** A compiled declared name: `match` gives the time in the name (undefined: use the mtime), or null when it does not match. */
export interface NameMatcher {
  spec: BackupName;
  match(fileName: string): { takenAt: Date | undefined } | null;
}

export function compileName(spec: BackupName): NameMatcher {
  if (spec.time === undefined) {
    const re = globRegExp(spec.name);
    return { spec, match: (n) => (re.test(n) ? { takenAt: undefined } : null) };
  }
  const pieces = formatPieces(spec.time) ?? [];
  const keys: string[] = [];
  const timeSource = pieces
    .map((p) => {
      const field = FIELDS[p];
      if (!field) return escapeRegExp(p);
      keys.push(field.key);
      return `(\\d{${field.width}})`;
    })
    .join('');
  const [before, ...rest] = spec.name.split(TIME_TOKEN);
  const re = new RegExp(`^${globSource(before ?? '')}${timeSource}${globSource(rest.join(TIME_TOKEN))}$`, 'su');
  return {
    spec,
    match(fileName) {
      const m = re.exec(fileName);
      if (!m) return null;
      const v: Record<string, number> = { y: 0, mo: 1, d: 1, h: 0, mi: 0, s: 0 };
      keys.forEach((key, i) => (v[key] = Number(m[i + 1])));
      const { y = 0, mo = 1, d = 1, h = 0, mi = 0, s = 0 } = v;
      const date = spec.zone === 'utc' ? new Date(Date.UTC(y, mo - 1, d, h, mi, s)) : new Date(y, mo - 1, d, h, mi, s);
      // 20241340 is no date: a name whose fields do not round-trip does not match.
      const back = spec.zone === 'utc' ? [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()] : [date.getFullYear(), date.getMonth() + 1, date.getDate()];
      if (Number.isNaN(date.getTime()) || back[0] !== y || back[1] !== mo || back[2] !== d || h > 23 || mi > 59 || s > 59) return null;
      return { takenAt: date };
    },
  };
}
