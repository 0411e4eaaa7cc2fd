/**
 * The operator commands `audit:verify` and `audit:export`, run as processes the way npm runs them
 * (`node --import tsx src/cli/…`), on a real SQLite store filled by the bot's own code
 * (recordNotification, appendAudit) and then tampered with through a second connection.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertmanagerNotification } from '../../src/core/alertmanager-payload.js';
import { appendAudit, auditHash } from '../../src/core/audit.js';
import type { NewAuditEvent } from '../../src/core/domain.js';
import { recordNotification } from '../../src/core/notifications.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { loadFixture } from '../support/fixtures.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** A configured secret the export must redact; it does not look like a token by itself. */
const SECRET = 'hunter2-webhook-value-0042';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command exactly as the npm scripts do, with a minimal environment. */
function runCli(command: 'audit-verify' | 'audit-export', args: string[], env: Record<string, string> = {}): Promise<Run> {
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '', ...env };
  if (process.env.TMPDIR) childEnv.TMPDIR = process.env.TMPDIR;
  if (process.env.HOME) childEnv.HOME = process.env.HOME;
  const child = spawn(process.execPath, ['--import', 'tsx', `src/cli/${command}.ts`, ...args], { cwd: REPO_ROOT, env: childEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const verify = (db: string, env?: Record<string, string>) => runCli('audit-verify', ['--db', db], env);
const problemLines = (r: Run) => r.stdout.split('\n').filter((l) => l.startsWith('BROKEN'));

/** Event times: one minute apart, so --since can cut between them. */
const at = (i: number) => new Date(Date.UTC(2026, 10, 22, 1, i)).toISOString();

function firing(n: number): AlertmanagerNotification {
  const base = loadFixture<AlertmanagerNotification>('firing-single.json');
  if (n === 1) return base;
  const alertname = `GitCortexDown${n}`;
  const alert = base.alerts[0]!;
  return {
    ...base,
    groupKey: `{}:{alertname="${alertname}", service="gitcortex"}`,
    groupLabels: { ...base.groupLabels, alertname },
    commonLabels: { ...base.commonLabels, alertname },
    alerts: [{ ...alert, fingerprint: `${alert.fingerprint}${n}`, labels: { ...alert.labels, alertname } }],
  };
}

/**
 * The seeded trail, 12 events in 4 chains (incidents 1–3 and the no-incident chain), interleaved:
 *   seq 1 #1 alert.received   seq 5 #2 note     seq 9  none refused
 *   seq 2 #2 alert.received   seq 6 #3 received seq 10 #2 note (last of #2)
 *   seq 3 none refused        seq 7 #1 note     seq 11 #3 note
 *   seq 4 #1 note             seq 8 #1 resolved seq 12 #3 note with the secret (last of all)
 */
async function seed(file: string): Promise<void> {
  const store = new SqliteStore(file);
  let i = 0;
  const notify = (n: AlertmanagerNotification) => store.transaction((tx) => recordNotification(tx, n, at(i++), []));
  const note = (incidentId: number | null, text: string, data: Record<string, unknown> = {}) => {
    const event: NewAuditEvent = { at: at(i++), incidentId, actor: incidentId === null ? 'slack:U0STRANGER' : 'slack:U0ALICE', kind: incidentId === null ? 'press.refused' : 'note', text, data };
    return store.transaction((tx) => appendAudit(tx, event));
  };
  try {
    await notify(firing(1));
    await notify(firing(2));
    await note(null, 'Refused a press for an unknown incident.', { actionId: 'x' });
    await note(1, 'Looking at it.');
    await note(2, 'Disk full on gitcortex-2.', { df: '100%' });
    await notify(firing(3));
    await note(1, 'Restarted by hand.', { by: 'alice' });
    await notify(loadFixture<AlertmanagerNotification>('resolved-single.json'));
    await note(null, 'Refused another press.', {});
    await note(2, 'Freed 2 GiB.');
    await note(3, 'Checking the backups.');
    await note(3, `Step output: curl -H 'x-token: ${SECRET}' failed`, { output: `header ${SECRET}`, nested: { list: [SECRET] } });
  } finally {
    await store.close();
  }
}

let root: string;
let template: string;
let copies = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'audit-cli-'));
  template = path.join(root, 'template', 'bot.db');
  await seed(template);
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** A fresh copy of the seeded database, in a folder of its own. */
async function freshDb(): Promise<string> {
  const dir = path.join(root, `case-${++copies}`);
  await fs.mkdir(dir);
  const file = path.join(dir, 'bot.db');
  await fs.copyFile(template, file);
  return file;
}

