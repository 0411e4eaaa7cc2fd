import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertmanagerNotification } from '../../src/core/alertmanager-payload.js';
import { WEBHOOK_TOKEN } from '../support/bot-harness.js';
import { makeBotDir, REPO_ROOT, spawnBot, type BotProcess } from '../support/bot-process.js';
import { discordDriver, slackDriver, type ChatDriver, type ChatMessage } from '../support/chat-drivers.js';
import { loadFixture } from '../support/fixtures.js';

/**
 * Secrets of the shapes real step output and alerts carry, through every way out of the bot: the
 * chat thread and the card (Slack and Discord), the console page, the audit route, the timeline,
 * `npm run audit:export` and the logs. One row per shape: what is printed, and the part of it that
 * must appear nowhere.
 */

const STEP_SECRET = 'k9Qz7pLm2xWv4tRs'; // no recognisable shape: only the manifest's `env` says it is secret
const PEM_BODY = ['MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+XQqPj', 'Rw5UqDZzXJpdN0mVeKH1dyXwGZC4mzuXf3D4gRYDaS0sZ7jWE0I1HHZTzQ9bMbH8', 'xk0CAwEAAQJAcM9q0Nf2kMOjDf6eGWCUNBWAAmP2cmv0Y4vBiNnxkFfH8HxbFkV0'];

interface Shape {
  name: string;
  /** Lines the step prints. */
  printed: string[];
  /** Text that must not leave the bot. */
  secrets: string[];
}

