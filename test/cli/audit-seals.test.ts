/**
 * Sealed audit trails against a forger who can write the database: the real bot (a process, on
 * SQLite and on PostgreSQL) records two incidents and resolves one, posts the seal in the resolved
 * incident's thread and seals again at shutdown; then the database is rewritten with SQL the way a
 * forger would (re-hashing what follows an edit, lowering the seq counter, forging a retention
 * checkpoint) and `audit:verify`, run as npm runs it, must say BROKEN each time.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertmanagerNotification } from '../../src/core/alertmanager-payload.js';
import { auditHash } from '../../src/core/audit.js';
import { makeBotDir, pollUntil, postWebhook, REPO_ROOT, startBotProcess } from '../support/bot-process.js';
import { textOf } from '../support/console-client.js';
import { loadFixture } from '../support/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { probePostgres, requireService } from '../support/services.js';

const TOKEN = 'audit-seals-webhook-token';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run audit:verify`, as a process with a minimal environment. */
function verify(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/audit-verify.ts', ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function firing(n: number): AlertmanagerNotification {
  const base = loadFixture<AlertmanagerNotification>('firing-single.json');
  const alertname = `SealsDown${n}`;
  const alert = base.alerts[0]!;
  return {
    ...base,
    groupKey: `{}:{alertname="${alertname}"}`,
    groupLabels: { alertname },
    commonLabels: { ...base.commonLabels, alertname },
    alerts: [{ ...alert, fingerprint: `${alert.fingerprint}${n}`, labels: { ...alert.labels, alertname } }],
  };
}

function resolved(n: number): AlertmanagerNotification {
  const f = firing(n);
  return { ...f, status: 'resolved', alerts: f.alerts.map((a) => ({ ...a, status: 'resolved', endsAt: new Date().toISOString() })) };
}

interface RawAudit {
  seq: number;
  at: string;
  incident_id: number | null;
  actor: string;
  kind: string;
  text: string;
  data: string;
  prev_hash: string;
  hash: string;
}

