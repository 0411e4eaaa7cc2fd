import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/domain.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { discordDriver, slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';
import { createItemsDb, itemCount, writeItemsBackup } from '../support/items-db.js';

/**
 * A backup typed in a command (`/runbook run appdb restore backup=<path>`) must be one the step's
 * picker would offer now: real files and symlinks, signed slash commands on both platforms, the
 * real restore action. What approvers are asked to approve names the exact file, and the file is
 * checked again when the restore runs.
 */
const RUNBOOK = `
name: appdb
match: { service: appdb }
params:
  db: { default: '{{DIR}}/live/app.db', pattern: '/[A-Za-z0-9/._-]+' }
  backups: { default: '{{DIR}}/backups', pattern: '/[A-Za-z0-9/._-]+' }
  backup: { chosen: true, pattern: '/[A-Za-z0-9/._-]+' }
  snapshot: { chosen: true, pattern: '/[A-Za-z0-9/._-]+' }
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
    checkpoint: { step: backup, rollback: undo, param: snapshot }
  - id: restore
    title: Restore database
    action: restore
    with: { engine: sqlite, path: '{{db}}', from: '{{backup}}' }
    changes: true
    pick: { param: backup, dir: '{{backups}}', prefix: appdb }
  - id: undo
    title: Roll back the migration
    description: only from the Roll back button of the migration
    action: restore
    with: { engine: sqlite, path: '{{db}}', from: '{{snapshot}}' }
    changes: true
`;

const drivers: Array<[string, () => Promise<ChatDriver>]> = [
  ['slack', slackDriver],
  ['discord', discordDriver],
];

describe.each(drivers)('chosen values in commands on %s', (_platform, makeDriver) => {
  let chat: ChatDriver;
  let t: TestBot;
  let card: ChatMessage;
  let id: number;
  let live: string;
  let backups: string;
  let outside: string;
  let good: string;
  let goodSha: string;

  const command = async (line: string) => {
    const answer = await chat.command('alice', 'runbook', line);
    expect(answer.status).toBe(200);
    return answer.reply.replaceAll('`', '');
  };
  const runs = () => t.bot.store.transaction((tx) => tx.listStepRuns(id));
  const rows = () => itemCount(live);
  const waitForReply = (pattern: RegExp, what: string, after = 0) => chat.waitFor(() => chat.replies(card).slice(after).find((m) => pattern.test(m.text)), 30_000, what);

  beforeAll(async () => {
    chat = await makeDriver();
    t = await startTestBot({ runbooks: { 'appdb.yaml': RUNBOOK }, env: chat.botEnv() });
    chat.attach(t.url);
    live = path.join(t.dir, 'live', 'app.db');
    backups = path.join(t.dir, 'backups');
    outside = path.join(t.dir, 'elsewhere');
    for (const dir of [path.dirname(live), backups, outside]) fs.mkdirSync(dir);
    createItemsDb(live, ['live']);
    good = path.join(backups, 'appdb-20240101T000000Z.db.gz');
    goodSha = writeItemsBackup(good, 3);
    writeItemsBackup(path.join(backups, 'appdb-20240102T000000Z.db.gz'), 4, 'missing');
    writeItemsBackup(path.join(backups, 'appdb-20240103T000000Z.db.gz'), 5, 'wrong');
    // A well-formed, checksummed backup that is not in the picker's directory, and a link to it inside.
    writeItemsBackup(path.join(outside, 'appdb-20240104T000000Z.db.gz'), 6);
    fs.symlinkSync(path.join(outside, 'appdb-20240104T000000Z.db.gz'), path.join(backups, 'appdb-20240105T000000Z.db.gz'));
    fs.copyFileSync(path.join(outside, 'appdb-20240104T000000Z.db.gz.sha256'), path.join(backups, 'appdb-20240105T000000Z.db.gz.sha256'));
    const posted = await t.postWebhook({
      version: '4',
      groupKey: '{}:{service="appdb"}',
      status: 'firing',
      receiver: 'chatops',
      groupLabels: { service: 'appdb' },
      commonLabels: { alertname: 'AppDbBroken', service: 'appdb', severity: 'critical' },
      commonAnnotations: {},
      externalURL: 'http://alertmanager.example:9093',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'AppDbBroken', service: 'appdb', severity: 'critical' },
          annotations: {},
          startsAt: new Date().toISOString(),
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: '',
          fingerprint: 'a1b2c3d4e5f60718',
        },
      ],
    });
    expect(posted.status).toBe(200);
    id = posted.json.incidentId as number;
    card = await chat.waitFor(() => chat.cards()[0], 15_000, 'the incident card');
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await chat?.close();
  });

  it('refuses a backup outside the picker directory, a ../ path and a symlink leading out, naming why', async () => {
    const elsewhere = path.join(outside, 'appdb-20240104T000000Z.db.gz');
    expect(await command(`run appdb restore backup=${elsewhere} --incident ${id}`)).toMatch(/not one the picker offers/);
    expect(await command(`run appdb restore backup=${backups}/../elsewhere/appdb-20240104T000000Z.db.gz --incident ${id}`)).toMatch(/not one the picker offers/);
    expect(await command(`run appdb restore backup=${path.join(backups, 'appdb-20240105T000000Z.db.gz')} --incident ${id}`)).toMatch(/not one the picker offers/);
    expect(await runs()).toEqual([]);
    // Each refusal is in the audit trail with its reason.
    const refused = ((await t.bot.engine.auditTrail(id)) ?? []).filter((e: AuditEvent) => e.kind === 'step.refused');
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(refused.every((e) => /not one the picker offers/.test(e.text))).toBe(true);
  });

  it('refuses a step reachable only from a Roll back button, even with a backup the picker would offer', async () => {
    expect(await command(`run appdb undo snapshot=${good} --incident ${id}`)).toMatch(/only from the "Roll back" button/);
    expect(await runs()).toEqual([]);
  });

  it('refuses a backup whose .sha256 sidecar is missing or does not match', async () => {
    expect(await command(`run appdb restore backup=${path.join(backups, 'appdb-20240102T000000Z.db.gz')} --incident ${id}`)).toMatch(/no \.sha256 sidecar/);
    expect(await command(`run appdb restore backup=${path.join(backups, 'appdb-20240103T000000Z.db.gz')} --incident ${id}`)).toMatch(/does not match its \.sha256 sidecar/);
    expect(await runs()).toEqual([]);
  });

  it('names the exact file in the approval request, on the card and in the audit record', async () => {
    const before = chat.replies(card).length;
    expect(await command(`run appdb restore backup=${good} --incident ${id}`)).toMatch(/needs 1 approval/);
    const request = await waitForReply(/asks to run Restore database/, 'the approval request', before);
    const size = fs.statSync(good).size;
    expect(request.text).toContain(good);
    expect(request.text).toContain(`sha256 ${goodSha}`);
    expect(request.text).toContain(`${size} bytes`);
    expect(request.text).toMatch(/modified \d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
    await chat.waitFor(() => (chat.card(card.id)?.text ?? '').includes(goodSha.slice(0, 16)), 15_000, 'the card naming the file');
    const requested = ((await t.bot.engine.auditTrail(id)) ?? []).find((e) => e.kind === 'step.requested');
    expect(requested?.data.files).toEqual([expect.objectContaining({ param: 'backup', path: good, sizeBytes: size, sha256: goodSha })]);
  });

  it('refuses at run time a backup swapped after the request, even with a sidecar that matches the new content', async () => {
    const run = (await runs()).find((r) => r.step === 'restore' && r.state === 'requested');
    expect(run).toBeDefined();
    writeItemsBackup(good, 9);
    const before = chat.replies(card).length;
    const request = chat.replies(card).find((m) => /asks to run Restore database/.test(m.text))!;
    const approve = request.buttonIds.find((b) => b.startsWith('approve:'))!;
    await chat.press('bob', approve, request, card);
    // The result is a line of the request's own message.
    expect(before).toBeGreaterThan(0);
    const finished = await chat.waitFor(() => chat.replies(card).find((m) => m.id === request.id && /Restore database\*? failed/.test(m.text)), 30_000, 'the refused restore');
    expect(finished.text).toMatch(/changed since it was requested/);
    expect(rows()).toBe(1);
  });

  it('restores a backup the picker offers, with the safety copy beside the live database', async () => {
    goodSha = writeItemsBackup(good, 3);
    const before = chat.replies(card).length;
    expect(await command(`run appdb restore backup=${good} --incident ${id}`)).toMatch(/needs 1 approval/);
    const request = await waitForReply(/asks to run Restore database/, 'the approval request', before);
    await chat.press('bob', request.buttonIds.find((b) => b.startsWith('approve:'))!, request, card);
    await waitForReply(/Restore database\* succeeded|Restore database succeeded/, 'the restore', before);
    expect(rows()).toBe(3);
    const safety = (dir: string) => fs.readdirSync(dir).filter((f) => /-safety-\d{8}T\d{6}Z\.db\.gz$/.test(f));
    expect(safety(path.dirname(live))).toHaveLength(1);
    expect(safety(backups)).toEqual([]);
  });
});

