import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { REPO_ROOT, freePort, makeBotDir, postWebhook, startBotProcess, type BotProcess } from '../support/bot-process.js';
import { slackDriver, type ChatDriver, type ChatMessage, type UserName } from '../support/chat-drivers.js';
import { composeProject, containersOf, requireDocker, type ComposeProject } from '../support/compose-project.js';
import { RUNNER_TEST_TOKEN, spawnRunner, type RunnerProcess } from '../support/runner-process.js';
import { probeMariadb, probePostgres, requireService } from '../support/services.js';

/*
 * The compose steps of the OpenTruss, Approval Gin and IM suite runbooks, run for real: through
 * the bot (fake Slack, a webhook per alert), on each system's runner, against a real Docker
 * engine. Each system is a compose project of busybox httpd services named as the runbooks name
 * them (backend, memgraph, nginx; approval-gin; backend, mysql, redis), in a temporary directory.
 * The runbooks are the shipped ones with only their path, URL and database param defaults pointed
 * at that directory (every step as shipped). What the engine shows afterwards is the proof: a new
 * start time after a restart, /health answering again, the printed line in the logs, containers
 * stopped while a restore runs and running after it.
 */

const docker = await requireDocker();
const postgres = await requireService('PostgreSQL at 127.0.0.1:5432', () => probePostgres());
const mariadb = await requireService('MariaDB at 127.0.0.1:3306', () => probeMariadb());
const PREFIX = 'e2e-compose';
const WEBHOOK_TOKEN = 'compose-runbooks-webhook-token';
const SHIPPED = path.join(REPO_ROOT, 'manifests', 'runbooks');
/** A step goes through Slack, the bot, a runner and compose (v1 takes seconds under load) and back. */
const STEP_TIMEOUT = 120_000;

