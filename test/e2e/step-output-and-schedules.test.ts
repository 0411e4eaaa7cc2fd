import http from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertmanagerNotification } from '../../src/core/alertmanager-payload.js';
import { schedulesSchema } from '../../src/settings/schedules.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { ConsoleClient, formsOf, sectionOf, textOf } from '../support/console-client.js';
import { loadFixture } from '../support/fixtures.js';

/*
 * Through the running bot and its web console: a step's long output is shown in the thread as a
 * head and a tail with the cut marked and a link to the whole output; the route serves it redacted
 * (a secret the command printed never appears) behind the incident routes' gate. A scheduled
 * checklist whose check crosses its threshold posts a failed item with the value it read, and the
 * console lists that post.
 */

const SECRET = 'xoxb-1111111111-2222222222-outputsecretvalue';

const RUNBOOK = `
name: shop
match: { service: shop }
params:
  data: { default: '{{DIR}}/data', pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: report
    title: Long report
    action: exec
    run: [node, -e, 'for (let i = 1; i <= 150; i++) console.log(i === 75 ? "token in the middle ${SECRET}" : "report line " + i)']
  - id: data-size
    title: Size of the data directory
    action: exec
    run: [du, -sk, '{{data}}']
    expect: [{ label: data KiB, value: '^(\\d+)\\s', max: 100 }]
`;

const SCHEDULES = `
jobs:
  - name: shop-nightly
    title: Shop nightly checklist
    kind: checklist
    cron: '0 3 * * *'
    steps: [{ runbook: shop, step: data-size }]
    post: { platform: console, channel: console }
`;

function shopAlert(): AlertmanagerNotification {
  const n = structuredClone(loadFixture<AlertmanagerNotification>('firing-single.json'));
  n.groupKey = '{}:{alertname="ShopSlow"}';
  const labels = { alertname: 'ShopSlow', service: 'shop', severity: 'warning' };
  n.alerts = [{ ...n.alerts[0]!, fingerprint: 'fp-shop-slow', labels }];
  n.commonLabels = labels;
  n.groupLabels = { alertname: 'ShopSlow' };
  return n;
}

function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('long step output and scheduled checklists, in the console', () => {
  let t: TestBot;
  let alice: ConsoleClient;
  let dataDir: string;
  let schedulesDir: string;

  beforeAll(async () => {
    schedulesDir = await mkdtemp(path.join(os.tmpdir(), 'schedules-'));
    await writeFile(path.join(schedulesDir, 'schedules.yaml'), SCHEDULES);
    t = await startTestBot({ runbooks: { 'shop.yaml': RUNBOOK }, env: { CONSOLE: 'on', SCHEDULES_FILE: path.join(schedulesDir, 'schedules.yaml') } });
    alice = new ConsoleClient(t.url);
    dataDir = path.join(t.dir, 'data');
    await mkdir(dataDir);
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await rm(schedulesDir, { recursive: true, force: true });
  });

  it('shows a long output as head and tail with the cut marked, and serves the whole output redacted at the run route', async () => {
    const posted = await t.postWebhook(shopAlert());
    expect(posted.status).toBe(200);
    const id = Number(posted.json.incidentId);
    const page = await until('the card with its buttons', async () => {
      const res = await alice.get(`/console/incidents/${id}`);
      return formsOf(res.text).some((f) => f.fields.buttonId === `run-step:${id}:shop:report`) && res.text;
    });
    const press = formsOf(page).find((f) => f.fields.buttonId === `run-step:${id}:shop:report`)!;
    expect((await alice.submit(press)).status).toBe(303);

    const thread = await until('the report in the thread', async () => {
      const text = textOf(sectionOf((await alice.get(`/console/incidents/${id}`)).text, 'thread'));
      return /Long report\s*\*?\s*succeeded/.test(text) && text;
    });
    expect(thread).toContain('report line 5');
    expect(thread).toContain('… 133 lines cut …');
    expect(thread).toContain('report line 150');
    expect(thread).not.toContain('report line 75');
    const run = (await t.bot.engine.incidentDetails(id))?.runs.find((r) => r.step === 'report');
    expect(run).toBeDefined();
    const route = `/incidents/${id}/runs/${run!.id}/output`;
    expect(thread).toContain(`Full output: ${route}`);

    const res = await fetch(`${t.url}${route}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const body = await res.text();
    expect(body.split('\n')).toHaveLength(150);
    expect(body).toContain('report line 1\n');
    expect(body).toContain('token in the middle [REDACTED]');
    expect(body).not.toContain(SECRET);
    expect(thread).not.toContain(SECRET);

    // The incident routes' gate: a foreign Host (DNS rebinding) is refused; another incident's number is not found.
    expect(await getWithHost(`${t.url}${route}`, 'evil.example:80')).not.toBe(200);
    expect((await fetch(`${t.url}/incidents/${id + 1}/runs/${run!.id}/output`)).status).toBe(404);
    expect((await fetch(`${t.url}/incidents/${id}/runs/x/output`)).status).toBe(400);
  }, 60_000);

  it('posts a scheduled checklist whose check crosses its threshold as a failed item with the value, and the console lists it', async () => {
    const [job] = schedulesSchema.parse((await import('yaml')).parse(SCHEDULES)).jobs;
    await writeFile(path.join(dataDir, 'small.bin'), Buffer.alloc(4 * 1024, 1));
    // The job's next two slots (03:00 UTC), as its cron timer would fire them.
    const now = new Date();
    const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1, 3, 0));
    await t.bot.scheduler.fire(job!, first);
    await writeFile(path.join(dataDir, 'big.bin'), Buffer.alloc(400 * 1024, 1));
    await t.bot.scheduler.fire(job!, new Date(first.getTime() + 86_400_000));

    const list = await until('the scheduled posts on the console', async () => {
      const section = sectionOf((await alice.get('/')).text, 'scheduled');
      return (section.match(/data-kind="schedule.finished"/g) ?? []).length === 2 && section;
    });
    const [latest, earlier] = [...list.matchAll(/<li [^>]*data-status="(\w+)"[^>]*>([\s\S]*?)<\/li>/g)].map((m) => ({ status: m[1], text: textOf(m[2] ?? '') }));
    expect(latest?.status).toBe('failed');
    expect(latest?.text).toContain('Shop nightly checklist: 0 of 1 checks passed');
    const kib = Number(/data KiB: ❌ (\d+) in/.exec(latest?.text ?? '')?.[1]);
    expect(kib).toBeGreaterThan(100);
    expect(latest?.text).toContain('(max 100)');
    expect(earlier?.status).toBe('succeeded');
    expect(earlier?.text).toMatch(/data KiB: ✅ \d+ \(max 100\)/);
  }, 60_000);
});
