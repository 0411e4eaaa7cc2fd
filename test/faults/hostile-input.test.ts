import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationSchema } from '../../src/core/alertmanager-payload.js';
import type { AuditEvent } from '../../src/core/domain.js';
import { RunbookError } from '../../src/domain/errors.js';
import { renderTemplate } from '../../src/runbooks/template.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';
import { ALERT_CHANNEL, WEBHOOK_TOKEN, startTestBot, type TestBot } from '../support/bot-harness.js';
import { pollUntil } from '../support/bot-process.js';
import { cardsByIncident, compressChatPacing, faultSummary, getJson, httpPost, readDb, runPool, type FaultCounts, type HttpAnswer } from '../support/faults-kit.js';

/**
 * Hostile input against the running bot, property-based with fast-check. 10,000 generated
 * requests in total go to the webhook of one in-process bot, 8 at a time: valid-shaped payloads
 * with shell metacharacters, unicode (lone surrogates, RTL, zero-width, emoji) and oversized
 * strings in every label, annotation and string field; wrong types and huge numbers at every
 * field; raw bodies (JSON nested 10,000 deep, broken JSON, invalid UTF-8, BOM); arbitrary JSON;
 * prototype-pollution keys (`__proto__`, `constructor`, `prototype`) everywhere.
 *
 * Every answer must be 2xx or 4xx (never 5xx, never a hang), `/healthz` stays 200, the prototype
 * of plain objects is untouched, and no shell is ever reached: a runbook's read-only exec step
 * receives the hostile label as `{{value}}`; it is pressed (signed, as Slack sends it) for a
 * sample of accepted incidents, and the step logs its argv: it must be exactly one element equal
 * to the label (lone surrogates become U+FFFD: arguments are UTF-8 bytes at the OS boundary).
 * Payloads try to `touch <dir>/pwned` in every shell syntax; that file must never exist.
 *
 * Pure properties of renderTemplate and of the webhook's zod schema complete the file.
 *
 * Summary: sent = groups of acknowledged requests, stored = incidents in the store (one per episode),
 * posted = their cards on the fake Slack, faults injected = hostile requests sent, executions =
 * argv lines the step logged.
 */

const RUNBOOK = `
name: hostile
match: { service: hostile-svc }
params:
  value: { fromLabel: hostile, pattern: '[^\\n\\x00]{1,200}' }
  caseid: { fromLabel: caseid, pattern: '[0-9]{1,9}' }
steps:
  - id: echo
    title: Echo the value
    action: exec
    run: [node, -e, 'require("fs").appendFileSync(process.argv[1], JSON.stringify(process.argv.slice(2)) + "\\n")', '{{DIR}}/argv-{{caseid}}.log', '{{value}}']
`;

/** Requests per generator; each property run sends a batch of BATCH at once. Sums to 10,000. */
const RUNS = { validShaped: 3000, wrongTypes: 2504, rawBodies: 1000, arbitraryJson: 2496, pollution: 1000 } as const;
const BATCH = 8;
const PRESSES = 40;
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31));

const counts: FaultCounts = { sent: 0, stored: 0, posted: 0, faults: 0, executions: 0 };
let slack: FakeSlack;
let t: TestBot;
let agent: http.Agent;
const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

interface Sent {
  generator: string;
  body: string | Buffer;
  answer: HttpAnswer;
  /** For valid-shaped payloads: the case number and the hostile label that reaches the step. */
  caseid?: number;
  hostile?: string;
}
const sent: Sent[] = [];
let nextCase = 1;

beforeAll(async () => {
  slack = await startFakeSlack({ rateLimit: false });
  t = await startTestBot({ slack, runbooks: { 'hostile.yaml': RUNBOOK } });
  // Thousands of incidents: the per-channel pace (1/s) would take an hour to show them all.
  compressChatPacing(t.bot, 2000, 500);
  agent = new http.Agent({ keepAlive: true, maxSockets: BATCH });
});

// Stopping a bot that holds thousands of incidents finishes the chat calls in flight: slow on a loaded machine.
afterAll(async () => {
  console.log(faultSummary('hostile input: generated webhook requests and steps', counts));
  agent?.destroy();
  await t?.stop();
  await slack?.close();
}, 180_000);

// --- building blocks ----------------------------------------------------------------------------

const canary = () => path.join(t.dir, 'pwned');

