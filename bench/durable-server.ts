/**
 * A yardstick between the bare server and the bot: the least a server must do to acknowledge an
 * Alertmanager notification the way the bot does, durably. Per request: the bearer token checked
 * by digest, the body parsed and validated with the bot's own schema, one row appended to an inbox
 * table shaped like the bot's; the rows read in one event-loop turn share one commit, and the
 * answers wait for an fdatasync of the WAL that began after it (SQLite's synchronous = NORMAL plus
 * a sync: the bot's durability). No routing, no per-group order, no recording, no metrics.
 *
 * It tells how much of the bare server's rate is left once durability alone is paid for on this
 * machine, so the bot's share of the ceiling can be read against what any durable server gets.
 */
import fs from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import Database from 'better-sqlite3';
import { notificationSchema } from '../src/core/alertmanager-payload.js';
import { tokenMatches } from '../src/handlers/alertmanager-webhook.js';
import { sendJson } from '../src/http/respond.js';

const file = process.env.DB_FILE;
const token = process.env.WEBHOOK_TOKEN;
if (!file || !token) throw new Error('DB_FILE and WEBHOOK_TOKEN are required');

const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
// Checkpoints as SQLite makes them by default (inside a commit, every 1,000 WAL pages): none at
// all, or ten times rarer, did not make it faster (bench/README.md, item 12).

// The bot's inbox (migration 10), with its index of waiting rows by group.
db.exec(`
  CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY, group_key TEXT NOT NULL, received_at TEXT NOT NULL, body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, failed_at TEXT
  );
  CREATE INDEX IF NOT EXISTS inbox_waiting_by_group ON inbox(group_key, seq) WHERE failed_at IS NULL;
`);
const append = db.prepare<[string, string, string], { seq: number }>('INSERT INTO inbox (group_key, received_at, body) VALUES (?, ?, ?) RETURNING seq');
const begin = db.prepare('BEGIN IMMEDIATE');
const commit = db.prepare('COMMIT');
let walFd: number | undefined;

interface Pending {
  groupKey: string;
  body: string;
  res: ServerResponse;
}
let pending: Pending[] = [];

/** Commits what this turn read, then answers it once a sync begun after the commit is done. */
function commitTurn(): void {
  const batch = pending;
  pending = [];
  const now = new Date().toISOString();
  begin.run();
  const seqs = batch.map((p) => append.get(p.groupKey, now, p.body)!.seq);
  commit.run();
  walFd ??= fs.openSync(`${file}-wal`, 'r');
  fs.fdatasync(walFd, (error) => {
    batch.forEach((p, i) => (error ? sendJson(p.res, 500, { error: 'sync_failed' }) : sendJson(p.res, 202, { status: 'queued', seq: seqs[i] })));
  });
}

const server = createServer((req, res) => {
  const authorized = tokenMatches(req.headers.authorization, token);
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (!authorized) return sendJson(res, 401, { error: 'unauthorized' });
    const body = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return sendJson(res, 400, { error: 'invalid_json' });
    }
    const parsed = notificationSchema.safeParse(json);
    if (!parsed.success) return sendJson(res, 400, { error: 'invalid_payload' });
    pending.push({ groupKey: parsed.data.groupKey, body, res });
    if (pending.length === 1) setImmediate(commitTurn);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => {
  server.close(() => {
    db.close();
    process.exit(0);
  });
  server.closeAllConnections();
});
