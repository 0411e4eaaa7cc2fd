import { z } from 'zod';
import { quoteValue } from '../../param-value.js';
import type { StepFact } from '../types.js';
import type { ResultMessage } from '../../../domain/result-message.js';
import { intervalSeconds, portInput, text, withinSeconds } from './common.js';
import { say } from './said.js';

/*
 * What a verify checks: its inputs (http, sql, prometheus) and how a check is described, in
 * English, as codes for the bot's language, and as findings. Restart and rollback use them for the
 * `verify:` that may follow them.
 */

const httpStatus = z.int().min(100).max(599);

const polling = { intervalSeconds: intervalSeconds(2), withinSeconds: withinSeconds(30) };

export const httpVerifyInputs = z.strictObject({
  kind: z.literal('http'),
  /** http or https, checked after rendering. */
  url: text,
  expectStatus: z
    .union([httpStatus, z.array(httpStatus).min(1)])
    .transform((status) => (Array.isArray(status) ? status : [status]))
    .default([200]),
  bodyContains: text.optional(),
  ...polling,
});

const sqliteVerifyInputs = z.strictObject({ kind: z.literal('sql'), engine: z.literal('sqlite'), path: text, ...polling });
const postgresVerifyInputs = z.strictObject({
  kind: z.literal('sql'),
  engine: z.literal('postgres'),
  host: text,
  port: portInput(5432),
  user: text,
  database: text,
  ...polling,
});
const mysqlVerifyInputs = z.strictObject({
  kind: z.literal('sql'),
  engine: z.literal('mysql'),
  host: text,
  port: portInput(3306),
  user: text,
  database: text,
  ...polling,
});
export const sqlVerifyInputs = z.discriminatedUnion('engine', [sqliteVerifyInputs, postgresVerifyInputs, mysqlVerifyInputs]);

export const prometheusVerifyInputs = z.strictObject({
  kind: z.literal('prometheus'),
  /** Prometheus' base URL (e.g. http://prometheus:9090); default: the bot's PROMETHEUS_URL setting. */
  url: text.optional(),
  /** PromQL, usually the alert's expression: `expect: empty` means the condition has cleared. */
  query: text,
  expect: z.enum(['empty', 'nonEmpty']).default('empty'),
  ...polling,
});

/** The `verify` action's inputs. */
export const verifyInputs = z.discriminatedUnion('kind', [httpVerifyInputs, sqlVerifyInputs, prometheusVerifyInputs]);
/** The `verify:` that may follow a restart or a rollback: an http or sql check. */
export const followUpVerifyInputs = z.discriminatedUnion('kind', [httpVerifyInputs, sqlVerifyInputs]);

export type VerifyInputs = z.output<typeof verifyInputs>;
export type HttpVerify = z.output<typeof httpVerifyInputs>;
export type SqlVerify = z.output<typeof sqlVerifyInputs>;
export type PrometheusVerify = z.output<typeof prometheusVerifyInputs>;

// ---------------------------------------------------------------------------------------------
// Descriptions

function pollingText(v: { intervalSeconds: number; withinSeconds: number }): string {
  return `every ${v.intervalSeconds}s, within ${v.withinSeconds}s`;
}

/** "http://x/health answers 200 with a body containing "v1"", "postgres postgres@db:5432/app answers SELECT 1" */
export function verifyTarget(v: VerifyInputs): string {
  switch (v.kind) {
    case 'http': {
      const body = v.bodyContains !== undefined ? ` with a body containing ${quoteValue(v.bodyContains)}` : '';
      return `${v.url} answers ${v.expectStatus.join(' or ')}${body}`;
    }
    case 'sql':
      return `${sqlTarget(v)} answers SELECT 1`;
    case 'prometheus':
      return `Prometheus ${v.url ?? '(PROMETHEUS_URL)'} returns ${v.expect === 'empty' ? 'no series' : 'at least one series'} for \`${v.query}\``;
  }
}

function sqlTarget(v: SqlVerify): string {
  return `${v.engine} ${sqlWhere(v)}`;
}

/** The database checked: its file, or user@host:port/database. */
function sqlWhere(v: SqlVerify): string {
  return v.engine === 'sqlite' ? v.path : `${v.user}@${v.host}:${v.port}/${v.database}`;
}

/** "will check that http://x/health answers 200 (every 2s, within 30s)" */
export function describeVerify(v: VerifyInputs): string {
  return `will check that ${verifyTarget(v)} (${pollingText(v)})`;
}

/** ", then verify that http://x/health answers 200 (within 30s)", for restart and rollback. */
export function describeFollowUpVerify(v: VerifyInputs | undefined): string {
  return v === undefined ? '' : `, then verify that ${verifyTarget(v)} (within ${v.withinSeconds}s)`;
}

/** The expected statuses as a value: "200", "200 / 204". */
export const expectedText = (v: HttpVerify) => v.expectStatus.join(' / ');

/** The description as a code (verify's own, the polling included). */
export function describeVerifySaid(v: VerifyInputs): ResultMessage {
  const polling = { interval: v.intervalSeconds, within: v.withinSeconds };
  switch (v.kind) {
    case 'http':
      return v.bodyContains !== undefined
        ? say('describe.verify.httpBody', { url: v.url, expected: expectedText(v), wanted: quoteValue(v.bodyContains), ...polling })
        : say('describe.verify.http', { url: v.url, expected: expectedText(v), ...polling });
    case 'sql':
      return say('describe.verify.sql', { engine: v.engine, target: sqlWhere(v), ...polling });
    case 'prometheus':
      return say(v.expect === 'empty' ? 'describe.verify.prometheusEmpty' : 'describe.verify.prometheusSeries', { url: v.url ?? 'PROMETHEUS_URL', query: `\`${v.query}\``, ...polling });
  }
}

/**
 * A follow-up check as a value that reads the same in every language, for the descriptions of
 * restart and rollback: "http://x/health → 200", "sqlite /srv/app.db".
 */
export function checkValue(v: VerifyInputs): string {
  switch (v.kind) {
    case 'http':
      return `${v.url} → ${expectedText(v)}${v.bodyContains !== undefined ? ` + ${quoteValue(v.bodyContains)}` : ''}`;
    case 'sql':
      return sqlTarget(v);
    case 'prometheus':
      return `\`${v.query}\``;
  }
}

/**
 * A follow-up check for a description said as a code: `verify` is 1 when there is one (the
 * catalogue text says "then verify" only then), `check` and `checkWithin` its values, else empty.
 */
export function followUpSaid(v: VerifyInputs | undefined): { verify: number; check: string; checkWithin: string } {
  return v === undefined ? { verify: 0, check: '', checkWithin: '' } : { verify: 1, check: checkValue(v), checkWithin: String(v.withinSeconds) };
}

/** The findings that name a check, each a value: what is checked and what is expected. */
export function checkFacts(v: VerifyInputs, label: (name: string) => string): StepFact[] {
  switch (v.kind) {
    case 'http':
      return [
        { label: label('check'), value: v.url },
        { label: label('expected status'), value: expectedText(v) },
        ...(v.bodyContains !== undefined ? [{ label: label('expected in body'), value: quoteValue(v.bodyContains) }] : []),
      ];
    case 'sql':
      return [
        { label: label('check'), value: sqlWhere(v) },
        { label: label('engine'), value: v.engine },
      ];
    case 'prometheus':
      return [
        { label: label('check'), value: `\`${v.query}\`` },
        { label: label('prometheus'), value: v.url ?? 'PROMETHEUS_URL' },
        { label: label('expected series'), value: v.expect === 'empty' ? '0' : '≥ 1' },
      ];
  }
}