/** Shell syntax that would create the canary if any shell ever saw the value. */
function shellPieces(): string[] {
  const c = canary();
  return [
    `$(touch ${c})`,
    `\`touch ${c}\``,
    `; touch ${c}`,
    `| touch ${c}`,
    `&& touch ${c}`,
    `|| touch ${c}`,
    `' ; touch ${c} ; '`,
    `" ; touch ${c} ; "`,
    `> ${c}`,
    `$IFS`,
    '${PATH}',
    '*',
    '~',
    '!!',
    '\\',
    '%0a',
    '--help',
    '-e',
    '--require=/etc/passwd',
    '{{value}}',
    '{{ caseid }}',
    '{{{value}}}',
    '$&',
    '$1',
    '%s%n',
    '../../../../etc/passwd',
    ' ',
    '\t',
  ];
}

const UNICODE = ['\u202e', '\u200f', '\u200b', '\u200d', '\ufeff', '👩‍💻', '🔥', '\ud800', '\udfff', 'e\u0301', '\u0085', '\u2028', '\u2029', '中文', 'مرحبا', 'ᚠ', '\u00a0'];
const BREAKERS = ['\n', '\r', '\u0000'];
const NAN_LIKE = ['', ' ', 'NaN', 'Infinity', '-Infinity', 'null', 'undefined', 'true', '0x10', '1e309', '-0', '__proto__', 'constructor', 'prototype', 'toString'];

function hostileString(opts: { breakers?: boolean; big?: boolean } = {}): fc.Arbitrary<string> {
  const pieces = [...shellPieces(), ...UNICODE, ...(opts.breakers === false ? [] : BREAKERS)];
  const options: Array<fc.WeightedArbitrary<string>> = [
    { weight: 6, arbitrary: fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 6 }).map((p) => p.join('')) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 4 }) },
    { weight: 1, arbitrary: fc.constantFrom(...NAN_LIKE) },
  ];
  if (opts.big !== false) options.push({ weight: 1, arbitrary: fc.constantFrom(201, 1024, 1025, 16_384, 16_385, 70_000).map((n) => 'x'.repeat(n)) });
  return fc.oneof(...options);
}

const POLLUTION_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__', 'valueOf'];
const hostileKey = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...POLLUTION_KEYS) },
  { weight: 6, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'k'.repeat(257)) },
);

