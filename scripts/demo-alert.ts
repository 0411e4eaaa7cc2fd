/**
 * Entry point (reads process.env): sends the demo shop's ShopDown alert to a running bot, the way
 * Alertmanager would (webhook payload version 4), so the demo needs no Prometheus or Alertmanager.
 *
 *   npm run demo:alert                 # firing: opens (or refreshes) the incident
 *   npm run demo:alert -- --resolve    # resolved: the incident is marked resolved
 *   npm run demo:alert -- --url http://127.0.0.1:3000
 *
 * The bot is http://127.0.0.1:${PORT:-3000} unless --url is given; ALERTMANAGER_WEBHOOK_TOKEN,
 * when set, is sent as the Bearer token. The alert's `instance` label is the shop's address:
 * 127.0.0.1 and DEMO_PORT, else the port the shop was started on (data/demo/service.port, or under
 * DEMO_DATA_DIR), else 3080.
 *
 * Every firing notification goes to the same Alertmanager group, so sending it again refreshes the
 * open incident rather than opening a second one; after --resolve, the next firing opens a new one.
 * As Alertmanager does, every notification of one firing episode carries the same `startsAt` (kept
 * in the data folder's alert.startsAt until --resolve), so the incident's duration is right.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { notificationSchema, ZERO_TIME, type AlertmanagerNotification } from '../src/core/alertmanager-payload.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CTL = 'node demo/service/ctl.mjs';
/** Where `npm start` and ctl.mjs keep the shop's files. */
const dataDirOf = (env: NodeJS.ProcessEnv) => path.resolve(REPO_ROOT, env.DEMO_DATA_DIR?.trim() || path.join('data', 'demo'));
const USAGE = 'usage: npm run demo:alert [-- --resolve] [-- --url http://127.0.0.1:3000]';

/** The same labels every time: Alertmanager's fingerprint and group depend only on them. */
export function demoLabels(demoPort: number): Record<string, string> {
  return { alertname: 'ShopDown', service: 'demo-shop', severity: 'critical', instance: `127.0.0.1:${demoPort}` };
}

/** A ShopDown notification for the demo shop on `demoPort`, firing or resolved, sent at `now`. */
export function demoAlert(options: { status: 'firing' | 'resolved'; demoPort: number; now: Date; startsAt?: string }): AlertmanagerNotification {
  const labels = demoLabels(options.demoPort);
  const annotations = {
    summary: 'The demo shop is down',
    description: `http://${labels.instance}/health has not answered 200 for 1 minute; checkouts are failing.`,
    runbook: 'demo/README.md',
  };
  const at = options.now.toISOString();
  const sorted = Object.keys(labels)
    .sort()
    .map((name) => `${name}=${labels[name] ?? ''}`)
    .join(',');
  return {
    version: '4',
    groupKey: '{}/{service="demo-shop"}:{alertname="ShopDown", service="demo-shop"}',
    truncatedAlerts: 0,
    status: options.status,
    receiver: 'chatops-bot',
    groupLabels: { alertname: 'ShopDown', service: 'demo-shop' },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: 'http://127.0.0.1:9093',
    alerts: [
      {
        status: options.status,
        labels,
        annotations,
        startsAt: options.startsAt ?? at,
        endsAt: options.status === 'resolved' ? at : ZERO_TIME,
        generatorURL: '',
        fingerprint: createHash('sha256').update(sorted).digest('hex').slice(0, 16),
      },
    ],
  };
}

interface Options {
  status: 'firing' | 'resolved';
  botUrl: string;
}

function parseArgs(args: string[], env: NodeJS.ProcessEnv): Options {
  const options: Options = { status: 'firing', botUrl: `http://127.0.0.1:${env.PORT?.trim() || '3000'}` };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--resolve' || arg === '--resolved') options.status = 'resolved';
    else if (arg === '--url') {
      const url = args[++i];
      if (!url) throw new Error(`--url needs the bot's base URL\n${USAGE}`);
      options.botUrl = url.replace(/\/+$/, '');
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unexpected argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return options;
}

/** DEMO_PORT, else the port the shop was last started on, else 3080. */
function demoPort(env: NodeJS.ProcessEnv): number {
  const fromFile = (() => {
    try {
      return readFileSync(path.join(dataDirOf(env), 'service.port'), 'utf8').trim();
    } catch {
      return undefined;
    }
  })();
  const raw = env.DEMO_PORT?.trim() || fromFile || '3080';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`DEMO_PORT must be a port number, not ${JSON.stringify(raw)}`);
  return port;
}

