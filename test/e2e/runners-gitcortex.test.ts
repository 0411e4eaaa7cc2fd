import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithAlertmanager, startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { REPO_ROOT, makeBotDir, pollUntil, startBotProcess, type BotProcess } from '../support/bot-process.js';
import { slackDriver, type ChatDriver, type ChatMessage, type UserName } from '../support/chat-drivers.js';
import { auditLines, RUNNER_TEST_TOKEN, spawnRunner, type RunnerProcess } from '../support/runner-process.js';
import { probeCommand, requireService } from '../support/services.js';
import { startSqliteWriter, type SqliteWriter } from '../support/sqlite-writer.js';

/*
 * The shipped GitCortex recovery runbook, unchanged, on runners: the bot and two runners as
 * processes on loopback, each runner a host of its own (its own mount namespace, where its own
 * directory is /opt/gitcortex) with a live SQLite database a writer keeps inserting into. A real
 * Alertmanager alert for gitcortex-b becomes a card; the backup, the checkpoint and a restore
 * picked from the runner's own backups all happen on runner gitcortex-b, and the bot, which has
 * an empty /opt/gitcortex, never sees a file of it. Then: a runner whose copy of a step differs
 * refuses it, and a step whose runner is not connected fails at once; both said in the thread.
 */

const namespaces = await requireService('mount namespaces (root, unshare)', () => probeCommand(['unshare', '--mount', '--propagation', 'private', 'true']));

const MOUNT = '/opt/gitcortex';
const SHIPPED = path.join(REPO_ROOT, 'manifests', 'runbooks');
const RUNBOOK = 'gitcortex-recovery';
const WEBHOOK_TOKEN = 'runners-gitcortex-webhook-token';
const TOKENS = { a: `${RUNNER_TEST_TOKEN}-a`, b: `${RUNNER_TEST_TOKEN}-b` };
/** Each step goes through Slack, the bot, a runner and back: allow for a busy machine. */
const STEP_TIMEOUT = 90_000;

/** One GitCortex host: its /opt/gitcortex (seen only by its runner), the runner's state and runbooks. */
interface Host {
  name: string;
  opt: string;
  db: string;
  backups: string;
  stateDir: string;
  runbooksDir: string;
  runner?: RunnerProcess;
  writer?: SqliteWriter;
}

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const listing = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
const backupsIn = (host: Host) => listing(host.backups).filter((f) => f.endsWith('.db.gz'));
/** Everything under a directory, recursively (relative paths). */
const tree = (dir: string): string[] => (fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : []);

function rows(db: string): { n: number; max: number } {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return conn.prepare('SELECT count(*) AS n, coalesce(max(id), 0) AS max FROM events').get() as { n: number; max: number };
  } finally {
    conn.close();
  }
}