/** An object whose own keys are exactly `entries` (so `__proto__` is a key, not the prototype). */
function own(entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

/** A well-formed notification (caseid unique), the base the generators break. */
function basePayload(caseid: number, labels: Record<string, unknown> = {}): Record<string, unknown> {
  const l = { alertname: 'HostileDown', service: `other-${caseid}`, severity: 'warning', ...labels };
  return {
    version: '4',
    groupKey: `{}:{alertname="HostileDown", case="${caseid}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'chatops-bot',
    groupLabels: { alertname: 'HostileDown' },
    commonLabels: { ...l },
    commonAnnotations: { summary: 'hostile' },
    externalURL: 'http://alertmanager.example:9093',
    alerts: [
      {
        status: 'firing',
        labels: { ...l },
        annotations: { summary: 'hostile' },
        startsAt: '2026-11-22T01:37:37.133709925Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example:9090/graph',
        fingerprint: `fp${caseid.toString(16)}`,
      },
    ],
  };
}

const FIELD_PATHS = [
  [],
  ['version'],
  ['groupKey'],
  ['truncatedAlerts'],
  ['status'],
  ['receiver'],
  ['groupLabels'],
  ['commonLabels'],
  ['commonLabels', 'service'],
  ['commonAnnotations'],
  ['externalURL'],
  ['alerts'],
  ['alerts', '0'],
  ['alerts', '0', 'status'],
  ['alerts', '0', 'labels'],
  ['alerts', '0', 'labels', 'alertname'],
  ['alerts', '0', 'annotations'],
  ['alerts', '0', 'startsAt'],
  ['alerts', '0', 'endsAt'],
  ['alerts', '0', 'generatorURL'],
  ['alerts', '0', 'fingerprint'],
];
const DELETE = Symbol('delete');
const TIMESTAMPS = ['NaN', '', '0', '-1', '9999-99-99T99:99:99Z', '+275760-09-13T00:00:00.001Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00Z', '0001-01-01T00:00:00Z', '1e309', '2026-02-30T00:00:00Z', 'x'.repeat(65)];
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0, 2 ** 31, -1, 0.5),
  fc.boolean(),
  fc.constant(null),
  fc.constant(DELETE),
  fc.constantFrom(...TIMESTAMPS),
  fc.constantFrom(...NAN_LIKE),
  fc.array(fc.oneof(fc.integer(), fc.string(), fc.constant(null)), { maxLength: 3 }),
  fc.constant({}),
  fc.constant([]),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null)), { maxKeys: 3 }),
);

function setPath(root: Record<string, unknown>, keys: string[], value: unknown): unknown {
  if (keys.length === 0) return value === DELETE ? {} : value;
  let node: unknown = root;
  for (const k of keys.slice(0, -1)) node = (node as Record<string, unknown>)[k];
  const last = keys[keys.length - 1]!;
  if (value === DELETE) delete (node as Record<string, unknown>)[last];
  else (node as Record<string, unknown>)[last] = value;
  return root;
}

function deep(depth: number, open: string, close: string, inner = '1'): string {
  return `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
}

/** Raw request bodies: nesting, broken JSON, encodings, sizes. */
const RAW_BODIES: Array<(caseid: number) => string | Buffer> = [
  () => deep(10_000, '[', ']'),
  () => deep(10_000, '{"a":', '}'),
  () => deep(50_000, '[', ']'),
  () => '['.repeat(10_000),
  () => `${'{"a":'.repeat(10_000)}1`,
  (c) => JSON.stringify(basePayload(c)).replace('"version":"4"', `"version":"4","extra":${deep(10_000, '[', ']')}`),
  (c) => JSON.stringify(basePayload(c)).replace('"status":"firing","labels"', `"deep":${deep(10_000, '{"a":', '}')},"status":"firing","labels"`),
  (c) => JSON.stringify(basePayload(c)).replace('"severity":"warning"', `"severity":${deep(10_000, '[', ']')}`),
  (c) => JSON.stringify(basePayload(c)).replace('"truncatedAlerts":0', `"truncatedAlerts":1${'0'.repeat(400)}`),
  (c) => JSON.stringify(basePayload(c)).replace('"truncatedAlerts":0', '"truncatedAlerts":NaN'),
  (c) => JSON.stringify(basePayload(c)).replace('"truncatedAlerts":0', '"truncatedAlerts":1e999'),
  (c) => `${JSON.stringify(basePayload(c))} trailing`,
  (c) => `\ufeff${JSON.stringify(basePayload(c))}`,
  (c) => JSON.stringify(basePayload(c)).replace('"version":"4"', '"version":"4","version":"5"'),
  (c) => JSON.stringify(basePayload(c)).replace('"version":"4"', '"version":"5","version":"4"'),
  (c) => Buffer.concat([Buffer.from(JSON.stringify(basePayload(c)).slice(0, -2)), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}]}')]),
  (c) => Buffer.from(JSON.stringify(basePayload(c, { bytes: 'AAAA' })).replace('AAAA', '\\udc00\\ud800'), 'utf8'),
  (c) => JSON.stringify(basePayload(c, { big: 'y'.repeat(16_384) })),
  (c) => JSON.stringify(basePayload(c, { big: 'y'.repeat(16_385) })),
  (c) => JSON.stringify(basePayload(c, { big: 'z'.repeat(100_000) })),
  (c) => JSON.stringify(basePayload(c, Object.fromEntries(Array.from({ length: 61 }, (_, i) => [`l${i}`, 'v'])))),
  (c) => JSON.stringify(basePayload(c, Object.fromEntries(Array.from({ length: 62 }, (_, i) => [`l${i}`, 'v'])))),
  (c) => {
    const p = basePayload(c);
    const a = (p.alerts as Array<Record<string, unknown>>)[0]!;
    p.alerts = Array.from({ length: 300 }, (_, i) => ({ ...a, fingerprint: `fp${c}-${i}` }));
    return JSON.stringify(p);
  },
  () => '',
  () => ' \n\t ',
  () => 'null',
  () => 'true',
  () => '0',
  () => '"string"',
  () => '[]',
  () => '{}',
  () => '{"alerts":[]}',
  () => '{',
  () => '{"version":"4",}',
  () => "{'version':'4'}",
  () => 'NaN',
  () => '\u0000',
];

// --- sending ------------------------------------------------------------------------------------

const AUTH = { authorization: `Bearer ${WEBHOOK_TOKEN}` };

async function send(generator: string, body: string | Buffer, extra: Pick<Sent, 'caseid' | 'hostile'> = {}): Promise<Sent> {
  const answer = await httpPost(`${t.url}/webhooks/alertmanager`, body, { headers: AUTH, agent, timeoutMs: 10_000 });
  const s: Sent = { generator, body, answer, ...extra };
  sent.push(s);
  counts.faults += 1;
  return s;
}

const isAllowed = (status: number) => (status >= 200 && status < 300) || (status >= 400 && status < 500);

function describeSent(s: Sent): string {
  const body = typeof s.body === 'string' ? s.body : s.body.toString('utf8');
  return `${s.generator}: ${s.answer.status}${s.answer.error ? ` (${s.answer.error})` : ''} ${s.answer.text.slice(0, 160)} <- ${JSON.stringify(body.slice(0, 200))}${body.length > 200 ? `… (${body.length} chars)` : ''}`;
}

const acknowledged = (s: Sent) => s.answer.status >= 200 && s.answer.status < 300;
/** A notification the bot recorded as a new incident at once (200), or took into its inbox (202), to be recorded right after. */
const opensIncident = (s: Sent) => (s.answer.status === 200 && s.answer.json.created === true) || s.answer.status === 202;

/** Once the inbox is empty: each valid-shaped case's incident, by its caseid label. */
async function incidentsByCase(): Promise<Map<number, number>> {
  await pollUntil(async () => (await t.bot.store.transaction((tx) => tx.countQueuedNotifications())).waiting === 0, 60_000, 'the inbox to be recorded');
  const rows = readDb(t.dbFile, (db) => db.prepare("SELECT id, json_extract(common_labels, '$.caseid') AS caseid FROM incidents").all() as Array<{ id: number; caseid: string | null }>);
  return new Map(rows.filter((r) => r.caseid !== null).map((r) => [Number(r.caseid), r.id]));
}

async function healthy(): Promise<number> {
  const res = await fetch(`${t.url}/healthz`, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status;
}

/** Runs a generator's batches through fast-check; violations are collected, not thrown, so every one is reported. */
async function fuzz<T>(generator: string, total: number, arb: fc.Arbitrary<T>, toBody: (x: T) => { body: string | Buffer; caseid?: number; hostile?: string }): Promise<void> {
  const before = sent.length;
  let batches = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(arb, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      await Promise.all(batch.map(async (x) => {
        const { body, ...extra } = toBody(x);
        await send(generator, body, extra);
      }));
      batches += 1;
      if (batches % 50 === 0) expect(await healthy(), `/healthz during ${generator}`).toBe(200);
    }),
    { numRuns: total / BATCH, seed: SEED, endOnFailure: true },
  );
  const mine = sent.slice(before);
  expect(mine).toHaveLength(total);
  const bad = mine.filter((s) => !isAllowed(s.answer.status));
  expect(bad.length, `answers other than 2xx/4xx from ${generator} (seed ${SEED}):\n${bad.slice(0, 5).map(describeSent).join('\n')}`).toBe(0);
  expect(await healthy(), `/healthz after ${generator}`).toBe(200);
}