const SHAPES: Shape[] = [
  { name: 'AWS access key id', printed: ['key id AKIAIOSFODNN7EXAMPLE temporary ASIAY34FZKBOKMUTVV7A'], secrets: ['AKIAIOSFODNN7EXAMPLE', 'ASIAY34FZKBOKMUTVV7A'] },
  { name: 'AWS secret access key', printed: ['aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY'], secrets: ['wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY'] },
  { name: '*_PASSWORD=', printed: ['DB_PASSWORD=dbPassw0rdValue1'], secrets: ['dbPassw0rdValue1'] },
  { name: 'PGPASSWORD= and MYSQL_PWD=', printed: ['PGPASSWORD=pgPassw0rdValue2 MYSQL_PWD=myPassw0rdValue3'], secrets: ['pgPassw0rdValue2', 'myPassw0rdValue3'] },
  { name: 'HTTP Basic credentials', printed: ['> Authorization: Basic YWRtaW46YmFzaWNQYXNzd29yZDQ='], secrets: ['YWRtaW46YmFzaWNQYXNzd29yZDQ='] },
  {
    name: 'GitHub tokens',
    printed: ['ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5 gho_Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8', 'ghs_Qa1Ws2Ed3Rf4Tg5Yh6Uj7Ik8Ol9Pz0Xc1Vb2 ghu_Mn3Bv4Cx5Za6Sd7Fg8Hj9Kl0Qw1Er2Ty3Ui4', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV'],
    secrets: ['aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5', 'Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8', 'Qa1Ws2Ed3Rf4Tg5Yh6Uj7Ik8Ol9Pz0Xc1Vb2', 'Mn3Bv4Cx5Za6Sd7Fg8Hj9Kl0Qw1Er2Ty3Ui4', '11ABCDEFG0123456789_abcdefghij'],
  },
  {
    name: 'JWT',
    printed: ['session eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvcHMtYm90Iiwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJlLW9mLXRoZS1qd3QtdG9rZW4'],
    secrets: ['eyJzdWIiOiJvcHMtYm90Iiwicm9sZSI6ImFkbWluIn0', 'c2lnbmF0dXJlLW9mLXRoZS1qd3QtdG9rZW4'],
  },
  { name: 'PEM private key', printed: ['-----BEGIN RSA PRIVATE KEY-----', ...PEM_BODY, '-----END RSA PRIVATE KEY-----'], secrets: PEM_BODY },
  { name: "a value the step receives through its manifest's env", printed: ['STEP_SECRET'], secrets: [STEP_SECRET] },
];

const PRINTED = SHAPES.flatMap((s) => s.printed);

/** Links on the card: generatorURL, runbook_url and the Alertmanager address, each carrying a secret. */
const LINK_SECRETS = { generator: 'ghp_LinkSecretInGeneratorUrl0123456789', runbook: 'RunbookLinkPassw0rd', alertmanager: 'AmLinkPassw0rd' };

const RUNBOOK = `
name: leaky
match: { service: leaky-svc }
steps:
  - id: dump
    title: Dump settings
    action: exec
    env: [STEP_SECRET]
    run: [node, -e, 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\\n")) console.log(l === "STEP_SECRET" ? "using " + process.env.STEP_SECRET : l)', '{{DIR}}/printed.txt']
`;

function leakyAlert(): AlertmanagerNotification {
  const n = structuredClone(loadFixture<AlertmanagerNotification>('firing-single.json'));
  n.groupKey = '{}:{alertname="LeakyDown"}';
  n.externalURL = `https://ops:${LINK_SECRETS.alertmanager}@alertmanager.example`;
  const alert = n.alerts[0]!;
  alert.fingerprint = 'fp-leaky';
  alert.labels = { ...alert.labels, alertname: 'LeakyDown', service: 'leaky-svc' };
  alert.generatorURL = `https://prometheus.example/graph?g0.expr=up&auth=${LINK_SECRETS.generator}`;
  alert.annotations = { ...alert.annotations, runbook_url: `https://wiki.example/runbooks/leaky?password=${LINK_SECRETS.runbook}` };
  n.commonLabels = { ...n.commonLabels, alertname: 'LeakyDown', service: 'leaky-svc' };
  n.commonAnnotations = { ...n.commonAnnotations, runbook_url: alert.annotations.runbook_url! };
  n.groupLabels = { alertname: 'LeakyDown' };
  return n;
}

const run = promisify(execFile);

function expectNoSecrets(exit: string, text: string, rows: Array<{ name: string; secrets: string[] }>): void {
  for (const row of rows) for (const secret of row.secrets) expect(text, `${row.name} through ${exit}`).not.toContain(secret);
}

describe('redaction of step output and card links, through every exit', () => {
  let slack: ChatDriver;
  let discord: ChatDriver;
  let bot: BotProcess;
  let slackCard: ChatMessage;
  let discordCard: ChatMessage;

  beforeAll(async () => {
    slack = await slackDriver();
    discord = await discordDriver();
    const dir = await makeBotDir({ 'leaky.yaml': RUNBOOK });
    await fs.writeFile(path.join(dir, 'printed.txt'), PRINTED.join('\n'));
    bot = await spawnBot({ dir, env: { ...slack.botEnv(), ...discord.botEnv(), ALERTMANAGER_WEBHOOK_TOKEN: WEBHOOK_TOKEN, STEP_SECRET, LOG_LEVEL: 'debug' } });
    await bot.waitForReady(30_000);
    slack.attach(bot.url);
    discord.attach(bot.url);
    const res = await fetch(`${bot.url}/webhooks/alertmanager`, { method: 'POST', headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(leakyAlert()) });
    expect(res.status).toBe(200);
    slackCard = await slack.waitFor(() => slack.cards()[0], 15_000, 'the Slack card');
    discordCard = await discord.waitFor(() => discord.cards()[0], 15_000, 'the Discord card');
    await slack.press('alice', 'run-step:1:leaky:dump', slackCard, slackCard);
    for (const [chat, card] of [
      [slack, slackCard],
      [discord, discordCard],
    ] as const) {
      await chat.waitFor(() => chat.replies(card).find((m) => /Dump settings succeeded/.test(m.text)), 20_000, `the result on ${chat.platform}`);
    }
  }, 90_000);

  afterAll(async () => {
    await bot?.dispose({ removeDir: true });
    await slack?.close();
    await discord?.close();
  });

  it('keeps the thread on Slack and Discord free of every shape, and still shows the rest of the output', () => {
    for (const [chat, card] of [
      [slack, slackCard],
      [discord, discordCard],
    ] as const) {
      // Every version of every message: the run's message is edited as the step goes, and no edit may carry a secret.
      const versions = chat.repliesEver?.(card) ?? [];
      expect(versions.length).toBeGreaterThan(chat.replies(card).length);
      const thread = versions.map((m) => m.text).join('\n');
      expect(thread).toContain('key id [REDACTED]');
      expect(thread).toContain(`using [REDACTED]`);
      expectNoSecrets(`the ${chat.platform} thread`, thread, SHAPES);
    }
  });

  it('keeps secrets out of the links of the Slack and Discord cards, and keeps the links', () => {
    const rows = [{ name: 'card links', secrets: Object.values(LINK_SECRETS) }];
    for (const chat of [slack, discord]) {
      const card = chat.cards()[0]!;
      expect(card.text).toContain('wiki.example/runbooks/leaky');
      expectNoSecrets(`the ${chat.platform} card`, card.text, rows);
    }
  });

  it('keeps the console page, the audit route and the timeline free of every shape', async () => {
    const all = [...SHAPES, { name: 'card links', secrets: Object.values(LINK_SECRETS) }];
    const page = await (await fetch(`${bot.url}/console/incidents/1`)).text();
    expect(page).toContain('LeakyDown');
    expectNoSecrets('the console page', page, all);
    const audit = await (await fetch(`${bot.url}/incidents/1/audit`)).text();
    expect(audit).toContain('step.finished');
    expectNoSecrets('the audit route', audit, all);
    const timeline = await (await fetch(`${bot.url}/incidents/1/timeline`)).text();
    expect(timeline).toContain('Dump settings');
    expectNoSecrets('the timeline', timeline, all);
  });

  it('keeps the audit export and the logs free of every shape', async () => {
    const exported = await run(process.execPath, ['--import', 'tsx', 'src/cli/audit-export.ts'], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', DATABASE_URL: `sqlite:${bot.dbPath}`, RUNBOOKS_DIR: bot.runbooksDir } });
    expect(exported.stdout).toContain('step.finished');
    expectNoSecrets('npm run audit:export', exported.stdout, [...SHAPES, { name: 'card links', secrets: Object.values(LINK_SECRETS) }]);
    expect(bot.logRecords().length).toBeGreaterThan(0);
    expectNoSecrets('the logs', `${bot.stdout()}\n${bot.stderr()}`, [...SHAPES, { name: 'card links', secrets: Object.values(LINK_SECRETS) }]);
  });
});
