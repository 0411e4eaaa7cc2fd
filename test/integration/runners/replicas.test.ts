import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestBot, type TestBot } from '../../support/bot-harness.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { probePostgres, requireService } from '../../support/services.js';
import { EVENTS_PATH, POLL_PATH, pollResponseSchema, type Job } from '../../../src/runners/protocol.js';

/*
 * Two replicas on one PostgreSQL database, as behind a load balancer: a runner whose polls reach
 * replica A runs a step that replica B queued, reports to A, and B records the result. The job is
 * handed out once although both replicas answer the runner's polls.
 */
const server = await requireService('PostgreSQL at 127.0.0.1:5432', probePostgres);

const TOKEN = 'runner-pg-token-0123456789abcdef';
const RUNBOOK = `
name: remote-shop
match: { alertname: ShopDown }
runOn: db-host
steps:
  - id: check
    title: Check
    action: exec
    run: [/bin/true]
`;

const headers = { 'content-type': 'application/json', 'x-runner-name': 'db-host', authorization: `Bearer ${TOKEN}` };

async function poll(bot: TestBot, running: number[] = []): Promise<Job[]> {
  const res = await fetch(`${bot.url}${POLL_PATH}`, { method: 'POST', headers, body: JSON.stringify({ waitMs: 300, running, labels: { host: 'db-host' } }) });
  expect(res.status).toBe(200);
  return pollResponseSchema.parse(await res.json()).jobs;
}

server.describe('runners across replicas on PostgreSQL', () => {
  let db: TestDatabase;
  let a: TestBot;
  let b: TestBot;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase(server.value, 'runners');
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runners-pg-'));
    const runnersFile = path.join(dir, 'runners.yaml');
    await fs.writeFile(runnersFile, `runners:\n  - name: db-host\n    token: ${TOKEN}\n`);
    const env = { DATABASE_URL: db.url, RUNNERS_FILE: runnersFile, RUNNER_HEARTBEAT_TIMEOUT_SECONDS: '5', AUDIT_KEY: 'k'.repeat(40) };
    a = await startTestBot({ runbooks: { 'shop.yaml': RUNBOOK }, env });
    b = await startTestBot({ runbooks: { 'shop.yaml': RUNBOOK }, env });
  });

  afterAll(async () => {
    await a.stop();
    await b.stop();
    await db.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('runs on the runner a step that another replica queued, and hands it out once', async () => {
    await poll(a);
    const step = b.bot.engine.runbooks[0]?.steps[0];
    if (!step) throw new Error('runbook not loaded');
    const running = b.bot.engine.runner.run(step, {}, { signal: new AbortController().signal, redact: (t) => t, env: {}, origin: { runbook: 'remote-shop', purpose: 'step', requestedBy: 'alice', approvers: ['bob'] } });
    let jobs: Job[] = [];
    for (let i = 0; i < 20 && jobs.length === 0; i++) jobs = await poll(a);
    expect(jobs).toHaveLength(1);
    const job = jobs[0] as Job;
    // Neither replica hands it out again.
    expect(await poll(b, [job.id])).toEqual([]);
    expect(await poll(a, [job.id])).toEqual([]);
    const res = await fetch(`${a.url}${EVENTS_PATH}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ events: [{ jobId: job.id, type: 'started' }, { jobId: job.id, type: 'result', result: { status: 'succeeded', summary: 'exit 0 in 2 ms', durationMs: 2, outputTail: '' } }] }),
    });
    expect(((await res.json()) as { results: Array<{ accepted: boolean }> }).results.map((r) => r.accepted)).toEqual([true, true]);
    const result = await running;
    expect(result).toMatchObject({ status: 'succeeded', summary: 'exit 0 in 2 ms on runner db-host' });
    // Both replicas see the runner.
    expect((await a.bot.engine.runners()).map((r) => [r.name, r.connected])).toEqual([['db-host', true]]);
    expect((await b.bot.engine.runners()).map((r) => [r.name, r.connected])).toEqual([['db-host', true]]);
  });
});