// --- the HTTP properties ------------------------------------------------------------------------

describe('hostile webhook input against the running bot', { timeout: 150_000 }, () => {
  it('answers valid-shaped payloads carrying hostile strings in every field with 2xx or 4xx', async () => {
    const arb = fc.record({
      hostile: hostileString(),
      labels: fc.array(fc.tuple(hostileKey, hostileString()), { maxLength: 4 }),
      annotations: fc.array(fc.tuple(hostileKey, hostileString()), { maxLength: 3 }),
      groupKey: hostileString({ big: false }),
      receiver: hostileString({ big: false }),
      externalURL: hostileString({ big: false }),
      fingerprint: hostileString({ big: false }),
      generatorURL: hostileString({ big: false }),
      status: fc.constantFrom('firing', 'resolved'),
    });
    await fuzz('valid-shaped', RUNS.validShaped, arb, (x) => {
      const caseid = nextCase++;
      // The fixed labels come last so the runbook matches and the case number is trustworthy.
      const labels = own([...x.labels, ['alertname', 'HostileDown'], ['service', 'hostile-svc'], ['caseid', String(caseid)], ['hostile', x.hostile]]);
      const annotations = own(x.annotations);
      const body = JSON.stringify({
        version: '4',
        groupKey: `${x.groupKey}#${caseid}`,
        truncatedAlerts: 0,
        status: x.status,
        receiver: x.receiver,
        groupLabels: own([['alertname', 'HostileDown']]),
        commonLabels: labels,
        commonAnnotations: annotations,
        externalURL: x.externalURL,
        alerts: [{ status: x.status, labels, annotations, startsAt: '2026-11-22T01:37:37Z', endsAt: '0001-01-01T00:00:00Z', generatorURL: x.generatorURL, fingerprint: `fp${x.fingerprint}`.slice(0, 128) }],
      });
      return { body, caseid, hostile: x.hostile };
    });
    const accepted = sent.filter((s) => s.generator === 'valid-shaped' && acknowledged(s));
    // The generator is meant to mostly get through validation; otherwise nothing reaches the step.
    expect(accepted.length).toBeGreaterThan(RUNS.validShaped / 3);
  });

  it('answers wrong types, huge numbers and missing fields at every field with 2xx or 4xx', async () => {
    const arb = fc.record({ at: fc.constantFrom(...FIELD_PATHS), value: wrongValue });
    await fuzz('wrong-types', RUNS.wrongTypes, arb, ({ at, value }) => ({ body: JSON.stringify(setPath(basePayload(nextCase++), at, value)) }));
  });

  it('answers raw bodies (nesting 10,000 deep, broken JSON, bad UTF-8, BOM, sizes) with 2xx or 4xx', async () => {
    const arb = fc.integer({ min: 0, max: RAW_BODIES.length - 1 });
    await fuzz('raw-bodies', RUNS.rawBodies, arb, (i) => ({ body: RAW_BODIES[i]!(nextCase++) }));
  });

  it('answers arbitrary JSON values with 2xx or 4xx', async () => {
    const arb = fc.oneof(fc.jsonValue(), fc.object({ key: fc.oneof(fc.constantFrom(...POLLUTION_KEYS, 'version', 'alerts', 'groupKey'), fc.string()) }));
    await fuzz('arbitrary-json', RUNS.arbitraryJson, arb, (v) => ({ body: JSON.stringify(v) ?? 'null' }));
  });

  it('answers prototype-pollution keys anywhere with 2xx or 4xx, and pollutes nothing', async () => {
    const where = fc.constantFrom('root', 'groupLabels', 'commonLabels', 'commonAnnotations', 'alert', 'alertLabels', 'alertAnnotations');
    const payload = fc.constantFrom<unknown>({ polluted: 'yes' }, { prototype: { polluted: 'yes' } }, 'polluted', 1, null, [], { toString: 'x' });
    const arb = fc.record({ where, key: fc.constantFrom('__proto__', 'constructor', 'prototype'), payload });
    await fuzz('pollution', RUNS.pollution, arb, ({ where: w, key, payload: value }) => {
      const p = basePayload(nextCase++);
      const alert = (p.alerts as Array<Record<string, unknown>>)[0]!;
      const inject = (o: Record<string, unknown>) => Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
      if (w === 'root') inject(p);
      else if (w === 'alert') inject(alert);
      else if (w === 'alertLabels') inject(alert.labels as Record<string, unknown>);
      else if (w === 'alertAnnotations') inject(alert.annotations as Record<string, unknown>);
      else inject(p[w] as Record<string, unknown>);
      return { body: JSON.stringify(p) };
    });
    const polluted = ({} as Record<string, unknown>).polluted;
    expect(polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
  });

  it('sent 10,000 hostile requests, all answered 2xx or 4xx within the time limit, and the bot stayed up', async () => {
    expect(sent).toHaveLength(10_000);
    expect(sent.filter((s) => s.answer.status === 0).map(describeSent).slice(0, 5)).toEqual([]);
    expect(sent.filter((s) => s.answer.status >= 500).map(describeSent).slice(0, 5)).toEqual([]);
    expect(await healthy()).toBe(200);
    const byStatus = new Map<number, number>();
    for (const s of sent) byStatus.set(s.answer.status, (byStatus.get(s.answer.status) ?? 0) + 1);
    console.log(`hostile input details (seed ${SEED}): answers ${JSON.stringify(Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0])))}`);
  });

  it('refuses a body over WEBHOOK_MAX_BYTES with 413, by declared length and while streaming', async () => {
    const limit = t.config.webhookMaxBytes;
    const big = Buffer.alloc(limit + 1, 0x20);
    const declared = await httpPost(`${t.url}/webhooks/alertmanager`, big, { headers: AUTH, timeoutMs: 10_000 });
    counts.faults += 1;
    // The bot answers before reading the body and closes; a client still writing may see the reset instead.
    expect([413, 0], `${declared.status} ${declared.error ?? declared.text}`).toContain(declared.status);
    const streamed = await fetch(`${t.url}/webhooks/alertmanager`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          for (let sentBytes = 0; sentBytes <= limit; sentBytes += 1 << 20) controller.enqueue(new Uint8Array(1 << 20).fill(0x20));
          controller.close();
        },
      }),
      duplex: 'half',
      signal: AbortSignal.timeout(10_000),
    }).then(
      async (r) => ({ status: r.status, text: await r.text() }),
      (error: unknown) => ({ status: 0, text: String(error) }),
    );
    counts.faults += 1;
    expect([413, 0], `${streamed.status} ${streamed.text}`).toContain(streamed.status);
    console.log(`oversized body details: declared length answered ${declared.status || declared.error}, streamed answered ${streamed.status || streamed.text}`);
    expect(await healthy()).toBe(200);
  });

  it('passes a hostile label to the step as exactly one argument, never through a shell', async () => {
    // The runbook's pattern, anchored, plus the rules every label value obeys (no leading "-", no CR, LF or NUL; ≤ 1024).
    // eslint-disable-next-line no-control-regex
    const offered = (v: string) => !v.startsWith('-') && v.length <= 1024 && !/[\0\n\r]/.test(v) && /^(?:[^\n\x00]{1,200})$/u.test(v);
    const byCase = await incidentsByCase();
    const incidentOf = (s: Sent) => byCase.get(s.caseid ?? -1) ?? -1;
    const candidates = sent.filter((s) => s.generator === 'valid-shaped' && opensIncident(s) && s.hostile !== undefined && offered(s.hostile));
    expect(candidates.filter((s) => s.answer.status === 200 && s.answer.json.incidentId !== incidentOf(s)), 'incidents answered and found by case differ').toEqual([]);
    // Shell-looking values first, then the rest, for a sample of PRESSES.
    const shelly = candidates.filter((s) => /pwned|[`$|;&'"\\{}]/.test(s.hostile!));
    const sample = [...shelly.slice(0, PRESSES * 0.75), ...candidates.filter((s) => !shelly.includes(s))].slice(0, PRESSES);
    expect(sample.length).toBeGreaterThan(PRESSES / 2);

    const cards = cardsByIncident(slack, ALERT_CHANNEL);
    await runPool(sample, BATCH, async (s) => {
      const id = incidentOf(s);
      const res = await t.press({ userId: 'U0ALICE', userName: 'alice', actionId: `run-step:${id}:hostile:echo`, messageTs: cards.get(id)?.[0]?.ts ?? '1700000000.000100' });
      expect(res.status).toBe(200);
    });
    const finished = async (s: Sent) => {
      const { body } = await getJson<{ events: AuditEvent[] }>(`${t.url}/incidents/${incidentOf(s)}/audit`);
      return body.events.find((e) => e.kind === 'step.finished' || e.kind === 'step.refused');
    };
    await pollUntil(async () => (await Promise.all(sample.map(finished))).every(Boolean), 60_000, 'every pressed step to finish');

    const wellFormed = (v: string) => v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
    const problems: string[] = [];
    for (const s of sample) {
      const outcome = await finished(s);
      const file = path.join(t.dir, `argv-${s.caseid}.log`);
      const logged = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
      if (outcome?.kind !== 'step.finished' || outcome.data.status !== 'succeeded') problems.push(`case ${s.caseid} ${JSON.stringify(s.hostile)}: ${outcome?.kind} ${outcome?.text}`);
      else if (logged.length !== 1) problems.push(`case ${s.caseid} ${JSON.stringify(s.hostile)}: ${logged.length} argv lines`);
      else {
        const argv = JSON.parse(logged[0]!) as string[];
        if (argv.length !== 1 || argv[0] !== wellFormed(s.hostile!)) problems.push(`case ${s.caseid}: label ${JSON.stringify(s.hostile)} arrived as ${logged[0]}`);
      }
    }
    counts.executions = fs.readdirSync(t.dir).filter((f) => f.startsWith('argv-')).reduce((n, f) => n + fs.readFileSync(path.join(t.dir, f), 'utf8').split('\n').filter(Boolean).length, 0);
    const has = (re: RegExp) => sample.filter((s) => re.test(s.hostile!)).length;
    console.log(
      `hostile press details: ${sample.length} steps pressed of ${candidates.length} offered; values with shell syntax ${has(/pwned|[`$|;&]/)}, ` +
        `lone surrogates ${sample.filter((s) => wellFormed(s.hostile!) !== s.hostile).length}, RTL/zero-width ${has(/\u202e|\u200f|\u200b|\u200d|\ufeff/)}, template braces ${has(/\{\{/)}, leading dash ${has(/^-/)}`,
    );
    expect(problems).toEqual([]);
    expect(counts.executions).toBe(sample.length);
    expect(fs.existsSync(canary()), 'the canary a shell would have created').toBe(false);
  });

  it('stores every acknowledged incident and shows each on Slack exactly once', { timeout: 200_000 }, async () => {
    await incidentsByCase();
    const answeredIds = new Set(sent.filter((s) => s.answer.status === 200 && s.answer.json.created === true).map((s) => Number(s.answer.json.incidentId)));
    const rows = readDb(t.dbFile, (db) => db.prepare('SELECT id, group_key AS groupKey FROM incidents').all() as Array<{ id: number; groupKey: string }>);
    const stored = rows.map((r) => r.id);
    expect([...answeredIds].every((id) => stored.includes(id)), 'incidents answered as created are stored').toBe(true);
    // Those answered 202 were recorded after the answer: the groups of every acknowledged
    // notification, and only those, have incidents. Text as SQLite gives it back: a lone surrogate
    // is stored as its three WTF-8 bytes, read back as three U+FFFD.
    const asStored = (key: string) => key.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd\ufffd\ufffd');
    const groupOf = (s: Sent) => notificationSchema.parse(JSON.parse(typeof s.body === 'string' ? s.body : s.body.toString('utf8'))).groupKey;
    const acknowledgedGroups = new Set(sent.filter(acknowledged).map((s) => asStored(groupOf(s))));
    const storedGroups = new Set(rows.map((r) => r.groupKey));
    expect([...acknowledgedGroups].filter((g) => !storedGroups.has(g)).slice(0, 5), 'acknowledged groups without an incident').toEqual([]);
    expect([...storedGroups].filter((g) => !acknowledgedGroups.has(g)).slice(0, 5), 'incidents of no acknowledged group').toEqual([]);
    expect((await t.bot.store.transaction((tx) => tx.countQueuedNotifications())).failed, 'notifications put aside').toBe(0);

    const missing = () => {
      const byId = cardsByIncident(slack, ALERT_CHANNEL);
      return stored.filter((id) => !byId.has(id));
    };
    // A bound for a loaded machine: this proves nothing is lost or doubled, not how fast (that is the bench's).
    await pollUntil(() => missing().length === 0, 120_000, 'a card for every stored incident').catch((error: unknown) => {
      const ids = missing().slice(0, 5);
      const why = readDb(t.dbFile, (db) =>
        ids.map((id) => db.prepare("SELECT incident_id, kind, attempts, last_error FROM outbox WHERE incident_id = ? AND state = 'pending' ORDER BY id LIMIT 1").get(id)),
      );
      throw new Error(`${(error as Error).message}: ${missing().length} incidents without a card, e.g. ${JSON.stringify(why)}`);
    });
    const byId = cardsByIncident(slack, ALERT_CHANNEL);
    expect([...byId.entries()].filter(([, ms]) => ms.length !== 1).map(([id, ms]) => `#${id}: ${ms.length} cards`)).toEqual([]);
    expect(byId.has(-1), 'top-level messages that are not incident cards').toBe(false);
    Object.assign(counts, { sent: acknowledgedGroups.size, stored: stored.length, posted: slack.topLevel(ALERT_CHANNEL).length });
    // A group that resolved and fired again has an incident per episode.
    expect(counts.stored).toBeGreaterThanOrEqual(counts.sent);
    expect(counts.posted).toBe(counts.stored);
  });
});

// --- pure properties ----------------------------------------------------------------------------

describe('renderTemplate properties', () => {
  const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,10}$/);
  const anyValue = fc.string({ unit: 'binary', maxLength: 60 });
  const literal = fc.string({ maxLength: 20 }).filter((s) => !s.includes('{{') && !s.includes('}}') && !s.endsWith('{') && !s.startsWith('}'));

  it('renders each argv element on its own: a value never changes the number of arguments', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(literal, fc.option(name, { nil: undefined }), literal), { minLength: 1, maxLength: 6 }), fc.dictionary(name, anyValue), (parts, values) => {
        const params: Record<string, string> = { ...values };
        const argv = parts.map(([pre, n, post]) => {
          if (n !== undefined && !Object.hasOwn(params, n)) params[n] = 'v';
          return n === undefined ? `${pre}${post}` : `${pre}{{${n}}}${post}`;
        });
        const rendered = argv.map((a) => renderTemplate(a, params));
        expect(rendered).toHaveLength(argv.length);
        parts.forEach(([pre, n, post], i) => expect(rendered[i]).toBe(n === undefined ? `${pre}${post}` : `${pre}${params[n]}${post}`));
      }),
      { numRuns: 500 },
    );
  });

  it('throws RunbookError for a name that is not a param, including Object.prototype names', () => {
    fc.assert(
      fc.property(fc.oneof(name, fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty')), fc.dictionary(name, anyValue), (n, params) => {
        fc.pre(!Object.hasOwn(params, n));
        expect(() => renderTemplate(`a {{ ${n} }} b`, params)).toThrow(RunbookError);
      }),
      { numRuns: 500 },
    );
  });

  it('never expands {{…}} or $-patterns inside a value', () => {
    const tricky = fc.array(fc.constantFrom('{{x}}', '{{ y }}', '{{', '}}', '$&', '$1', "$'", '$`', '$$', 'plain', ' '), { maxLength: 6 }).map((p) => p.join(''));
    fc.assert(
      fc.property(tricky, tricky, (x, y) => {
        expect(renderTemplate('{{x}}', { x, y })).toBe(x);
        expect(renderTemplate('[{{x}}|{{ y }}]', { x, y })).toBe(`[${x}|${y}]`);
      }),
      { numRuns: 500 },
    );
  });
});