namespaces.describe('the GitCortex recovery runbook on two runners', () => {
  describeWithAlertmanager('with a real Alertmanager', () => {
    const root = path.join(os.tmpdir(), `runners-gitcortex-${process.pid}-${Date.now()}`);
    const host = (name: string): Host => {
      const opt = path.join(root, name, 'opt');
      return { name, opt, db: path.join(opt, 'data', 'gitcortex.db'), backups: path.join(opt, 'backups'), stateDir: path.join(root, name, 'state'), runbooksDir: path.join(root, name, 'runbooks') };
    };
    const a = host('gitcortex-a');
    const b = host('gitcortex-b');
    let createdMount = false;
    let chat: ChatDriver;
    let bot: BotProcess;
    let am: RunningAlertmanager;
    let card: ChatMessage;

    const startRunner = (h: Host) => {
      h.runner = spawnRunner({
        botUrl: bot.url,
        name: h.name,
        runbooksDir: h.runbooksDir,
        stateDir: h.stateDir,
        bindMount: { source: h.opt, target: MOUNT },
        env: { RUNNER_TOKEN: h === a ? TOKENS.a : TOKENS.b, RUNNER_LABELS: `service=gitcortex,host=${h.name}` },
      });
      return h.runner;
    };
    const repliesOf = (c: ChatMessage) => chat.replies(c);
    const reply = (c: ChatMessage, pattern: RegExp, what: string, after = 0, timeoutMs = 30_000) =>
      chat.waitFor(() => repliesOf(c).slice(after).find((m) => pattern.test(m.text)), timeoutMs, what);
    /** A run's message with its result's details, which follow in a message of their own when they would not fit in it. */
    const story = async (c: ChatMessage, m: ChatMessage) =>
      m.text.includes('(details below)') ? `${m.text}\n${(await reply(c, /^↳ /, 'the details of the result', repliesOf(c).findIndex((r) => r.id === m.id) + 1)).text}` : m.text;
    const approve = async (c: ChatMessage, request: ChatMessage, who: UserName) => {
      const button = request.buttonIds.find((id) => id.startsWith('approve:'));
      expect(button, `an approve button on ${request.text.slice(0, 80)}`).toBeDefined();
      expect((await chat.press(who, button ?? '', request, c)).status).toBe(200);
    };
    const cardFor = (instance: string) => chat.waitFor(() => chat.cards().find((m) => m.text.includes(instance)), 30_000, `the card for ${instance}`);
    /** Presses a step's button, or chooses it in the card's "More steps" menu: the same action either way. */
    const pressStep = async (user: 'alice' | 'bob' | 'carol', c: ChatMessage, step: string) => {
      const latest = chat.card(c.id) ?? c;
      const isStep = (id: string) => id.startsWith('run-step:') && id.endsWith(`:${RUNBOOK}:${step}`);
      const button = latest.buttonIds.find(isStep);
      if (button) return chat.press(user, button, latest, c);
      const option = latest.menuIds.find(isStep);
      if (!option) throw new Error(`the card offers no step ${step}: buttons ${latest.buttonIds.join(', ')}; menu ${latest.menuIds.join(', ')}`);
      return chat.choose(user, option, latest, c);
    };
    /** The bot's view of /opt/gitcortex, through its own mount namespace. */
    const botSees = () => tree(`/proc/${bot.child.pid}/root${MOUNT}`);

    beforeAll(async () => {
      if (fs.existsSync(MOUNT)) expect(listing(MOUNT), `${MOUNT} on this host must be empty`).toEqual([]);
      else {
        fs.mkdirSync(MOUNT, { recursive: true });
        createdMount = true;
      }
      fs.mkdirSync(root);
      for (const h of [a, b]) {
        for (const sub of ['data', 'backups', 'bin']) fs.mkdirSync(path.join(h.opt, sub), { recursive: true });
        h.writer = await startSqliteWriter(h.db);
      }
      // A holds a copy of the shipped runbooks (the same files; the refusal test changes it later), B reads them in place.
      fs.cpSync(SHIPPED, a.runbooksDir, { recursive: true });
      b.runbooksDir = SHIPPED;
      chat = await slackDriver();
      const botDir = await makeBotDir();
      const runnersFile = path.join(botDir, 'runners.yaml');
      fs.writeFileSync(
        runnersFile,
        `runners:\n${[a, b].map((h) => `  - name: ${h.name}\n    token: ${h === a ? TOKENS.a : TOKENS.b}\n    labels: { service: gitcortex, host: ${h.name} }\n`).join('')}`,
      );
      bot = await startBotProcess({
        dir: botDir,
        env: {
          ...chat.botEnv(),
          // The restore needs two approvers: bob (the on-call group) and carol.
          APPROVERS: 'S0ONCALL,U0CAROL',
          ALERTMANAGER_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
          RUNBOOKS_DIR: SHIPPED,
          RUNNERS_FILE: runnersFile,
          RUNNER_HEARTBEAT_TIMEOUT_SECONDS: '6',
        },
      });
      chat.attach(bot.url);
      await Promise.all([startRunner(a), startRunner(b)].map((r) => r.waitForLog(/connected to the bot/, 30_000)));
      am = await startAlertmanager({ webhookUrl: `${bot.url}/webhooks/alertmanager`, bearerToken: WEBHOOK_TOKEN });
      await am.fireAlerts([{ labels: { alertname: 'GitCortexDown', service: 'gitcortex', instance: 'gitcortex-b:3001', severity: 'critical' }, annotations: { summary: 'GitCortex is down' } }]);
      card = await cardFor('gitcortex-b:3001');
    }, 90_000);

    afterAll(async () => {
      await am?.stop();
      for (const h of [a, b]) {
        await h.runner?.dispose();
        await h.writer?.dispose();
      }
      await bot?.dispose({ removeDir: true });
      await chat?.close();
      if (createdMount) fs.rmdirSync(MOUNT);
      fs.rmSync(root, { recursive: true, force: true });
    });

    it('runs each runner in a host of its own: /opt/gitcortex is its directory there, and empty for the bot', () => {
      for (const h of [a, b]) expect(tree(`/proc/${h.runner?.child.pid}/root${MOUNT}`)).toEqual(tree(h.opt));
      expect(tree(b.opt)).toContain(path.join('data', 'gitcortex.db'));
      expect(botSees()).toEqual([]);
      expect(listing(MOUNT)).toEqual([]);
      // The bot and both runners hold the shipped runbook as it is.
      expect(fs.readFileSync(path.join(a.runbooksDir, `${RUNBOOK}.yaml`))).toEqual(fs.readFileSync(path.join(SHIPPED, `${RUNBOOK}.yaml`)));
      expect(b.runbooksDir).toBe(SHIPPED);
    });

    it('backs up B\'s live database on B: the backup is in B\'s directory only, its sha256 in the thread', async () => {
      expect(card.text).toContain('gitcortex-b:3001');
      await pressStep('alice', card, 'backup');
      const started = await reply(card, /Started Back up the database/, 'the backup to start');
      expect(started.text).toContain('(on a runner labelled service=gitcortex, host=gitcortex-b)');
      const result = await reply(card, /✅ \d\d:\d\d:\d\d Back up the database[^\n]* succeeded/, 'the backup result');
      // One message for the run: the command line on its Started line, then the result.
      expect(result.id).toBe(started.id);
      const done = { text: await story(card, result) };
      expect(done.text).toMatch(/on runner gitcortex-b/);
      const [file] = backupsIn(b);
      expect(backupsIn(b)).toHaveLength(1);
      expect(done.text).toContain(`${MOUNT}/backups/${file}`);
      expect(done.text).toContain(sha256(path.join(b.backups, file ?? '')));
      expect(backupsIn(a), 'nothing on A').toEqual([]);
      expect(auditLines(a.stateDir), 'A was given no job').toEqual([]);
      expect(botSees()).toEqual([]);
    }, STEP_TIMEOUT);

    it('checkpoints B\'s WAL on B after an approval, while the writer goes on, and reports it', async () => {
      const before = repliesOf(card).length;
      await pressStep('alice', card, 'checkpoint');
      await approve(card, await reply(card, /asks to run WAL checkpoint/, 'the checkpoint request', before), 'bob');
      const done = { text: await story(card, await reply(card, /WAL checkpoint \(TRUNCATE\) and integrity check (succeeded|failed)/, 'the checkpoint result', before)) };
      expect(done.text).toMatch(/✅ \d\d:\d\d:\d\d WAL checkpoint/);
      expect(done.text).toMatch(new RegExp(`checkpointed SQLite ${MOUNT}/data/gitcortex\\.db \\(TRUNCATE\\): WAL .+ → .+, integrity ok`));
      expect(done.text).toMatch(/on runner gitcortex-b/);
      expect(botSees()).toEqual([]);
    }, STEP_TIMEOUT);

    it('restores a backup picked from the ones runner B lists, on B, once GitCortex is stopped there', async () => {
      const backup = backupsIn(b)[0] ?? '';
      const backedUp = repliesOf(card).find((m) => /✅ \d\d:\d\d:\d\d Back up the database[^\n]* succeeded/.test(m.text));
      const backupRows = Number(/rows: (\d+)/.exec(backedUp ? await story(card, backedUp) : '')?.[1]);
      expect(backupRows).toBeGreaterThan(0);
      expect(rows(b.db).n, 'the writer went on after the backup').toBeGreaterThan(backupRows);
      const before = repliesOf(card).length;
      await pressStep('alice', card, 'restore');
      const picker = await reply(card, /choose one of the \d+ most recent backups/, 'the picker', before);
      // The one backup there is, as the runner sees it: its size, and its sidecar checked.
      expect(picker.buttonIds.filter((id) => id.startsWith('pick:'))).toHaveLength(1);
      expect(picker.text).toContain(`(${fs.statSync(path.join(b.backups, backup)).size} bytes), sha256 ok`);
      const listed = auditLines(b.stateDir).filter((l) => l.kind === 'list' && l.event === 'received');
      expect(listed, 'the list came from runner B').toHaveLength(1);
      expect(auditLines(a.stateDir)).toEqual([]);
      const option = picker.buttonIds.find((id) => id.startsWith('pick:'));
      expect(option).toBeDefined();

      // "GitCortex must be stopped": the restore refuses a database another process holds open.
      await b.writer?.stop();
      const stoppedAt = rows(b.db);
      await chat.press('alice', option ?? '', picker, card);
      const request = await reply(card, /asks to run Restore the database from a backup/, 'the restore request', before);
      await approve(card, request, 'bob');
      await approve(card, await reply(card, /asks to run Restore the database from a backup/, 'the request after one approval', repliesOf(card).indexOf(request)), 'carol');
      const done = { text: await story(card, await reply(card, /Restore the database from a backup (succeeded|failed)/, 'the restore result', before, 60_000)) };
      expect(done.text).toMatch(/✅ \d\d:\d\d:\d\d Restore the database from a backup succeeded/);
      expect(done.text).toMatch(/on runner gitcortex-b/);
      // B's database is the backup now: its rows, all of them (a consistent snapshot), none of the later ones.
      expect(rows(b.db)).toEqual({ n: backupRows, max: backupRows });
      expect(stoppedAt.n).toBeGreaterThan(backupRows);
      expect(listing(path.join(b.opt, 'data')).some((f) => f.startsWith('gitcortex.db.before-restore-'))).toBe(true);
      // A's database and backups were never touched, and its writer still writes.
      expect(backupsIn(a)).toEqual([]);
      expect(listing(path.join(a.opt, 'data')).filter((f) => f.includes('before-restore'))).toEqual([]);
      const aRows = rows(a.db).n;
      await pollUntil(() => rows(a.db).n > aRows, 5000, 'A\'s writer to go on');
      const received = auditLines(b.stateDir).filter((l) => l.event === 'received').map((l) => `${String(l.kind)} ${String(l.step)}`);
      expect(received).toEqual(['run backup', 'run checkpoint', 'list restore', 'inspect restore', 'run restore']);
      expect(auditLines(b.stateDir).filter((l) => l.event === 'refused')).toEqual([]);
      expect(botSees()).toEqual([]);
      expect(listing(MOUNT)).toEqual([]);
    }, STEP_TIMEOUT);

    it('a runner whose own copy of the step differs refuses it: the thread says so, and nothing ran there', async () => {
      await am.fireAlerts([{ labels: { alertname: 'HighErrorRate', service: 'gitcortex', instance: 'gitcortex-a:3001', severity: 'warning' } }]);
      const cardA = await cardFor('gitcortex-a:3001');
      // This host's copy now runs something else for "data-files"; SIGHUP makes the runner read it.
      const copy = path.join(a.runbooksDir, `${RUNBOOK}.yaml`);
      const original = "run: [ls, -la, '{{data_dir}}']";
      expect(fs.readFileSync(copy, 'utf8')).toContain(original);
      fs.writeFileSync(copy, fs.readFileSync(copy, 'utf8').replace(original, `run: [sh, -c, 'touch "$0/changed-copy-ran"', '{{data_dir}}']`));
      a.runner?.kill('SIGHUP');
      await a.runner?.waitForLog(/runbooks reloaded/);

      await pressStep('alice', cardA, 'data-files');
      const refused = await reply(cardA, /refused by runner gitcortex-a, nothing was run/, 'the refusal in the thread');
      expect(refused.text).toMatch(/step gitcortex-recovery\/data-files differs from this host's manifests \(hash [0-9a-f]{12}… here, [0-9a-f]{12}… asked\)/);
      await pollUntil(() => auditLines(a.stateDir).some((l) => l.event === 'delivered'), 5000, 'the refusal to be delivered');
      expect(auditLines(a.stateDir).map((l) => `${String(l.step)} ${String(l.event)}`)).toEqual(['data-files received', 'data-files refused', 'data-files delivered']);
      expect(listing(path.join(a.opt, 'data')), 'neither copy of the step ran').not.toContain('changed-copy-ran');
    }, STEP_TIMEOUT);

    it('a step whose runner is not connected fails at once, naming it and the runners that are', async () => {
      const cardA = await cardFor('gitcortex-a:3001');
      a.runner?.kill('SIGTERM');
      expect(await a.runner?.waitForExit()).toEqual({ code: 0, signal: null });
      // The bot counts it gone once it has not polled for the heartbeat bound (6 s here).
      await pollUntil(async () => /gitcortex-a[^\n]*🔴 disconnected/.test((await chat.command('alice', 'runbook', 'runners')).reply), 15_000, 'the bot to see runner gitcortex-a gone');
      const before = repliesOf(cardA).length;
      const pressed = Date.now();
      await pressStep('alice', cardA, 'integrity');
      const failed = await reply(cardA, /SQLite integrity check \(read-only\) failed/, 'the failure in the thread', before, 10_000);
      expect(Date.now() - pressed, 'at once, not after a timeout').toBeLessThan(5000);
      expect(failed.text).toContain('failed: not run: a runner labelled service=gitcortex, host=gitcortex-a is not connected (connected runners: gitcortex-b)');
      expect(auditLines(a.stateDir).filter((l) => l.step === 'integrity'), 'it went nowhere').toEqual([]);
      expect(auditLines(b.stateDir).filter((l) => l.step === 'integrity'), 'least of all to another runner').toEqual([]);
    }, STEP_TIMEOUT);
  });
});
