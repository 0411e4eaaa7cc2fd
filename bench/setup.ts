/** Shared set-up of the scenarios: the fake Slack the bot posts to, the webhook target, a throwaway PostgreSQL database. */
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { startFakeSlack, type FakeSlack } from '../test/fakes/slack-api.js';
import { REPO_ROOT } from '../test/support/bot-process.js';
import type { LoadTarget } from './load.js';

export const WEBHOOK_TOKEN = 'bench-webhook-token';
export const SIGNING_SECRET = 'bench-slack-signing-secret';
export const DEFAULT_CHANNEL = 'C0INCIDENTS';
/** The shipped runbooks: start-up validates them all and cards show their offers, as in production. */
export const SHIPPED_RUNBOOKS = path.join(REPO_ROOT, 'manifests', 'runbooks');

/**
 * A fake Slack with Slack's per-channel chat.postMessage limit (≈1/s, bursts of 3) and its
 * workspace chat.update limit (tier 3: 50 a minute), both answered 429 + Retry-After, answering
 * after `latencyMs` (the round trip to slack.com; 0 = loopback).
 */
export function startSlack(latencyMs = 0): Promise<FakeSlack> {
  return startFakeSlack({ rateLimit: { postsPerSecondPerChannel: 1, burst: 3, updatesPerMinute: 50, updateBurst: 50 }, latencyMs });
}

/** The bot's environment: Slack (pointed at the fake), the webhook token, the shipped runbooks. */
export function botEnv(slack: FakeSlack, extra: Record<string, string> = {}): Record<string, string> {
  return {
    RUNBOOKS_DIR: SHIPPED_RUNBOOKS,
    ALERTMANAGER_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_ALERT_CHANNEL: DEFAULT_CHANNEL,
    SLACK_API_URL: slack.url,
    ...extra,
  };
}

/**
 * The first call that put a thread line matching `pattern` in `channel`. A step run is one thread
 * message edited in place, so a line arrives either with the message (chat.postMessage in a thread)
 * or with a later chat.update of it; edits of the card itself (the channel's first message) don't count.
 */
export function threadLine(slack: FakeSlack, channel: string, pattern: RegExp): FakeSlack['calls'][number] | undefined {
  const cardTs = slack.topLevel(channel)[0]?.ts;
  return slack.calls.find((c) => {
    if (c.status !== 200 || c.args.channel !== channel || !pattern.test(String(c.args.text))) return false;
    if (c.method === 'chat.postMessage') return c.args.thread_ts !== undefined;
    return c.method === 'chat.update' && c.args.ts !== cardTs;
  });
}

export function webhookTarget(url: string, body: () => string): LoadTarget {
  return { url, path: '/webhooks/alertmanager', headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` }, body };
}

/** Writes a ROUTES_FILE sending each value of `label` to its own Slack channel; returns its path. */
export async function writeRoutes(dir: string, label: string, channels: ReadonlyMap<string, string>): Promise<string> {
  const file = path.join(dir, 'routes.yaml');
  const routes = [...channels].map(([value, channel]) => ({ match: { [label]: value }, slack: channel }));
  await fsp.writeFile(file, stringify({ routes }));
  return file;
}

const run = promisify(execFile);
const PG = ['-h', '127.0.0.1', '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-tA'];

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh database on the local PostgreSQL (trust auth); throws with the reason when there is none. */
export async function createPostgresDatabase(): Promise<ScratchDatabase> {
  const name = `chatops_bench_${process.pid}_${Date.now()}`;
  await run('psql', [...PG, '-c', `CREATE DATABASE ${name}`], { timeout: 10_000 });
  return {
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    async drop() {
      await run('psql', [...PG, '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { timeout: 10_000 }).catch(() => undefined);
    },
  };
}