describe('webhook schema properties', () => {
  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(() => notificationSchema.safeParse(v)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on objects with prototype-pollution keys, and never pollutes', () => {
    fc.assert(
      fc.property(fc.object({ key: fc.oneof(fc.constantFrom(...POLLUTION_KEYS, 'labels', 'alerts', 'commonLabels'), fc.string()), maxDepth: 3 }), (v) => {
        expect(() => notificationSchema.safeParse(JSON.parse(JSON.stringify(v)) as unknown)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts valid generated payloads and gives them back unchanged, but for NUL characters, which become U+FFFD', () => {
    // Label names as Prometheus/Alertmanager write them (no reserved `__` prefix); any values.
    const labelName = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,20}$/);
    const labels = fc.dictionary(labelName, fc.string({ unit: 'binary', maxLength: 30 }), { maxKeys: 8 });
    const ts = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
    const status = fc.constantFrom('firing' as const, 'resolved' as const);
    const alert = fc.record({
      status,
      labels,
      annotations: labels,
      startsAt: ts,
      endsAt: fc.oneof(ts, fc.constant('0001-01-01T00:00:00Z')),
      generatorURL: fc.webUrl(),
      fingerprint: fc.stringMatching(/^[0-9a-f]{16}$/),
    });
    const notification = fc.record({
      version: fc.constant('4'),
      groupKey: fc.string({ minLength: 1, maxLength: 100 }),
      truncatedAlerts: fc.nat(1000),
      status,
      receiver: fc.string({ maxLength: 30 }),
      groupLabels: labels,
      commonLabels: labels,
      commonAnnotations: labels,
      externalURL: fc.webUrl(),
      alerts: fc.array(alert, { minLength: 1, maxLength: 4 }),
    });
    fc.assert(
      fc.property(notification, (n) => {
        const wire = JSON.parse(JSON.stringify(n)) as unknown;
        const parsed = notificationSchema.safeParse(wire);
        expect(parsed.success, JSON.stringify(parsed.error?.issues.slice(0, 3))).toBe(true);
        // Every store keeps text without NUL (PostgreSQL cannot hold it); nothing else changes.
        expect(parsed.data).toEqual(JSON.parse(JSON.stringify(n).replaceAll('\\u0000', '\uFFFD')));
      }),
      { numRuns: 1000 },
    );
  });
});
