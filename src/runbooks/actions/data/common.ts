import path from 'node:path';
import { z } from 'zod';
import type { ResultCode } from '../../../domain/result-message.js';
import { formatUnits } from '../../../domain/format.js';

/*
 * Pieces shared by the data actions (checkpoint, backup, restore): lenient input schemas for
 * templatable fields, checks of rendered values, and how a summary or a failure is said (`Job`,
 * which runs a step's programs, is in job.ts).
 *
 * Every string inside `with:` may hold a {{param}}, and the schema is also applied to the
 * unrendered inputs when the manifest loads; so the schemas only refuse what can never be right
 * (an empty string) and paths, names and ports are checked in `run()` on the rendered values.
 */

/** A string that params may fill in; checked after rendering. */
export const text = z.string().min(1);

/**
 * A TCP port: a number, or a string of digits or holding a {{param}}. Always a number after
 * parsing; a template not rendered yet becomes NaN, and `checkPort` refuses it when the step runs.
 */
export const portInput = z
  .union([z.int(), z.string().regex(/^(?:\d+|.*\{\{.*\}\}.*)$/u, 'a port is a number (or a {{param}} that renders to one)')])
  .transform((port) => (typeof port === 'number' ? port : /^\d+$/u.test(port) ? Number(port) : Number.NaN));

/** Retention after a successful backup; a backup is kept when any rule keeps it. */
export const keepInput = z
  .strictObject({
    /** Keep backups younger than this many days (with `by: mtime`: what `find -mtime +<days>` does not match). */
    days: z.int().min(1).max(36500).optional(),
    /** Keep the newest this many backups (the new one included). */
    files: z.int().min(1).max(10000).optional(),
    /**
     * `name` (default): age from the time in the bot's names (and the step's declared names);
     * `mtime`: age from the modification time, as the manuals' `find -mtime +<days> -delete` does.
     */
    by: z.enum(['name', 'mtime']).default('name'),
    /** With `by: mtime`: a `find -name` pattern; every matching file below `dir` is aged (e.g. "*.db.gz"). */
    match: z.string().min(1).optional(),
    /** Safety backups taken before restores (`<prefix>-safety-<time>`) are kept this many days, the newest one always. */
    safetyDays: z.int().min(1).max(36500).default(7),
  })
  .refine((keep) => keep.days !== undefined || keep.files !== undefined, 'keep needs days, files, or both')
  .refine((keep) => keep.match === undefined || keep.by === 'mtime', { message: 'match is a find -name pattern for by: mtime', path: ['match'] });

export type KeepRule = z.output<typeof keepInput>;

/** A summary, or a part of one, as a code and its values (the bot says it in its language). */
export interface Said {
  code: ResultCode;
  params: Record<string, string | number>;
}

/**
 * What a step body ends with: the English line, and the same as a code where the action says one
 * (a success adds `tookMs`, the time the step took).
 */
export interface Summary {
  text: string;
  said?: Said | undefined;
}

export const summary = (text: string, code: ResultCode, params: Record<string, string | number>): Summary => ({ text, said: { code, params } });

/** A failure that ends the step with this one-line summary; `said`: the same in parts, as codes. */
export class ActionError extends Error {
  constructor(
    message: string,
    readonly timedOut = false,
    readonly said: readonly Said[] = [],
  ) {
    super(message);
    this.name = 'ActionError';
  }
}

/** A refusal or failure the bot can say in its language. */
export function refusal(message: string, code: ResultCode, params: Record<string, string | number> = {}): ActionError {
  return new ActionError(message, false, [{ code, params }]);
}

/** `failure` (an ActionError or anything thrown) as parts, led by `lead`: its own codes, else its English words. */
export function wrapped(lead: Said, failure: unknown): Said[] {
  if (failure instanceof ActionError && failure.said.length > 0) return [lead, ...failure.said];
  return [lead, { code: 'text', params: { text: failure instanceof Error ? failure.message : String(failure) } }];
}