/** SQL as a forger runs it: the same statements on both stores. */
interface Sql {
  all(sql: string): Promise<RawAudit[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
  /** Sets the audit seq counter (SQLite's sqlite_sequence, PostgreSQL's sequence) to `value`. */
  lowerCounter(value: number): Promise<void>;
}

const eventOf = (r: RawAudit, text = r.text, data = r.data) => ({ at: r.at, incidentId: r.incident_id, actor: r.actor, kind: r.kind, text, data: JSON.parse(data) as Record<string, unknown> });

/** Edits the first record of incident 1 and re-hashes its whole chain, so every link holds again. */
async function editAndRechain(sql: Sql): Promise<void> {
  const chain = (await sql.all('SELECT * FROM audit_events ORDER BY seq')).filter((r) => r.incident_id === 1);
  let prev = '';
  for (const [i, r] of chain.entries()) {
    const text = i === 0 ? 'Nothing was firing.' : r.text;
    const hash = auditHash(prev, eventOf(r, text));
    await sql.run('UPDATE audit_events SET text = $1, prev_hash = $2, hash = $3 WHERE seq = $4', [text, prev, hash, r.seq]);
    prev = hash;
  }
}

/** Deletes the newest two records and lowers the counter, so no seq gap shows. */
async function cutTail(sql: Sql): Promise<void> {
  const all = await sql.all('SELECT * FROM audit_events ORDER BY seq');
  const keep = all.at(-3)!.seq;
  await sql.run('DELETE FROM audit_events WHERE seq > $1', [keep]);
  await sql.lowerCounter(keep);
}

async function wipe(sql: Sql): Promise<void> {
  await sql.run('DELETE FROM audit_events');
  await sql.lowerCounter(0);
}

/** Deletes incident 1's chain and appends a retention checkpoint for it that hashes correctly. */
async function forgeRetention(sql: Sql): Promise<void> {
  const all = await sql.all('SELECT * FROM audit_events ORDER BY seq');
  const chain = all.filter((r) => r.incident_id === 1);
  const prev = all.filter((r) => r.incident_id === null).at(-1)?.hash ?? '';
  await sql.run('DELETE FROM audit_events WHERE incident_id = 1');
  const data = { before: new Date().toISOString(), deleted: chain.map((r) => [r.seq, r.seq]), chains: [{ incidentId: 1, events: chain.length, lastHash: chain.at(-1)!.hash }] };
  const event = { at: new Date().toISOString(), incidentId: null, actor: 'system:scheduler', kind: 'audit.retention', text: '🧹 Retention: deleted the audit trail of 1 incident.', data };
  await sql.run('INSERT INTO audit_events (at, incident_id, actor, kind, text, data, prev_hash, hash) VALUES ($1, NULL, $2, $3, $4, $5, $6, $7)', [
    event.at,
    event.actor,
    event.kind,
    event.text,
    JSON.stringify(data),
    prev,
    auditHash(prev, event),
  ]);
}

const TAMPERING: Array<[string, (sql: Sql) => Promise<void>, RegExp]> = [
  ['an edit with the rest of the chain re-hashed', editAndRechain, /^BROKEN incident 1 sealed: seal \d+ of .* covers \d+ records? ending in hash \w+…; record \d+ of the chain \(seq \d+\) has hash \w+… \(chain rewritten\)$/m],
  ['the tail deleted and the counter lowered', cutTail, /^BROKEN incident \d+ sealed: seal \d+ of .* covers \d+ records?, only \d+ left \(records deleted from the end of the chain\)$/m],
  ['the table wiped', wipe, /^BROKEN incident 2 sealed: seal \d+ of .* covers \d+ records?, none is left \(chain deleted, or the table wiped\)$/m],
  ['a forged retention checkpoint', forgeRetention, /^BROKEN incident 1 sealed: seal \d+ of .* covers \d+ records?, none is left/m],
];

/**
 * Runs the bot on `databaseUrl` until incident 1 is resolved and its seal is in its thread, then
 * stops it (the final seal). Returns the thread's seal message.
 */
async function recordSealedTrail(dir: string, env: Record<string, string>): Promise<string> {
  const bot = await startBotProcess({ dir, env: { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN, LOG_LEVEL: 'warn', ...env } });
  try {
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const n of [1, 2]) expect((await postWebhook(bot.url, firing(n), auth)).status).toBe(200);
    expect((await postWebhook(bot.url, resolved(1), auth)).status).toBe(200);
    // The leader seals within a few seconds of the resolution and posts the seal in the thread.
    const sealed = await pollUntil(
      async () => /Audit sealed: \d+ records, head [0-9a-f]{12}, seal [0-9a-f]{12}/.exec(textOf(await (await fetch(`${bot.url}/console/incidents/1`)).text()))?.[0],
      20_000,
      'the seal in the thread of incident 1',
    );
    bot.kill('SIGTERM');
    expect((await bot.waitForExit()).code).toBe(0);
    return sealed;
  } finally {
    await bot.dispose();
  }
}