/** Raw SQL through a second connection, as someone with write access to the file could do. */
function tamper<T>(file: string, work: (db: Database.Database) => T): T {
  const db = new Database(file, { fileMustExist: true });
  try {
    return db.transaction(() => work(db))();
  } finally {
    db.close();
  }
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

const rows = (file: string) => tamper(file, (db) => db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as RawAudit[]);

describe('the seeded store', () => {
  it('has the layout the cases below rely on', () => {
    const layout = rows(template).map((r) => [r.seq, r.incident_id, r.kind]);
    expect(layout).toEqual([
      [1, 1, 'alert.received'],
      [2, 2, 'alert.received'],
      [3, null, 'press.refused'],
      [4, 1, 'note'],
      [5, 2, 'note'],
      [6, 3, 'alert.received'],
      [7, 1, 'note'],
      [8, 1, 'incident.resolved'],
      [9, null, 'press.refused'],
      [10, 2, 'note'],
      [11, 3, 'note'],
      [12, 3, 'note'],
    ]);
    expect(existsSync(`${template}-wal`)).toBe(false);
  });
});

describe('audit:verify', () => {
  it('passes a whole store: exit 0 and the counts', async () => {
    const db = await freshDb();
    const r = await verify(db);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('audit verified: 12 events in 4 chains, 0 problems\n');
    expect(r.code).toBe(0);
  });

  it('reads DATABASE_URL when no --db is given, and never writes the file', async () => {
    const db = await freshDb();
    const before = await fs.readFile(db);
    const r = await runCli('audit-verify', [], { DATABASE_URL: `sqlite:${db}` });
    expect(r.stdout).toBe('audit verified: 12 events in 4 chains, 0 problems\n');
    expect(r.code).toBe(0);
    expect((await fs.readFile(db)).equals(before)).toBe(true);
  });

  it('passes an empty store', async () => {
    const dir = path.join(root, 'empty');
    const file = path.join(dir, 'bot.db');
    await new SqliteStore(file).close();
    const r = await verify(file);
    expect(r.stdout).toBe('audit verified: 0 events in 0 chains, 0 problems\n');
    expect(r.code).toBe(0);
  });

  it.each([
    ['text', `UPDATE audit_events SET text = 'Nothing happened.' WHERE seq = 5`],
    ['data', `UPDATE audit_events SET data = '{"df":"12%"}' WHERE seq = 5`],
    ['actor', `UPDATE audit_events SET actor = 'slack:U0MALLORY' WHERE seq = 5`],
    ['kind', `UPDATE audit_events SET kind = 'other' WHERE seq = 5`],
    ['at', `UPDATE audit_events SET at = '2026-11-22T00:00:00.000Z' WHERE seq = 5`],
  ])('names the record whose %s was edited', async (_field, sql) => {
    const db = await freshDb();
    tamper(db, (d) => d.exec(sql));
    const r = await verify(db);
    expect(problemLines(r)).toEqual(['BROKEN incident 2 at seq 5: hash mismatch (record edited)']);
    expect(r.stdout).toContain('audit BROKEN: 1 problem in 12 events in 4 chains (incident 2)');
    expect(r.code).toBe(1);
  });

  it('names an edited record of the no-incident chain, and one whose data is no longer JSON', async () => {
    const db = await freshDb();
    tamper(db, (d) => {
      d.exec(`UPDATE audit_events SET text = 'Accepted a press.' WHERE seq = 9`);
      d.exec(`UPDATE audit_events SET data = '{broken' WHERE seq = 11`);
    });
    const r = await verify(db);
    expect(problemLines(r)).toEqual([
      'BROKEN no-incident chain at seq 9: hash mismatch (record edited)',
      'BROKEN incident 3 at seq 11: data is not valid JSON (record edited)',
    ]);
    expect(r.code).toBe(1);
  });

  it('notices an edit that re-computed the record hash: the next record no longer links', async () => {
    const db = await freshDb();
    tamper(db, (d) => {
      const row = d.prepare('SELECT * FROM audit_events WHERE seq = 4').get() as RawAudit;
      const event = { at: row.at, incidentId: row.incident_id, actor: row.actor, kind: row.kind, text: 'Not looking.', data: JSON.parse(row.data) as Record<string, unknown> };
      d.prepare('UPDATE audit_events SET text = ?, hash = ? WHERE seq = 4').run(event.text, auditHash(row.prev_hash, event));
    });
    const r = await verify(db);
    expect(problemLines(r)).toEqual([expect.stringMatching(/^BROKEN incident 1 at seq 7: prevHash \w+… matches no record \(a record before it was deleted, or edited and re-hashed\)$/)]);
    expect(r.code).toBe(1);
  });

  it('names a record deleted in the middle: the seq gap and the next record of its chain', async () => {
    const db = await freshDb();
    tamper(db, (d) => d.exec('DELETE FROM audit_events WHERE seq = 4'));
    const r = await verify(db);
    expect(problemLines(r)).toEqual([
      'BROKEN seq 4 missing: 1 record deleted',
      expect.stringMatching(/^BROKEN incident 1 at seq 7: prevHash \w+… matches no record/),
    ]);
    expect(r.stdout).toContain('audit BROKEN: 2 problems in 11 events in 4 chains (seq numbering, incident 1)');
    expect(r.code).toBe(1);
  });

  it("names the deleted last record of a chain, which no hash link reveals, by the seq gap", async () => {
    const db = await freshDb();
    // seq 10 ends incident 2's chain; later events (11, 12) exist, so its deletion leaves a gap.
    tamper(db, (d) => d.exec('DELETE FROM audit_events WHERE seq = 10'));
    const r = await verify(db);
    expect(problemLines(r)).toEqual(['BROKEN seq 10 missing: 1 record deleted']);
    expect(r.code).toBe(1);
  });

  it("names records deleted from the end of the table, by SQLite's sequence counter", async () => {
    const db = await freshDb();
    tamper(db, (d) => d.exec('DELETE FROM audit_events WHERE seq >= 11'));
    const r = await verify(db);
    expect(problemLines(r)).toEqual(["BROKEN seq 11..12 missing: 2 records deleted from the end (SQLite's sequence counter is at 12)"]);
    expect(r.stdout).toContain('audit BROKEN: 1 problem in 10 events in 4 chains (seq numbering)');
    expect(r.code).toBe(1);
  });

  it('cannot see a truncation when the sequence counter was lowered as well (documented limit)', async () => {
    const db = await freshDb();
    tamper(db, (d) => {
      d.exec('DELETE FROM audit_events WHERE seq = 12');
      d.exec(`UPDATE sqlite_sequence SET seq = 11 WHERE name = 'audit_events'`);
    });
    const r = await verify(db);
    expect(r.stdout).toBe('audit verified: 11 events in 4 chains, 0 problems\n');
    expect(r.code).toBe(0);
  });

  it('names the successor of a forged record inserted with a correct hash and seqs renumbered to make room', async () => {
    const db = await freshDb();
    tamper(db, (d) => {
      const predecessor = d.prepare('SELECT * FROM audit_events WHERE seq = 4').get() as RawAudit;
      const forged: NewAuditEvent = { at: predecessor.at, incidentId: 1, actor: 'slack:U0ALICE', kind: 'note', text: 'Bob approved the restart.', data: {} };
      d.exec('UPDATE audit_events SET seq = -seq - 1 WHERE seq > 4');
      d.exec('UPDATE audit_events SET seq = -seq WHERE seq < 0');
      d.prepare('INSERT INTO audit_events (seq, at, incident_id, actor, kind, text, data, prev_hash, hash) VALUES (5, ?, ?, ?, ?, ?, ?, ?, ?)').run(
        forged.at,
        forged.incidentId,
        forged.actor,
        forged.kind,
        forged.text,
        JSON.stringify(forged.data),
        predecessor.hash,
        auditHash(predecessor.hash, forged),
      );
      // A careful forger keeps SQLite's counter in step with the renumbered table.
      d.exec(`UPDATE sqlite_sequence SET seq = 13 WHERE name = 'audit_events'`);
    });
    const r = await verify(db);
    // The forged record (seq 5) is self-consistent and links to seq 4; the old seq 7, now 8, still links to seq 4.
    expect(problemLines(r)).toEqual([
      'BROKEN incident 1 at seq 8: does not link to the previous record, seq 5; it links to seq 4 (record inserted at seq 5, or records reordered)',
    ]);
    expect(r.stdout).toContain('audit BROKEN: 1 problem in 13 events in 4 chains (incident 1)');
    expect(r.code).toBe(1);
  });

  it('also notices renumbered seqs above the sequence counter', async () => {
    const db = await freshDb();
    tamper(db, (d) => {
      d.exec('UPDATE audit_events SET seq = -seq - 1 WHERE seq > 10');
      d.exec('UPDATE audit_events SET seq = -seq WHERE seq < 0');
    });
    const r = await verify(db);
    expect(problemLines(r)).toEqual(['BROKEN seq 11 missing: 1 record deleted', "BROKEN seq 13: above SQLite's sequence counter 12 (records renumbered, or the counter edited)"]);
    expect(r.code).toBe(1);
  });

  it('reports a missing database file with exit 2 and creates nothing', async () => {
    const dir = path.join(root, 'nothing-here');
    const file = path.join(dir, 'bot.db');
    for (const r of [await verify(file), await runCli('audit-verify', [], { DATABASE_URL: `sqlite:${file}` })]) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`audit:verify: database file not found: ${file} (set DATABASE_URL=sqlite:<path> or pass --db <path>)\n`);
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses a file that is not the bot database, and bad arguments, with exit 2', async () => {
    const empty = path.join(root, 'empty-file.db');
    await fs.writeFile(empty, '');
    const notBot = await verify(empty);
    expect(notBot.code).toBe(2);
    expect(notBot.stderr).toContain('has no audit_events table');

    const unknown = await runCli('audit-verify', ['--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--frobnicate'");
    expect(unknown.stderr).toContain('Usage: npm run audit:verify');

    const help = await runCli('audit-verify', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: npm run audit:verify -- [--db <path>]');
  });
});

interface ExportLine {
  seq: number;
  at: string;
  incidentId: number | null;
  actor: string;
  kind: string;
  text: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
  redacted: boolean;
}

const parseLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ExportLine);

describe('audit:export', () => {
  const exportCli = (args: string[], env: Record<string, string> = {}) => runCli('audit-export', args, { ALERTMANAGER_WEBHOOK_TOKEN: SECRET, ...env });

  it('writes every event as JSON Lines in seq order, with the stored fields and hashes', async () => {
    const db = await freshDb();
    const r = await exportCli(['--db', db]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('audit:export: 12 events written to standard output (1 redacted)\n');
    const lines = parseLines(r.stdout);
    expect(lines).toHaveLength(12);
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const stored = rows(db);
    for (const [index, line] of lines.entries()) {
      const row = stored[index]!;
      expect(Object.keys(line)).toEqual(['seq', 'at', 'incidentId', 'actor', 'kind', 'text', 'data', 'prevHash', 'hash', 'redacted']);
      expect({ ...line, redacted: undefined }).toEqual({
        seq: row.seq,
        at: row.at,
        incidentId: row.incident_id,
        actor: row.actor,
        kind: row.kind,
        text: line.redacted ? line.text : row.text,
        data: line.redacted ? line.data : (JSON.parse(row.data) as unknown),
        prevHash: row.prev_hash,
        hash: row.hash,
        redacted: undefined,
      });
      // Lines that were not redacted still hash to their stored hash.
      if (!line.redacted) expect(auditHash(line.prevHash, line)).toBe(line.hash);
    }
  });

  it('redacts a configured secret from text and data, flags the line, and leaves the store as it was', async () => {
    const db = await freshDb();
    const r = await exportCli(['--db', db]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(SECRET);
    const lines = parseLines(r.stdout);
    expect(lines.filter((l) => l.redacted).map((l) => l.seq)).toEqual([12]);
    const line = lines.at(-1)!;
    expect(line.text).toBe(`Step output: curl -H 'x-token: [REDACTED]' failed`);
    expect(line.data).toEqual({ output: 'header [REDACTED]', nested: { list: ['[REDACTED]'] } });
    // The exported hash is the stored one, which covers the unredacted content.
    expect(line.hash).toBe(rows(db).at(-1)!.hash);
    expect(auditHash(line.prevHash, line)).not.toBe(line.hash);
    expect(rows(db).at(-1)!.text).toContain(SECRET);
    expect((await verify(db)).code).toBe(0);
  });

  it('filters by --incident (an id, or none) and by --since', async () => {
    const db = await freshDb();
    const one = await exportCli(['--db', db, '--incident', '1']);
    expect(one.code).toBe(0);
    expect(parseLines(one.stdout).map((l) => [l.seq, l.incidentId])).toEqual([
      [1, 1],
      [4, 1],
      [7, 1],
      [8, 1],
    ]);
    const none = await exportCli(['--db', db, '--incident', 'none']);
    expect(parseLines(none.stdout).map((l) => [l.seq, l.incidentId])).toEqual([
      [3, null],
      [9, null],
    ]);
    const since = await exportCli(['--db', db, '--since', at(6)]);
    expect(parseLines(since.stdout).map((l) => l.seq)).toEqual([7, 8, 9, 10, 11, 12]);
    const both = await exportCli(['--db', db, '--incident', '3', '--since', '2026-11-22T01:06:00+00:00']);
    expect(parseLines(both.stdout).map((l) => l.seq)).toEqual([11, 12]);
  });

  it('writes --out through a temp file renamed into place, replacing the old file only when complete', async () => {
    const db = await freshDb();
    const dir = path.dirname(db);
    const out = path.join(dir, 'export.jsonl');
    await fs.writeFile(out, 'old export\n');

    // A failure (here: no such database) leaves the old file and no temp file behind.
    const failed = await exportCli(['--db', path.join(dir, 'missing.db'), '--out', out]);
    expect(failed.code).toBe(2);
    expect(await fs.readFile(out, 'utf8')).toBe('old export\n');

    const r = await exportCli(['--db', db, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`audit:export: 12 events written to ${out} (1 redacted)\n`);
    const viaStdout = await exportCli(['--db', db]);
    expect(await fs.readFile(out, 'utf8')).toBe(viaStdout.stdout);
    // No temp file is left (a read-only reader of a WAL database may leave SQLite's -wal/-shm, as the bot does).
    expect((await fs.readdir(dir)).filter((name) => !/^bot\.db-(wal|shm)$/.test(name)).sort()).toEqual(['bot.db', 'export.jsonl']);
  });

  it('fails with exit 2 and a clear message: missing database, unwritable --out, bad arguments', async () => {
    const db = await freshDb();
    const dir = path.join(root, 'export-missing');
    const missing = await exportCli(['--db', path.join(dir, 'bot.db')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`audit:export: database file not found: ${path.join(dir, 'bot.db')} (set DATABASE_URL=sqlite:<path> or pass --db <path>)\n`);
    expect(existsSync(dir)).toBe(false);

    const noFolder = await exportCli(['--db', db, '--out', path.join(dir, 'out.jsonl')]);
    expect(noFolder.code).toBe(2);
    expect(noFolder.stderr).toMatch(/^audit:export: cannot write .*out\.jsonl: ENOENT/);
    expect(existsSync(dir)).toBe(false);

    for (const [args, message] of [
      [['--incident', 'abc'], '--incident must be an incident id'],
      [['--incident', '0'], '--incident must be an incident id'],
      [['--since', 'yesterday'], '--since must be an ISO 8601 time'],
      [['--since'], "Option '--since <value>' argument missing"],
      [['--out', db], '--out must not be the database itself'],
    ] as const) {
      const r = await exportCli(['--db', db, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe('');
    }

    const badConfig = await exportCli(['--db', db], { PORT: 'not-a-port' });
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toContain('Invalid configuration');
  });
});
