import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/domain.js';
import { startFakeSlack, type FakeSlack, type StoredMessage } from '../fakes/slack-api.js';
import { describeWithAlertmanager, startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { ALERT_CHANNEL, WEBHOOK_TOKEN, buttonsOf, messageText, startTestBot, type TestBot } from '../support/bot-harness.js';
import { REPO_ROOT } from '../support/bot-process.js';

/*
 * The manuals' own backups restored from chat: backups made with the manuals' commands (GitCortex's
 * backup.sh, sqlite3 .backup + gzip, with its latest.db.gz link; OpenTruss's tar czf of the
 * Memgraph volume), a real Alertmanager alert, the card in (fake) Slack, the shipped restore step's
 * picker, a choice, two approvals by others than the requester, the restore; then the restore
 * undone by picking its safety copy. The shipped runbooks are used as a single-host deployment
 * would: their paths set to this test's directory, and without their runOn, so the bot runs the
 * steps itself (the runners test runs the same runbook on runners).
 */

const SHIPPED = path.join(REPO_ROOT, 'manifests', 'runbooks');
const ALICE = { userId: 'U0ALICE', userName: 'alice' };
const BOB = { userId: 'U0BOB', userName: 'bob' };
const CAROL = { userId: 'U0CAROL', userName: 'carol' };
/** Each step goes through Slack, the bot and back on a shared machine: generous bounds. */
const STEP_TIMEOUT = 90_000;

/** A shipped runbook with its paths moved under the test's directory and its runOn dropped. */
function deployed(file: string, paths: Record<string, string>): string {
  let yaml = fs.readFileSync(path.join(SHIPPED, file), 'utf8');
  for (const [from, to] of Object.entries(paths)) yaml = yaml.replaceAll(from, to);
  const lines = yaml.split('\n');
  const runOn = lines.filter((l) => l.startsWith('runOn:'));
  expect(runOn, `${file} has one runbook-level runOn`).toHaveLength(1);
  return lines.filter((l) => !l.startsWith('runOn:')).join('\n');
}

const sqlite = async (db: string, sql: string) => (await execa('sqlite3', [db, sql])).stdout.trim();

/** One incident's thread in the fake Slack, and the presses a user makes in it. */
function thread(slack: FakeSlack, t: () => TestBot, card: () => StoredMessage) {
  const replies = () => slack.threadReplies(ALERT_CHANNEL, card().ts);
  const waitFor = (pattern: RegExp, what: string, after = 0, timeoutMs = 30_000) =>
    slack.waitFor(() => replies().slice(after).find((m) => pattern.test(messageText(m))), timeoutMs, what);
  const press = async (who: typeof ALICE, actionId: string, on: StoredMessage) => {
    const res = await t().press({ ...who, actionId, messageTs: on.ts, ...(on.ts !== card().ts ? { threadTs: card().ts } : {}) });
    expect(res.status).toBe(200);
  };
  /** The picker's options: each button's label and id, in the order shown. */
  const options = (picker: StoredMessage) =>
    buttonsOf(picker.blocks)
      .filter((b) => String(b.action_id).startsWith('pick:'))
      .map((b) => ({ label: String((b.text as { text: string }).text), id: String(b.action_id) }));
  /** Opens the step's picker from the card and returns its message. */
  const openPicker = async (incident: number, runbook: string, step: string) => {
    const before = replies().length;
    await press(ALICE, `run-step:${incident}:${runbook}:${step}`, card());
    return waitFor(/choose one of the \d+ most recent backups/, 'the picker', before);
  };
  /**
   * Chooses an option, bob approves, `unchanged` checks nothing ran on one approval, carol
   * approves; returns the step's result message.
   */
  const chooseAndApprove = async (picker: StoredMessage, option: string, title: string, unchanged: () => Promise<void>) => {
    const before = replies().length;
    await press(ALICE, option, picker);
    const request = await waitFor(new RegExp(`asks to run \\*?${title}`), 'the restore request', before);
    expect(messageText(request)).toContain('needs 2 approvals from approvers, not counting the requester');
    const approve = buttonsOf(request.blocks).map((b) => String(b.action_id)).find((id) => id.startsWith('approve:')) ?? '';
    await press(BOB, approve, request);
    // The approval is a line added to the request's message (a run is one message, edited in place).
    await waitFor(/approved by bob[\w ]* \(1\/2\)/i, "bob's approval", before);
    await unchanged();
    await press(CAROL, approve, request);
    return waitFor(new RegExp(`${title}\\*? (succeeded|failed)`), 'the restore result', before, 60_000);
  };
  return { replies, waitFor, options, openPicker, chooseAndApprove };
}

describeWithAlertmanager('the manuals’ own backups restored from chat', () => {
  let slack: FakeSlack;
  let t: TestBot;
  let am: RunningAlertmanager;

  beforeAll(async () => {
    slack = await startFakeSlack({ rateLimit: false });
    // Paths in the shipped runbooks become paths under the bot's temp folder ({{DIR}}).
    const gitcortex = deployed('gitcortex-recovery.yaml', { '/opt/gitcortex': '{{DIR}}/opt/gitcortex' });
    const opentruss = deployed('opentruss-memgraph.yaml', {
      '/var/lib/docker/volumes/opentruss_memgraph_data/_data': '{{DIR}}/volumes/opentruss_memgraph_data/_data',
      '/backup/opentruss': '{{DIR}}/backup/opentruss',
      '/opt/opentruss': '{{DIR}}/opt/opentruss',
    });
    t = await startTestBot({
      slack,
      runbooks: { 'gitcortex-recovery.yaml': gitcortex, 'opentruss-memgraph.yaml': opentruss },
      // Restores need two approvers besides the requester.
      env: { APPROVERS: 'U0BOB,U0CAROL' },
    });
    am = await startAlertmanager({ webhookUrl: `${t.url}/webhooks/alertmanager`, bearerToken: WEBHOOK_TOKEN });
  }, 60_000);

  afterAll(async () => {
    await am?.stop();
    await t?.stop();
    await slack?.close();
  });

  const cardFor = (text: string) => slack.waitFor(() => slack.topLevel(ALERT_CHANNEL).find((m) => messageText(m).includes(text)), 30_000, `the card for ${text}`);
  const incidentOf = (card: StoredMessage) => {
    const run = buttonsOf(card.blocks).map((b) => String(b.action_id)).find((id) => id.startsWith('run-step:'))
      ?? JSON.stringify(card.blocks).match(/run-step:\d+:/)?.[0];
    return Number(/run-step:(\d+):/.exec(run ?? '')?.[1]);
  };

  it('GitCortex: latest.db.gz (labelled with its file) and backup.sh’s file offered, latest.db.gz restored after two approvals, then undone with the safety copy', async () => {
    const opt = path.join(t.dir, 'opt', 'gitcortex');
    const data = path.join(opt, 'data');
    const backups = path.join(opt, 'backups');
    fs.mkdirSync(data, { recursive: true });
    fs.mkdirSync(backups);
    const db = path.join(data, 'gitcortex.db');
    await sqlite(db, "PRAGMA journal_mode=WAL; CREATE TABLE repos (name TEXT); INSERT INTO repos VALUES ('before-upgrade');");
    // The manual's backup.sh, command for command: online backup, gzip, and latest.db.gz pointing at it.
    const dated = path.join(backups, 'gitcortex_20240131_020000.db');
    await execa('sqlite3', [db, `.backup '${dated}'`]);
    await execa('gzip', [dated]);
    fs.symlinkSync('gitcortex_20240131_020000.db.gz', path.join(backups, 'latest.db.gz'));
    // The upgrade migrated the database; the old binary does not work with it.
    await sqlite(db, "INSERT INTO repos VALUES ('migrated');");
    const content = () => sqlite(db, 'SELECT group_concat(name) FROM repos');

    await am.fireAlerts([{ labels: { alertname: 'GitCortexDown', service: 'gitcortex', instance: 'gitcortex-1:3001', severity: 'critical' }, annotations: { summary: 'GitCortex is down' } }]);
    let card = await cardFor('gitcortex-1:3001');
    const incident = incidentOf(card);
    expect(incident).toBeGreaterThan(0);
    const chat = thread(slack, () => t, () => card);

    const picker = await chat.openPicker(incident, 'gitcortex-recovery', 'restore');
    const offered = chat.options(picker);
    // Slack cuts a button's text at 75 characters: the file and its time always fit.
    expect(offered.map((o) => o.label)).toEqual([
      expect.stringMatching(/^latest\.db\.gz → gitcortex_20240131_020000\.db\.gz \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\), /u),
      expect.stringMatching(/^gitcortex_20240131_020000\.db\.gz, 2024-01-31 \d\d:00 UTC, \d+ bytes, /u),
    ]);
    // The message lists every label in full: the link's file, and that neither has a sidecar.
    expect(picker.text).toMatch(/• latest\.db\.gz → gitcortex_20240131_020000\.db\.gz \(.*\), \d+ bytes, no sidecar\n• gitcortex_20240131_020000\.db\.gz, 2024-01-31 \d\d:00 UTC, \d+ bytes, no sidecar/u);
    const restored = await chat.chooseAndApprove(picker, offered[0]?.id ?? '', 'Restore the database from a backup', async () => {
      expect(await content(), 'one approval is not enough').toBe('before-upgrade,migrated');
    });
    expect(messageText(restored)).toMatch(/succeeded/);
    // Through the link: the file it points to was restored, and the thread says so (the result's
    // details follow the run's message when they do not fit in it).
    const named = `latest.db.gz → ${dated}.gz`.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    await chat.waitFor(new RegExp(named), 'the restored file named in the thread');
    expect(await content()).toBe('before-upgrade');

    // Undo: the safety copy of the migrated database, taken before the restore, is offered now.
    card = slack.message(ALERT_CHANNEL, card.ts) ?? card;
    const again = await chat.openPicker(incident, 'gitcortex-recovery', 'restore');
    const safety = chat.options(again).find((o) => o.label.startsWith('safety copy before a restore'));
    expect(safety, JSON.stringify(chat.options(again))).toBeDefined();
    const undone = await chat.chooseAndApprove(again, safety?.id ?? '', 'Restore the database from a backup', async () => {
      expect(await content()).toBe('before-upgrade');
    });
    expect(messageText(undone)).toMatch(/succeeded/);
    expect(await content()).toBe('before-upgrade,migrated');

    const { events } = (await (await fetch(`${t.url}/incidents/${incident}/audit`)).json()) as { events: AuditEvent[] };
    expect(events.filter((e) => e.kind === 'step.pick')).toHaveLength(2);
    expect(events.filter((e) => e.kind === 'step.finished')).toHaveLength(2);
  }, 3 * STEP_TIMEOUT);

  it('OpenTruss: the manual’s memgraph-<date>.tar.gz offered and restored after two approvals, then undone with its safety archive', async () => {
    const volume = path.join(t.dir, 'volumes', 'opentruss_memgraph_data', '_data');
    const backups = path.join(t.dir, 'backup', 'opentruss');
    fs.mkdirSync(path.join(volume, 'snapshots'), { recursive: true });
    fs.mkdirSync(backups, { recursive: true });
    fs.writeFileSync(path.join(volume, 'snapshots', 'snap-1'), 'graph v1');
    // The manual's `docker run -v opentruss_memgraph_data:/data … tar czf /backup/memgraph-<date>.tar.gz /data`:
    // in the container the volume is /data, so the archive holds data/….
    const container = path.join(t.dir, 'container');
    fs.mkdirSync(container);
    await execa('cp', ['-a', volume, path.join(container, 'data')]);
    await execa('tar', ['czf', path.join(backups, 'memgraph-20240101_020000.tar.gz'), '-C', container, 'data']);
    fs.writeFileSync(path.join(volume, 'snapshots', 'snap-1'), 'graph v2 (damaged)');

    await am.fireAlerts([{ labels: { alertname: 'DatabaseSlowQuery', service: 'opentruss', severity: 'warning' }, annotations: { summary: 'Memgraph queries are slow' } }]);
    const card = await cardFor('DatabaseSlowQuery');
    const incident = incidentOf(card);
    const chat = thread(slack, () => t, () => card);

    const picker = await chat.openPicker(incident, 'opentruss-memgraph', 'restore');
    const offered = chat.options(picker);
    expect(offered.map((o) => o.label)).toEqual([expect.stringMatching(/^memgraph-20240101_020000\.tar\.gz, 2024-01-01 \d\d:00 UTC, /u)]);
    const snap = () => fs.readFileSync(path.join(volume, 'snapshots', 'snap-1'), 'utf8');
    const restored = await chat.chooseAndApprove(picker, offered[0]?.id ?? '', 'Restore Memgraph data from a backup', () => {
      expect(snap(), 'one approval is not enough').toBe('graph v2 (damaged)');
      return Promise.resolve();
    });
    expect(messageText(restored)).toMatch(/succeeded/);
    expect(snap()).toBe('graph v1');

    const again = await chat.openPicker(incident, 'opentruss-memgraph', 'restore');
    const next = chat.options(again);
    expect(next.map((o) => o.label)).toEqual([
      expect.stringMatching(/^safety copy before a restore, /u),
      expect.stringMatching(/^memgraph-20240101_020000\.tar\.gz, /u),
    ]);
    // Undo: the safety archive brings back the state the restore replaced.
    const undone = await chat.chooseAndApprove(again, next[0]?.id ?? '', 'Restore Memgraph data from a backup', () => {
      expect(snap()).toBe('graph v1');
      return Promise.resolve();
    });
    expect(messageText(undone)).toMatch(/succeeded/);
    expect(snap()).toBe('graph v2 (damaged)');
  }, 3 * STEP_TIMEOUT);
});