describe('audit:verify with sealed chains, on SQLite', () => {
  let template: string;
  let copies = 0;
  let sealMessage: string;

  beforeAll(async () => {
    template = await makeBotDir();
    sealMessage = await recordSealedTrail(template, {});
  }, 60_000);
  afterAll(async () => {
    await fs.rm(template, { recursive: true, force: true });
  });

  /** A copy of the bot's folder (database, key and seal files), to tamper with. */
  async function fresh(): Promise<string> {
    const dir = `${template}-case-${++copies}`;
    await fs.cp(template, dir, { recursive: true });
    return path.join(dir, 'bot.db');
  }

  const sqlOn = (file: string): Sql => {
    const db = () => new Database(file, { fileMustExist: true });
    const named = (sql: string) => sql.replace(/\$\d+/g, '?');
    const use = <T>(work: (d: Database.Database) => T): T => {
      const d = db();
      try {
        return work(d);
      } finally {
        d.close();
      }
    };
    return {
      all: (sql) => Promise.resolve(use((d) => d.prepare(sql).all() as RawAudit[])),
      run: (sql, params = []) => Promise.resolve(void use((d) => d.prepare(named(sql)).run(...params))),
      lowerCounter: (value) => Promise.resolve(void use((d) => d.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'audit_events'`).run(value))),
    };
  };

  it('keeps the key beside the database, readable by its owner only, and passes an untampered trail', async () => {
    const stat = await fs.stat(path.join(template, 'bot.db.audit-key'));
    expect(stat.mode & 0o777).toBe(0o600);
    const seals = (await fs.readFile(path.join(template, 'bot.db.audit-seals'), 'utf8')).trim().split('\n');
    expect(seals.length).toBeGreaterThanOrEqual(2);
    expect(sealMessage).toMatch(/^Audit sealed: \d+ records/);
    const r = await verify(['--db', await fresh()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^seals: \d+ seal lines in 1 file, 2 chains sealed, no record after its last seal\naudit verified: \d+ events in 2 chains, 0 problems\n$/);
    expect(r.code).toBe(0);
  });

  it.each(TAMPERING)('exits 1 after %s', async (_what, tamper, expected) => {
    const db = await fresh();
    await tamper(sqlOn(db));
    const r = await verify(['--db', db]);
    expect(r.stdout).toMatch(expected);
    expect(r.code).toBe(1);
  });
});

const postgres = await requireService('PostgreSQL at 127.0.0.1:5432', probePostgres);

postgres.describe('audit:verify with sealed chains, on PostgreSQL', () => {
  const server = postgres.value;
  let template: TestDatabase;
  let dir: string;
  const databases: TestDatabase[] = [];
  const files = () => ({ AUDIT_KEY_FILE: path.join(dir, 'audit-key'), AUDIT_SEAL_FILE: path.join(dir, 'audit-seals') });

  beforeAll(async () => {
    template = await createTestDatabase(server, 'seals_template');
    dir = await makeBotDir();
    await recordSealedTrail(dir, { DATABASE_URL: template.url, ...files() });
  }, 60_000);
  afterAll(async () => {
    for (const d of databases) await d.drop();
    await template?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  /** A copy of the bot's database (CREATE DATABASE … TEMPLATE), to tamper with. */
  async function fresh(): Promise<TestDatabase> {
    const copy = await createTestDatabase(server, 'seals_case', `TEMPLATE ${template.name}`);
    databases.push(copy);
    return copy;
  }

  const sqlOn = (db: TestDatabase): Sql => ({
    all: (sql) => db.query<RawAudit & Record<string, unknown>>(sql).then((rows) => rows.map((r) => ({ ...r, seq: Number(r.seq), incident_id: r.incident_id === null ? null : Number(r.incident_id) }))),
    run: async (sql, params = []) => void (await db.query(sql, params)),
    lowerCounter: async (value) => void (await db.query(`SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), $1, $2)`, [Math.max(value, 1), value > 0])),
  });

  it('reads DATABASE_URL=postgres://… and passes an untampered trail', async () => {
    const db = await fresh();
    const r = await verify([], { DATABASE_URL: db.url, ...files() });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^seals: \d+ seal lines in 1 file, 2 chains sealed, no record after its last seal\naudit verified: \d+ events in 2 chains, 0 problems\n$/);
    expect(r.code).toBe(0);
  });

  it.each(TAMPERING)('exits 1 after %s', async (_what, tamper, expected) => {
    const db = await fresh();
    await tamper(sqlOn(db));
    const r = await verify([], { DATABASE_URL: db.url, ...files() });
    expect(r.stdout).toMatch(expected);
    expect(r.code).toBe(1);
  });
});
