import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/domain.js';
import { startFakeSlack, type FakeSlack, type StoredMessage } from '../fakes/slack-api.js';
import { loadFixture } from '../support/fixtures.js';
import { createItemsDb, itemCount } from '../support/items-db.js';
import { ALERT_CHANNEL, buttonIds, stepButtonIds, startTestBot, type TestBot } from '../support/bot-harness.js';

/**
 * A changing step with a pre-change checkpoint, then "Roll back" to that snapshot, then a restore
 * chosen from a picker of recent backups: real SQLite files, real backup and restore actions, the
 * whole flow through signed Slack presses and approvals.
 */
const RUNBOOK = `
name: appdb
match: { service: appdb }
params:
  db: { default: '{{DIR}}/app.db', pattern: '/[A-Za-z0-9/._-]+' }
  backups: { default: '{{DIR}}/backups', pattern: '/[A-Za-z0-9/._-]+' }
  backup: { chosen: true, pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: backup
    title: Back up database
    action: backup
    with: { engine: sqlite, path: '{{db}}', dir: '{{backups}}', prefix: appdb }
  - id: migrate
    title: Run migration
    action: exec
    run: [sqlite3, '{{db}}', 'DELETE FROM items']
    changes: true
    checkpoint: { step: backup, rollback: restore, param: backup }
  - id: restore
    title: Restore database
    action: restore
    with: { engine: sqlite, path: '{{db}}', from: '{{backup}}' }
    changes: true
    pick: { param: backup, dir: '{{backups}}', prefix: appdb }
`;

const ALICE = { userId: 'U0ALICE', userName: 'alice' };
const BOB = { userId: 'U0BOB', userName: 'bob' };

describe('pre-change checkpoint, Roll back, and restore from a picker', () => {
  let slack: FakeSlack;
  let t: TestBot;
  let card: StoredMessage;
  let db: string;

  const rows = () => itemCount(db);
  const replies = () => slack.threadReplies(ALERT_CHANNEL, card.ts);
  const waitForReply = (pattern: RegExp, what: string, after = 0) =>
    slack.waitFor(() => replies().slice(after).find((m) => pattern.test(m.text)), 30_000, what);
  const approveLatestRequest = async (what: string) => {
    // The request still waiting: an earlier run's message also says "asks to run", but its buttons are gone.
    const waiting = () => replies().filter((m) => /asks to run/.test(m.text) && buttonIds(m.blocks).some((id) => id.startsWith('approve:')));
    const request = await slack.waitFor(() => waiting().at(-1), 30_000, what);
    const approve = buttonIds(request.blocks).find((id) => id.startsWith('approve:'))!;
    const res = await t.press({ ...BOB, actionId: approve, messageTs: request.ts, threadTs: card.ts });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    slack = await startFakeSlack({ rateLimit: false });
    t = await startTestBot({ slack, runbooks: { 'appdb.yaml': RUNBOOK } });
    db = path.join(t.dir, 'app.db');
    fs.mkdirSync(path.join(t.dir, 'backups'));
    createItemsDb(db, ['a', 'b', 'c'], { wal: true });
    const n = loadFixture<Record<string, unknown>>('firing-single.json');
    const labels = { alertname: 'AppDbSlow', service: 'appdb', severity: 'warning' };
    const alerts = (n.alerts as Array<Record<string, unknown>>).map((a) => ({ ...a, labels }));
    const res = await t.postWebhook({ ...n, groupKey: '{}:{service="appdb"}', groupLabels: { service: 'appdb' }, commonLabels: labels, alerts });
    expect(res.status).toBe(200);
    card = await slack.waitFor(() => slack.topLevel(ALERT_CHANNEL)[0], 20_000, 'the card');
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await slack?.close();
  });

  it('offers the backup, the changing step and the picker-driven restore', () => {
    expect(stepButtonIds(card.blocks)).toEqual(['run-step:1:appdb:backup', 'run-step:1:appdb:migrate', 'run-step:1:appdb:restore']);
  });

  it('takes the checkpoint before the approved change, and offers Roll back to it', async () => {
    await t.press({ ...ALICE, actionId: 'run-step:1:appdb:migrate', messageTs: card.ts });
    await approveLatestRequest('the migration approval request');
    const checkpoint = await waitForReply(/Pre-change checkpoint for \*Run migration\* \(Back up database\) taken/, 'the checkpoint message');
    expect(checkpoint.text).toMatch(/📦 backup `[^`]+\/backups\/appdb-\d{8}T\d{6}Z\.db\.gz`/);
    const finished = await waitForReply(/Run migration\* succeeded/, 'the migration result');
    expect(rows()).toBe(0);
    expect(buttonIds(finished.blocks)).toEqual([`rollback:1`]);
    // One message for the run: the checkpoint is a line of it, before the result.
    expect(checkpoint.ts).toBe(finished.ts);
    expect(finished.text.indexOf('Pre-change checkpoint')).toBeLessThan(finished.text.indexOf('Run migration* succeeded'));
  });

  it('rolls back to the checkpoint through the same approval flow, with a safety backup first', async () => {
    const finished = replies().find((m) => /Run migration\* succeeded/.test(m.text))!;
    await t.press({ ...ALICE, actionId: 'rollback:1', messageTs: finished.ts, threadTs: card.ts });
    await approveLatestRequest('the rollback approval request');
    const restored = await waitForReply(/Restore database\* succeeded/, 'the restore result');
    // The result's files and output are in the run's message, or right below it when they would not fit.
    const details = restored.text.includes('(details below)') ? (await waitForReply(/^↳ \*Restore database\*/, 'the restore details')).text : restored.text;
    expect(details).toMatch(/safety-backup/);
    expect(rows()).toBe(3);
  });

  it('restores a backup chosen from a picker of the most recent ones', async () => {
    // Make the state differ from every backup, so the restore has something to undo.
    const conn = new Database(db);
    conn.exec("INSERT INTO items (name) VALUES ('d')");
    conn.close();
    const before = replies().length;
    await t.press({ ...ALICE, actionId: 'run-step:1:appdb:restore', messageTs: card.ts });
    const picker = await waitForReply(/choose one of the \d+ most recent backups/, 'the picker', before);
    const options = buttonIds(picker.blocks);
    expect(options.length).toBeGreaterThanOrEqual(1);
    expect(options.every((id) => id.startsWith('pick:'))).toBe(true);
    // Only real backups are offered (not the restore's safety copies), each with its checksum checked.
    expect(JSON.stringify(picker.blocks)).toContain('sha256 ok');
    expect(JSON.stringify(picker.blocks)).not.toContain('safety');
    await t.press({ ...ALICE, actionId: options[options.length - 1]!, messageTs: picker.ts, threadTs: card.ts });
    await approveLatestRequest('the picked restore approval request');
    await waitForReply(/Restore database\* succeeded/, 'the picked restore result', before);
    expect(rows()).toBe(3);
  });

  it('audits every step of it', async () => {
    const { events } = (await (await fetch(`${t.url}/incidents/1/audit`)).json()) as { events: AuditEvent[] };
    const kinds = events.map((e) => e.kind);
    expect(kinds).toContain('step.checkpoint');
    expect(kinds).toContain('step.pick');
    expect(kinds.filter((k) => k === 'step.finished')).toHaveLength(3);
  });
});