/** A copy of a shipped runbook with some param defaults changed, nothing else. */
function runbookCopy(name: string, defaults: Record<string, string>): string {
  const doc = parseDocument(fs.readFileSync(path.join(SHIPPED, `${name}.yaml`), 'utf8'));
  for (const [param, value] of Object.entries(defaults)) {
    if (!doc.hasIn(['params', param, 'default'])) throw new Error(`${name} has no param ${param} with a default`);
    doc.setIn(['params', param, 'default'], value);
  }
  return doc.toString();
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');

docker.describe('compose steps of the shipped runbooks, on a real Docker engine', () => {
  postgres.describe('with PostgreSQL', () => {
    mariadb.describe('and MariaDB', () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-`));
      const runbooksDir = path.join(root, 'runbooks');
      const dbName = `compose_e2e_${process.pid}`;
      let chat: ChatDriver;
      let bot: BotProcess;
      const runners: RunnerProcess[] = [];
      let opentruss: ComposeProject;
      let gin: ComposeProject;
      let im: ComposeProject;
      const memgraphData = path.join(root, 'memgraph', '_data');
      const backups = { opentruss: path.join(root, 'backups', 'opentruss'), gin: path.join(root, 'backups', 'approval-gin') };

      const reply = (c: ChatMessage, pattern: RegExp, what: string, after = 0, timeoutMs = STEP_TIMEOUT - 10_000) =>
        chat.waitFor(() => chat.replies(c).slice(after).find((m) => pattern.test(m.text)), timeoutMs, what);
      const approve = async (c: ChatMessage, request: ChatMessage, who: UserName) => {
        const button = request.buttonIds.find((id) => id.startsWith('approve:'));
        expect(button, `an approve button on ${request.text.slice(0, 80)}`).toBeDefined();
        expect((await chat.press(who, button ?? '', request, c)).status).toBe(200);
      };
      /** Presses a step (a button, or the card's More steps menu). */
      const pressStep = async (c: ChatMessage, runbook: string, step: string) => {
        const latest = chat.card(c.id) ?? c;
        const isStep = (id: string) => id.startsWith('run-step:') && id.endsWith(`:${runbook}:${step}`);
        const button = latest.buttonIds.find(isStep);
        if (button) return chat.press('alice', button, latest, c);
        const option = latest.menuIds.find(isStep);
        if (!option) throw new Error(`the card offers no step ${runbook}/${step}: buttons ${latest.buttonIds.join(', ')}; menu ${latest.menuIds.join(', ')}`);
        return chat.choose('alice', option, latest, c);
      };
      /**
       * Runs a step as an operator would: alice presses it, picks `pick` when it asks for a file,
       * and `approvers` approve; returns the result line in the thread.
       */
      const runStep = async (c: ChatMessage, runbook: string, step: string, title: string, o: { approvers?: UserName[]; pick?: boolean } = {}) => {
        const before = chat.replies(c).length;
        await pressStep(c, runbook, step);
        if (o.pick === true) {
          const picker = await reply(c, /choose one of the \d+ most recent backups/, `the picker of ${step}`, before);
          const option = picker.buttonIds.find((id) => id.startsWith('pick:'));
          expect(option, 'a backup to pick').toBeDefined();
          await chat.press('alice', option ?? '', picker, c);
        }
        for (const who of o.approvers ?? []) {
          const asked = new RegExp(`asks to run ${escape(title)}`);
          const requests = () => chat.replies(c).slice(before).filter((m) => asked.test(m.text) && m.buttonIds.some((id) => id.startsWith('approve:')));
          const request = await chat.waitFor(() => requests().at(-1), 30_000, `the request of ${step} for ${who}`);
          await approve(c, request, who);
        }
        // A run is one message edited in place: its result is a line of it (with the details below
        // it, or in the reply that follows when they did not fit); that line onwards is returned.
        const resultLine = new RegExp(`^(✅|❌|⏱️) \\d\\d:\\d\\d:\\d\\d \\*{0,2}${escape(title)}`, 'm');
        return chat.waitFor(
          () => {
            const replies = chat.replies(c).slice(before);
            for (const [i, m] of replies.entries()) {
              const at = m.text.search(resultLine);
              if (at < 0) continue;
              const cut = /\(details below\)\s*$/.test(m.text);
              const below = cut ? replies.slice(i + 1).find((r) => r.text.startsWith('↳')) : undefined;
              if (cut && !below) return undefined;
              return { ...m, text: `${m.text.slice(at)}${below ? `\n${below.text}` : ''}` };
            }
            return undefined;
          },
          STEP_TIMEOUT - 10_000,
          `the result of ${step}`,
        );
      };
      const fire = async (labels: Record<string, string>): Promise<ChatMessage> => {
        const cards = chat.cards().length;
        const alert = { status: 'firing', labels, annotations: { summary: `${labels.alertname ?? ''} on ${labels.service ?? ''}` }, startsAt: new Date().toISOString(), endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prometheus.example:9090/graph', fingerprint: `${labels.service ?? ''}${labels.alertname ?? ''}`.slice(0, 16) };
        const body = { receiver: 'default', status: 'firing', alerts: [alert], groupLabels: { alertname: labels.alertname, service: labels.service }, commonLabels: labels, commonAnnotations: alert.annotations, externalURL: 'http://alertmanager.example:9093', version: '4', groupKey: `{}:{alertname="${labels.alertname ?? ''}", service="${labels.service ?? ''}"}`, truncatedAlerts: 0 };
        expect((await postWebhook(bot.url, body, { authorization: `Bearer ${WEBHOOK_TOKEN}` })).status).toBe(200);
        return chat.waitFor(() => chat.cards()[cards], 30_000, `the card for ${labels.service ?? ''}`);
      };
      const psql = (sql: string, db = dbName) => execa('psql', ['-X', '-qtA', '-h', '127.0.0.1', '-U', postgres.value.user, '-d', db, '-c', sql], { stdin: 'ignore' });

      beforeAll(async () => {
        const compose = docker.value.compose;
        const ports = async (names: string[]) => Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)));
        opentruss = composeProject({ prefix: `${PREFIX}-opentruss`, compose, ports: await ports(['backend', 'memgraph', 'nginx']), parent: root });
        gin = composeProject({ prefix: `${PREFIX}-approval-gin`, compose, ports: await ports(['approval-gin']), parent: root });
        im = composeProject({ prefix: `${PREFIX}-im-suite`, compose, ports: await ports(['backend', 'mysql', 'redis']), file: 'docker-compose.production.yml', parent: root });
        await Promise.all([opentruss.up(), gin.up(), im.up()]);

        fs.mkdirSync(memgraphData, { recursive: true });
        fs.writeFileSync(path.join(memgraphData, 'snapshot.bin'), 'graph before the backup\n');
        for (const dir of Object.values(backups)) fs.mkdirSync(dir, { recursive: true });
        await execa('createdb', ['-h', '127.0.0.1', '-U', postgres.value.user, dbName]);
        await psql("CREATE TABLE tasks (id int PRIMARY KEY, title text); INSERT INTO tasks VALUES (1, 'from the backup');");

        fs.mkdirSync(runbooksDir);
        const copies: Record<string, Record<string, string>> = {
          opentruss: { project_dir: opentruss.dir, compose_file: opentruss.file, base_url: `http://127.0.0.1:${opentruss.ports.backend}` },
          'opentruss-memgraph': { project_dir: opentruss.dir, compose_file: opentruss.file, memgraph_data: memgraphData, backup_dir: backups.opentruss },
          'approval-gin': { project_dir: gin.dir, compose_file: gin.file },
          'approval-gin-recovery': { project_dir: gin.dir, compose_file: gin.file, backup_dir: backups.gin, db_host: '127.0.0.1', db_user: postgres.value.user, db_name: dbName },
          'im-suite': { compose_file: im.file, backend_url: `http://127.0.0.1:${im.ports.backend}` },
          'im-suite-memory': { project_dir: im.dir, backend_url: `http://127.0.0.1:${im.ports.backend}` },
          'im-suite-mysql': { project_dir: im.dir, mysql_host: '127.0.0.1', mysql_user: mariadb.value.user, mysql_db: 'mysql' },
        };
        for (const [name, defaults] of Object.entries(copies)) fs.writeFileSync(path.join(runbooksDir, `${name}.yaml`), runbookCopy(name, defaults));

        chat = await slackDriver();
        const botDir = await makeBotDir();
        const runnersFile = path.join(botDir, 'runners.yaml');
        const hosts = [
          { name: 'opentruss-1', labels: 'service=opentruss' },
          { name: 'approval-gin-1', labels: 'service=approval-gin,host=127.0.0.1' },
          { name: 'im-suite-1', labels: 'service=im-suite' },
        ];
        fs.writeFileSync(runnersFile, `runners:\n${hosts.map((h) => `  - name: ${h.name}\n    token: ${RUNNER_TEST_TOKEN}-${h.name}\n`).join('')}`);
        bot = await startBotProcess({
          dir: botDir,
          env: { ...chat.botEnv(), APPROVERS: 'S0ONCALL,U0CAROL', ALERTMANAGER_WEBHOOK_TOKEN: WEBHOOK_TOKEN, RUNBOOKS_DIR: runbooksDir, RUNNERS_FILE: runnersFile },
        });
        chat.attach(bot.url);
        for (const h of hosts) {
          // The runners find the compose program themselves, except one told which (COMPOSE_COMMAND).
          const composeEnv: Record<string, string> = h.name === 'im-suite-1' ? { COMPOSE_COMMAND: compose.join(' ') } : {};
          runners.push(
            spawnRunner({ botUrl: bot.url, name: h.name, runbooksDir, stateDir: path.join(root, `state-${h.name}`), env: { RUNNER_TOKEN: `${RUNNER_TEST_TOKEN}-${h.name}`, RUNNER_LABELS: h.labels, ...composeEnv } }),
          );
        }
        await Promise.all(runners.map((r) => r.waitForLog(/connected to the bot/, 60_000)));
      }, 240_000);

      afterAll(async () => {
        for (const r of runners) await r.dispose();
        await bot?.dispose({ removeDir: true });
        await chat?.close();
        for (const p of [opentruss, gin, im]) await p?.dispose();
        await execa('dropdb', ['-h', '127.0.0.1', '-U', postgres.value.user, '--if-exists', dbName], { reject: false });
        fs.rmSync(root, { recursive: true, force: true });
        expect(await containersOf(PREFIX), 'no container of these tests is left').toEqual([]);
      }, 120_000);

      it('OpenTruss: ps and logs of the backend, then restart backend: a new start, /health answers again', async () => {
        const card = await fire({ alertname: 'DatabaseSlowQuery', service: 'opentruss', severity: 'warning' });
        const ps = await runStep(card, 'opentruss', 'containers', 'Container status (docker compose ps)');
        expect(ps.text).toMatch(/^✅/);
        expect(ps.text).toMatch(/3 containers: .*backend.* running, .*memgraph.* running, .*nginx.* running/);
        expect(ps.text).toContain('on runner opentruss-1');

        const logs = await runStep(card, 'opentruss', 'backend-logs', 'Last 100 lines of the backend log');
        expect(logs.text).toMatch(/^✅/);
        expect(logs.text).toContain(`backend listening on ${opentruss.ports.backend}`);

        const before = await opentruss.state('backend');
        const restart = await runStep(card, 'opentruss', 'restart-backend', 'Restart the backend (docker compose restart backend)', { approvers: ['bob'] });
        expect(restart.text).toMatch(/^✅/);
        expect(restart.text).toMatch(/restarted compose service backend .*; running after .*; verify healthy/);
        const after = await opentruss.state('backend');
        expect(after?.id).toBe(before?.id);
        expect(after?.startedAt).not.toBe(before?.startedAt);
        expect(after?.status).toBe('running');
        expect(await opentruss.health('backend')).toBe('backend ok');
        // Memgraph and Nginx were not restarted.
        expect(await opentruss.health('memgraph')).toBe('memgraph ok');
      }, 4 * STEP_TIMEOUT);

      it('OpenTruss Memgraph: status, logs, then down → restore → up: no container during the restore, all running after', async () => {
        const card = await fire({ alertname: 'HighAPIErrorRate', service: 'opentruss', severity: 'critical' });
        const status = await runStep(card, 'opentruss-memgraph', 'memgraph-status', 'Memgraph container status');
        expect(status.text).toMatch(/1 containers: .*memgraph.* running/);
        const logs = await runStep(card, 'opentruss-memgraph', 'memgraph-logs', 'Last 100 lines of the Memgraph log');
        expect(logs.text).toContain(`memgraph listening on ${opentruss.ports.memgraph}`);

        expect((await runStep(card, 'opentruss-memgraph', 'backup', 'Back up the Memgraph volume (tar.gz)')).text).toMatch(/^✅/);
        fs.writeFileSync(path.join(memgraphData, 'snapshot.bin'), 'graph after the backup\n');

        const down = await runStep(card, 'opentruss-memgraph', 'stop-stack', 'Stop the stack (docker compose down)', { approvers: ['bob'] });
        expect(down.text).toMatch(/^✅/);
        for (const s of ['backend', 'memgraph', 'nginx']) expect(await opentruss.state(s), s).toBeUndefined();

        const restore = await runStep(card, 'opentruss-memgraph', 'restore', 'Restore Memgraph data from a backup', { pick: true, approvers: ['bob', 'carol'] });
        expect(restore.text).toMatch(/^✅/);
        expect(fs.readFileSync(path.join(memgraphData, 'snapshot.bin'), 'utf8')).toBe('graph before the backup\n');
        // Nothing started while the data was swapped.
        for (const s of ['backend', 'memgraph', 'nginx']) expect(await opentruss.state(s), s).toBeUndefined();

        const up = await runStep(card, 'opentruss-memgraph', 'start-stack', 'Start the stack (docker compose up -d)', { approvers: ['bob'] });
        expect(up.text).toMatch(/^✅/);
        expect(up.text).toMatch(/running after/);
        for (const s of ['backend', 'memgraph', 'nginx']) {
          expect((await opentruss.state(s))?.status, s).toBe('running');
          expect(await opentruss.health(s), s).toBe(`${s} ok`);
        }
      }, 8 * STEP_TIMEOUT);

      it('Approval Gin: logs, then stop → restore → start: stopped during the restore, running and healthy after', async () => {
        const instance = `127.0.0.1:${gin.ports['approval-gin'] ?? 0}`;
        const card = await fire({ alertname: 'HighErrorRate', service: 'approval-gin', instance, severity: 'warning' });
        const logs = await runStep(card, 'approval-gin', 'app-logs', 'Last 100 lines of the container log');
        expect(logs.text).toContain(`approval-gin listening on ${gin.ports['approval-gin'] ?? 0}`);

        expect((await runStep(card, 'approval-gin-recovery', 'backup', 'Back up the database (pg_dump)')).text).toMatch(/^✅/);
        await psql("UPDATE tasks SET title = 'changed after the backup'");

        const before = await gin.state('approval-gin');
        const stop = await runStep(card, 'approval-gin-recovery', 'stop', 'Stop Approval Gin (before a restore or rollback)', { approvers: ['bob'] });
        expect(stop.text).toMatch(/^✅/);
        expect(stop.text).toMatch(/service approval-gin stopped/);
        expect((await gin.state('approval-gin'))?.status).toBe('exited');
        expect(await gin.health('approval-gin')).toBeUndefined();

        const restore = await runStep(card, 'approval-gin-recovery', 'restore', 'Restore the database from a dump', { pick: true, approvers: ['bob', 'carol'] });
        expect(restore.text).toMatch(/^✅/);
        expect((await psql('SELECT title FROM tasks')).stdout.trim()).toBe('from the backup');
        expect((await gin.state('approval-gin'))?.status, 'still stopped after the restore').toBe('exited');

        const start = await runStep(card, 'approval-gin-recovery', 'start', 'Start Approval Gin', { approvers: ['bob'] });
        expect(start.text).toMatch(/^✅/);
        expect(start.text).toMatch(/running after .*; verify healthy/);
        const after = await gin.state('approval-gin');
        expect(after?.status).toBe('running');
        expect(after?.startedAt).not.toBe(before?.startedAt);
        expect(await gin.health('approval-gin')).toBe('approval-gin ok');
      }, 8 * STEP_TIMEOUT);

      it('IM suite: ps with COMPOSE_COMMAND set on its runner, restart backend and restart mysql (-f docker-compose.production.yml)', async () => {
        const card = await fire({ alertname: 'MySQLConnectionPoolExhausted', service: 'im-suite', severity: 'critical' });
        const ps = await runStep(card, 'im-suite', 'containers', 'Container status (docker compose ps)');
        expect(ps.text).toMatch(/3 containers: .*backend.* running, .*mysql.* running, .*redis.* running/);
        expect(ps.text).toContain(`${docker.value.compose.join(' ')} -f ${im.file} ps -a`);

        const mysqlBefore = await im.state('mysql');
        const restartMysql = await runStep(card, 'im-suite-mysql', 'restart-mysql', 'Restart MySQL (docker compose restart mysql)', { approvers: ['bob'] });
        expect(restartMysql.text).toMatch(/^✅/);
        expect((await im.state('mysql'))?.startedAt).not.toBe(mysqlBefore?.startedAt);
        expect(await im.health('mysql')).toBe('mysql ok');

        const memoryCard = await fire({ alertname: 'HighMemoryUsage', service: 'im-suite', severity: 'warning' });
        const backendBefore = await im.state('backend');
        const restart = await runStep(memoryCard, 'im-suite-memory', 'restart-backend', 'Restart the backend (frees its memory)', { approvers: ['bob'] });
        expect(restart.text).toMatch(/^✅/);
        expect(restart.text).toMatch(/verify healthy/);
        expect((await im.state('backend'))?.startedAt).not.toBe(backendBefore?.startedAt);
        expect(await im.health('backend')).toBe('backend ok');
        expect((await im.state('redis'))?.status).toBe('running');
      }, 6 * STEP_TIMEOUT);
    });
  });
});