/** The same runbook with a restore that accepts backups without a sidecar, stated in the manifest. */
const UNVERIFIED = RUNBOOK.replace('name: appdb', 'name: appdb-unverified').replace(
  "with: { engine: sqlite, path: '{{db}}', from: '{{backup}}' }",
  "with: { engine: sqlite, path: '{{db}}', from: '{{backup}}', verify: false }",
);

describe('picker options, Roll back snapshots and verify: false on slack', () => {
  let chat: ChatDriver;
  let t: TestBot;
  let card: ChatMessage;
  let id: number;
  let backups: string;
  let outside: string;

  const replies = () => chat.replies(card);
  const waitForReply = (pattern: RegExp, what: string, after = 0) => chat.waitFor(() => replies().slice(after).find((m) => pattern.test(m.text)), 30_000, what);
  const runs = () => t.bot.store.transaction((tx) => tx.listStepRuns(id));
  /** Presses the step's button and returns the picker's message. */
  const openPicker = async (runbook: string) => {
    const before = replies().length;
    await chat.press('alice', `run-step:${id}:${runbook}:restore`, card, card);
    return waitForReply(/choose one of the \d+ most recent backups/, 'the picker', before);
  };

  beforeAll(async () => {
    chat = await slackDriver();
    t = await startTestBot({ runbooks: { 'appdb.yaml': RUNBOOK, 'unverified.yaml': UNVERIFIED }, env: chat.botEnv() });
    chat.attach(t.url);
    backups = path.join(t.dir, 'backups');
    outside = path.join(t.dir, 'elsewhere');
    for (const dir of [path.join(t.dir, 'live'), backups, outside]) fs.mkdirSync(dir);
    createItemsDb(path.join(t.dir, 'live', 'app.db'), ['live']);
    const posted = await t.postWebhook({
      version: '4',
      groupKey: '{}:{service="appdb"}',
      status: 'firing',
      receiver: 'chatops',
      groupLabels: { service: 'appdb' },
      commonLabels: { alertname: 'AppDbBroken', service: 'appdb', severity: 'critical' },
      commonAnnotations: {},
      externalURL: 'http://alertmanager.example:9093',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'AppDbBroken', service: 'appdb', severity: 'critical' },
          annotations: {},
          startsAt: new Date().toISOString(),
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: '',
          fingerprint: 'b1b2c3d4e5f60718',
        },
      ],
    });
    id = posted.json.incidentId as number;
    card = await chat.waitFor(() => chat.cards()[0], 15_000, 'the incident card');
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await chat?.close();
  });

  it('re-checks a picker option when pressed: a file swapped for a symlink leading out is refused', async () => {
    const offered = path.join(backups, 'appdb-20240201T000000Z.db.gz');
    writeItemsBackup(offered, 2);
    const picker = await openPicker('appdb');
    const option = picker.buttonIds.find((b) => b.startsWith('pick:'))!;
    writeItemsBackup(path.join(outside, 'secret.db.gz'), 7);
    fs.rmSync(offered);
    fs.symlinkSync(path.join(outside, 'secret.db.gz'), offered);
    await chat.press('alice', option, picker, card);
    await chat.waitFor(() => chat.privateTexts('alice').find((x) => /outside the picker's directory/.test(x)), 15_000, 'the refusal of the swapped option');
    expect(await runs()).toEqual([]);
    fs.rmSync(offered);
  });

  it('refuses a picker option without a sidecar, unless the runbook says verify: false', async () => {
    writeItemsBackup(path.join(backups, 'appdb-20240202T000000Z.db.gz'), 4, 'missing');
    const strict = await openPicker('appdb');
    await chat.press('alice', strict.buttonIds.find((b) => b.startsWith('pick:'))!, strict, card);
    await chat.waitFor(() => chat.privateTexts('alice').find((x) => /no \.sha256 sidecar/.test(x)), 15_000, 'the refusal of the unverified backup');
    expect(await runs()).toEqual([]);

    const lenient = await openPicker('appdb-unverified');
    const before = replies().length;
    await chat.press('alice', lenient.buttonIds.find((b) => b.startsWith('pick:'))!, lenient, card);
    const request = await waitForReply(/asks to run Restore database/, 'the approval request', before);
    await chat.press('bob', request.buttonIds.find((b) => b.startsWith('approve:'))!, request, card);
    const done = await waitForReply(/Restore database\* succeeded|Restore database succeeded/, 'the unverified restore', before);
    // The result's facts are in the run's message, or right below it when they would not fit.
    const details = done.text.includes('(details below)') ? (await waitForReply(/^↳ \*?Restore database/, 'the restore details', before)).text : done.text;
    expect(details).toMatch(/not checked: verify is false/);
  });

  it('refuses a Roll back whose snapshot was replaced after it was taken, even with a matching sidecar', async () => {
    const before = replies().length;
    await chat.press('alice', `run-step:${id}:appdb:migrate`, card, card);
    const request = await waitForReply(/asks to run Run migration/, 'the migration request', before);
    await chat.press('bob', request.buttonIds.find((b) => b.startsWith('approve:'))!, request, card);
    const finished = await waitForReply(/Run migration\* succeeded|Run migration succeeded/, 'the migration', before);
    const rollback = finished.buttonIds.find((b) => b.startsWith('rollback:'))!;
    const checkpoint = (await runs()).find((r) => r.step === 'migrate')?.result?.artefacts?.find((a) => a.kind === 'checkpoint');
    expect(checkpoint).toBeDefined();
    writeItemsBackup(checkpoint!.path, 8);
    await chat.press('alice', rollback, finished, card);
    await chat.waitFor(() => chat.privateTexts('alice').find((x) => /has changed since it was taken/.test(x)), 15_000, 'the refused Roll back');
    expect((await runs()).filter((r) => r.step === 'undo')).toEqual([]);
  });
});
