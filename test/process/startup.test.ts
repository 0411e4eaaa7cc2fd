import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadFixture } from '../support/fixtures.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { freePort, makeBotDir, postWebhook, spawnBot, startBotProcess, type BotProcess } from '../support/bot-process.js';

/** The real bot process: configuration and manifest errors, the Slack-less mode, and secrets in logs. */

const RUNBOOK = `
name: gitcortex
match: { service: gitcortex }
params:
  instance: { fromLabel: instance, pattern: '[a-z0-9.-]+:[0-9]+' }
steps:
  - id: check
    title: Check
    action: exec
    run: [node, -e, 'console.log(process.argv[1])', '{{instance}}']
`;

/** A stack trace line as node prints it (`    at fn (file:line:col)`). */
const STACK_LINE = /^\s+at\s.+(:\d+:\d+\)?|\(native\))$/m;

const bots: BotProcess[] = [];
const track = (bot: BotProcess) => {
  bots.push(bot);
  return bot;
};

afterEach(async () => {
  for (const bot of bots.splice(0)) await bot.dispose({ removeDir: true });
});

describe('bot process start-up', { timeout: 30_000 }, () => {
  it('refuses an invalid configuration with one message listing every problem, and no stack trace', async () => {
    const bot = track(
      await spawnBot({
        runbooks: { 'gitcortex.yaml': RUNBOOK },
        env: { PORT: 'abc', LOG_LEVEL: 'loud', SLACK_BOT_TOKEN: 'xoxb-only-the-token-is-set' },
      }),
    );
    const { code } = await bot.waitForExit();
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const stderr = bot.stderr();
    expect(stderr).toMatch(/Invalid configuration/);
    // Each problem is named, in the one message, so a deploy shows everything to fix at once.
    // (Fails at the time of writing: src/settings/config.ts's superRefine, which reports the missing Slack
    // variables, is skipped by zod when PORT or LOG_LEVEL already failed.)
    for (const name of ['PORT', 'LOG_LEVEL', 'SLACK_SIGNING_SECRET', 'SLACK_ALERT_CHANNEL']) {
      expect(stderr, `stderr names ${name}`).toMatch(new RegExp(`\\b${name}\\b`));
    }
    expect(stderr).not.toMatch(STACK_LINE);
    expect(stderr).not.toContain('xoxb-only-the-token-is-set');
    expect(bot.stdout()).not.toMatch(/listening/);
  });

  it('lists the Slack problems on their own when the rest of the configuration is valid', async () => {
    const bot = track(await spawnBot({ runbooks: { 'gitcortex.yaml': RUNBOOK }, env: { SLACK_BOT_TOKEN: 'xoxb-only-the-token-is-set' } }));
    const { code } = await bot.waitForExit();
    expect(code).not.toBe(0);
    expect(bot.stderr()).toMatch(/\bSLACK_SIGNING_SECRET\b/);
    expect(bot.stderr()).toMatch(/\bSLACK_ALERT_CHANNEL\b/);
    expect(bot.stderr()).not.toMatch(STACK_LINE);
  });

  it('refuses a runbook whose program is templated, naming the file and the path inside it', async () => {
    const bad = `
name: bad
match: {}
steps:
  - id: ok
    title: Fine
    action: exec
    run: [node, -e, '1']
  - id: templated
    title: Templated program
    action: exec
    run: ['{{x}}']
`;
    const bot = track(await spawnBot({ runbooks: { 'good.yaml': RUNBOOK, 'bad.yaml': bad } }));
    const { code } = await bot.waitForExit();
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const stderr = bot.stderr();
    expect(stderr).toContain(path.join(bot.runbooksDir, 'bad.yaml'));
    expect(stderr).toMatch(/steps\.1\.run\.0\b/);
    expect(stderr).not.toContain('good.yaml');
    expect(stderr).not.toMatch(STACK_LINE);
  });

  it('refuses a runbook with a YAML syntax error, naming the file and the line', async () => {
    const broken = 'name: broken\nmatch: {}\nsteps:\n  - id: a\n    title: [unclosed\n';
    const bot = track(await spawnBot({ runbooks: { 'broken.yml': broken } }));
    const { code } = await bot.waitForExit();
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const stderr = bot.stderr();
    expect(stderr).toContain(path.join(bot.runbooksDir, 'broken.yml'));
    expect(stderr).toMatch(/YAML syntax error at line \d+/);
    expect(stderr).not.toMatch(STACK_LINE);
  });

  it('runs without chat credentials: health, readiness, metrics, and stores notifications', async () => {
    const token = 'webhook-token-without-slack-0123';
    const bot = track(await startBotProcess({ runbooks: { 'gitcortex.yaml': RUNBOOK }, env: { ALERTMANAGER_WEBHOOK_TOKEN: token, CONSOLE: 'off' } }));
    await bot.waitForLog(/no chat platform configured/);
    const startLine = bot.logRecords().find((r) => typeof r.msg === 'string' && r.msg.includes('no chat platform configured'));
    expect(startLine?.platforms).toEqual([]);
    expect(startLine?.runbooks).toEqual(['gitcortex']);

    const health = await fetch(`${bot.url}/healthz`);
    expect(health.status).toBe(200);
    await health.arrayBuffer();
    const ready = await fetch(`${bot.url}/readyz`);
    expect(ready.status).toBe(200);
    await ready.arrayBuffer();

    const before = await fetch(`${bot.url}/metrics`);
    expect(before.status).toBe(200);
    expect(before.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await before.text();
    for (const name of [
      'chatops_notifications_received_total',
      'chatops_incidents_open',
      'chatops_step_runs_total',
      'chatops_chat_api_errors_total',
      'chatops_ingest_duration_seconds',
      'chatops_step_duration_seconds',
    ]) {
      expect(text, `metrics list ${name}`).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'));
    }
    expect(text).toMatch(/^chatops_incidents_open 0$/m);

    const stored = await postWebhook(bot.url, loadFixture<object>('firing-single.json'), { authorization: `Bearer ${token}` });
    expect(stored).toEqual({ status: 200, json: { status: 'stored', incidentId: 1, created: true } });
    const unauthorized = await postWebhook(bot.url, loadFixture<object>('firing-single.json'));
    expect(unauthorized.status).toBe(401);

    const after = await (await fetch(`${bot.url}/metrics`)).text();
    expect(after).toMatch(/^chatops_notifications_received_total\{result="stored"\} 1$/m);
    expect(after).toMatch(/^chatops_notifications_received_total\{result="rejected"\} 1$/m);
    expect(after).toMatch(/^chatops_incidents_open 1$/m);
    expect(after).toMatch(/^chatops_ingest_duration_seconds_count 1$/m);

    const audit = await fetch(`${bot.url}/incidents/1/audit`);
    expect(audit.status).toBe(200);
    const { events } = (await audit.json()) as { events: Array<{ kind: string }> };
    expect(events.map((e) => e.kind)).toEqual(['alert.received']);
  });

  /**
   * Starts the bot with distinctive secrets and Slack at `apiUrl`, sends a wrong token, a valid
   * notification (whose card cannot be delivered) and a badly signed Slack request, waits for the
   * delivery-failure warning, stops the bot, and returns everything it printed.
   */
  async function secretsScenario(apiUrl: string, botToken: string) {
    const bot = track(
      await startBotProcess({
        runbooks: { 'gitcortex.yaml': RUNBOOK },
        env: {
          ALERTMANAGER_WEBHOOK_TOKEN: SECRETS.webhookToken,
          SLACK_BOT_TOKEN: botToken,
          SLACK_SIGNING_SECRET: SECRETS.signingSecret,
          SLACK_ALERT_CHANNEL: 'C0ALERTS',
          SLACK_API_URL: apiUrl,
          // debug: the Slack SDK logs request headers and bodies at this level.
          LOG_LEVEL: 'debug',
        },
      }),
    );
    await bot.waitForLog(/chat platforms enabled: slack/);

    // A wrong token that shares a prefix with the real one; the rejection is logged.
    const wrong = await postWebhook(bot.url, loadFixture<object>('firing-single.json'), { authorization: `Bearer ${SECRETS.webhookToken.slice(0, 20)}-wrong` });
    expect(wrong.status).toBe(401);
    const ok = await postWebhook(bot.url, loadFixture<object>('firing-single.json'), { authorization: `Bearer ${SECRETS.webhookToken}` });
    expect(ok.status).toBe(200);
    // A Slack request with a bad signature is refused (and logged by Bolt).
    const press = await fetch(`${bot.url}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-signature': 'v0=00', 'x-slack-request-timestamp': String(Math.floor(Date.now() / 1000)) },
      body: 'payload=%7B%7D',
    });
    await press.arrayBuffer();
    expect(press.status).toBeGreaterThanOrEqual(400);

    await bot.waitForLog(/chat delivery failed/, 20_000);
    bot.kill('SIGTERM');
    const exit = await bot.waitForExit();
    return { exit, output: `${bot.stdout()}\n${bot.stderr()}` };
  }

  const SECRETS = {
    webhookToken: 'WHK7qz3vXr9Lm2Pa8Ns4Tb6Yc1Ud5E',
    signingSecret: 'sign-secret-8f3e2d1c0b9a8f7e6d5c',
  };

  const expectNoSecrets = (output: string, botToken: string) => {
    expect(SECRETS.webhookToken).toHaveLength(30);
    expect(output).toMatch(/chat delivery failed/);
    for (const secret of [SECRETS.webhookToken, botToken, SECRETS.signingSecret]) {
      expect(output.includes(secret), `output contains ${secret}`).toBe(false);
    }
    // Not even the distinctive middle of the bot token (e.g. a token cut or re-encoded in a message).
    expect(output).not.toContain(botToken.slice(5, 25));
  };

  it('never prints the webhook token or the Slack bot token when Slack is unreachable (closed port)', async () => {
    const botToken = 'xoxb-4242424242-SECRETBOTTOKENzq7Rm9';
    // A port nobody listens on (not port 9: fetch refuses "bad ports" before connecting).
    const closedPort = await freePort();
    const { exit, output } = await secretsScenario(`http://127.0.0.1:${closedPort}/api/`, botToken);
    expect(exit.code).toBe(0);
    expectNoSecrets(output, botToken);
  });

  it('never prints the webhook token or the Slack bot token when Slack refuses deliveries', async () => {
    const botToken = 'xoxb-5353535353-OTHERBOTTOKENk2Wq8';
    const slack = await startFakeSlack({ token: botToken, rateLimit: false });
    try {
      slack.failNext('chat.postMessage', 1000, { status: 500 });
      const { exit, output } = await secretsScenario(slack.url, botToken);
      expect(exit.code).toBe(0);
      expect(slack.callsTo('chat.postMessage').length).toBeGreaterThan(0);
      expectNoSecrets(output, botToken);
    } finally {
      await slack.close();
    }
  });

  it('keeps running when the Slack API is unreachable at start-up', async () => {
    const closedPort = await freePort();
    const bot = track(
      await startBotProcess({
        runbooks: { 'gitcortex.yaml': RUNBOOK },
        env: { SLACK_BOT_TOKEN: 'xoxb-1111111111-unreachable', SLACK_SIGNING_SECRET: 'signing-secret-unreachable', SLACK_ALERT_CHANNEL: 'C0ALERTS', SLACK_API_URL: `http://127.0.0.1:${closedPort}/api/` },
      }),
    );
    // The Slack client gives up after its retries within ~1 s; the bot must outlive that (the outbox
    // retries later). Bolt's own auth.test at construction once rejected unhandled here and killed the process.
    const until = Date.now() + 2500;
    while (Date.now() < until && !bot.exited()) await new Promise((r) => setTimeout(r, 100));
    expect(bot.exited(), `the bot exited; stderr:\n${bot.stderr().slice(0, 600)}`).toBeUndefined();
    const health = await fetch(`${bot.url}/healthz`);
    expect(health.status).toBe(200);
    await health.arrayBuffer();
  });

  it('creates the database folder when it does not exist', async () => {
    const dir = await makeBotDir({ 'gitcortex.yaml': RUNBOOK });
    const nested = path.join(dir, 'nested', 'deeper', 'bot.db');
    const second = track(await startBotProcess({ dir, env: { DATABASE_URL: `sqlite:${nested}` } }));
    const ready = await fetch(`${second.url}/readyz`);
    expect(ready.status).toBe(200);
    await ready.arrayBuffer();
    await expect(fs.stat(nested)).resolves.toBeTruthy();
  });
});