/** The `startsAt` of the episode in progress, if a firing alert was sent and not yet resolved. */
function readStartsAt(file: string): string | undefined {
  try {
    const value = readFileSync(file, 'utf8').trim();
    return Number.isNaN(Date.parse(value)) ? undefined : value;
  } catch {
    return undefined;
  }
}

/** What the shop answers right now, in words (the alert is sent whatever it says). */
async function shopState(port: number): Promise<'healthy' | 'broken' | 'down'> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200 ? 'healthy' : 'broken';
  } catch {
    return 'down';
  }
}

async function main(env: NodeJS.ProcessEnv, args: string[]): Promise<void> {
  const options = parseArgs(args, env);
  const port = demoPort(env);
  const now = new Date();
  const episode = path.join(dataDirOf(env), 'alert.startsAt');
  const startsAt = readStartsAt(episode) ?? now.toISOString();
  const payload = notificationSchema.parse(demoAlert({ status: options.status, demoPort: port, now, startsAt }));
  const token = env.ALERTMANAGER_WEBHOOK_TOKEN?.trim();
  const webhook = `${options.botUrl}/webhooks/alertmanager`;

  let res: Response;
  try {
    res = await fetch(webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot reach the bot at ${webhook} (${cause}).\n  Start it with \`npm start\` (it runs the demo shop and its runbook),\n  or set PORT to the port the bot listens on, or pass --url`,
    );
  }
  const text = await res.text();
  if (res.status === 200) {
    // The episode ends with its resolution; the next firing starts a new one.
    if (options.status === 'resolved') rmSync(episode, { force: true });
    else {
      mkdirSync(path.dirname(episode), { recursive: true });
      writeFileSync(episode, `${startsAt}\n`);
    }
  }
  if (res.status === 401) {
    throw new Error(`the bot refused the alert (401): set ALERTMANAGER_WEBHOOK_TOKEN to the bot's webhook token${token ? ' (the one set is wrong)' : ''}`);
  }
  if (res.status !== 200) throw new Error(`the bot answered ${res.status}: ${text.slice(0, 500)}`);
  const answer = JSON.parse(text) as { status?: string; incidentId?: number; created?: boolean };
  const id = answer.incidentId;

  const what = options.status === 'firing' ? 'ShopDown (firing)' : 'ShopDown (resolved)';
  const outcome = answer.status === 'duplicate' ? 'already received (a repeat)' : answer.created ? `opened incident #${id}` : `updated incident #${id}`;
  console.log(`Sent ${what} for demo-shop at 127.0.0.1:${port} → ${outcome}.`);
  console.log(`  console:     ${options.botUrl}/console/incidents/${id}`);
  console.log(`  audit trail: ${options.botUrl}/incidents/${id}/audit`);
  console.log('');

  const state = await shopState(port);
  if (options.status === 'resolved') {
    if (state !== 'healthy') console.log(`Note: the shop is ${state} right now; resolving only closes the incident.`);
    console.log('Next: the card shows the incident as resolved. Fire again with `npm run demo:alert`.');
    return;
  }
  if (state === 'down') {
    console.log(`The shop is not running on 127.0.0.1:${port}: \`npm start\` starts it (or \`${CTL} start\`); then break it with \`${CTL} break\`.`);
  } else if (state === 'healthy') {
    console.log(`The shop is healthy right now, so the health check will pass. To see it fail: \`${CTL} break\`.`);
  } else {
    console.log('The shop is broken (its /health answers 500), as the alert says.');
  }
  console.log('Next, on the incident card:');
  console.log('  1. press "Health check" (read-only: runs at once and shows the 500 in the thread);');
  console.log('  2. press "Fix the shop" as one user, then approve it as another (the console\'s "you are" box);');
  console.log('  3. the thread shows the restart and a passing health check; then `npm run demo:alert -- --resolve`.');
}

// Runs when started as a script (npm run demo:alert, tsx scripts/demo-alert.ts), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.env, process.argv.slice(2)).catch((error: unknown) => {
    console.error(`demo-alert: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