/**
 * A size as data, the same in every language: "512 B", "1.2 MiB (1234567 B)". The actions' own
 * `formatBytes` says "bytes", a word a Chinese thread would show as it is.
 */
export function sizeValue(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${formatUnits(bytes)} (${bytes} B)`;
}

/** Throws an ActionError when `problem` is defined: for checks of rendered inputs. */
export function check(problem: string | undefined): void {
  if (problem !== undefined) throw new ActionError(problem);
}

/** An absolute path without line breaks or NUL (which no tool below handles sanely). */
export function pathProblem(value: string, what: string): string | undefined {
  if (/[\n\r\0]/u.test(value)) return `${what} may not contain a line break or NUL`;
  if (!path.isAbsolute(value)) return `${what} must be an absolute path, not ${JSON.stringify(value)}`;
  if (path.resolve(value) === '/') return `${what} may not be /`;
  return undefined;
}

export function portProblem(port: number, what = 'port'): string | undefined {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? undefined : `${what} must be a number from 1 to 65535`;
}

const PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/u;

export function prefixProblem(prefix: string): string | undefined {
  return PREFIX.test(prefix) ? undefined : `prefix ${JSON.stringify(prefix)} must be 1-100 letters, digits, ".", "_" or "-" and start with a letter or digit`;
}

/** A name turned into something usable in a default prefix. */
export function prefixPart(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/gu, '_').replace(/^[._-]+/u, '');
  return cleaned.slice(0, 80) || 'data';
}

/** A value passed to a program as an option's argument: no leading "-", no control characters. */
export function nameProblem(value: string, what: string): string | undefined {
  if (value.startsWith('-')) return `${what} ${JSON.stringify(value)} may not start with "-"`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/u.test(value)) return `${what} may not contain control characters`;
  return undefined;
}

/** How a backup name's time is shown in the results said in the bot's language (the same in every language). */
export const STAMP_PATTERN = '<YYYYMMDDTHHMMSSZ>';

/** `20240131T235959Z`: the UTC timestamp in backup names (sorts like the time it names). */
export function utcStamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/u, 'Z').replaceAll(/[-:]/gu, '');
}

/**
 * A database server's target without English words: "PostgreSQL orders @ db1:5432 (app)",
 * "Redis 127.0.0.1:6379": the product, the database, where (when given) and the user in brackets.
 */
export function serverSubject(product: string, t: { database?: string | undefined; host?: string | undefined; port?: number | undefined; user?: string | undefined }): string {
  const where = t.host !== undefined || t.port !== undefined ? `${t.host ?? 'localhost'}${t.port !== undefined ? `:${t.port}` : ''}` : undefined;
  const name = [t.database, where !== undefined ? (t.database !== undefined ? `@ ${where}` : where) : undefined].filter((part) => part !== undefined).join(' ');
  return `${product} ${name}${t.user !== undefined ? ` (${t.user})` : ''}`;
}

/** The first line of program output that reads like an error, else the last non-empty line. */
export function errorLine(output: string): string | undefined {
  const lines = output
    .split(/\r?\n/u)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.find((l) => /\b(error|fatal|ERROR|FATAL)\b/u.test(l)) ?? lines.at(-1);
}

/** A filesystem error's code (EACCES, ENOSPC), the same in every language; else its message. */
export function fsCode(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
  return code ?? (error instanceof Error ? error.message : String(error));
}

/** Node's filesystem error codes, as words a responder understands. */
export function fsProblem(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
  const reasons: Record<string, string> = {
    ENOENT: 'does not exist',
    ENOTDIR: 'is not a directory (a part of the path is a file)',
    EISDIR: 'is a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted (read-only or immutable?)',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    EEXIST: 'already exists',
    EXDEV: 'is on another file system',
  };
  if (code !== undefined && Object.hasOwn(reasons, code)) return `${reasons[code] ?? code} (${code})`;
  return error instanceof Error ? error.message : String(error);
}
