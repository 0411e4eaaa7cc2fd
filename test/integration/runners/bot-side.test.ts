import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBot, type TestBot } from '../../support/bot-harness.js';
import type { RunbookStep } from '../../../src/runbooks/index.js';
import { executeCommand } from '../../../src/core/commands/execute.js';
import { EVENTS_PATH, POLL_PATH, pollResponseSchema, type Job } from '../../../src/runners/protocol.js';
import { routingStepRunner } from '../../../src/runners/step-runner.js';
import { useLocale } from '../../../src/core/i18n/index.js';
import { resultSummary, stepDescription } from '../../../src/core/result-text.js';
import { englishIn } from '../../support/no-english.js';

/*
 * The bot's side of runners, through its real HTTP port and store: the test speaks the runner
 * protocol itself (the runner agent has its own tests), so each answer of the bot can be checked.
 */

const TOKEN_A = 'runner-a-token-0123456789abcdef';
const TOKEN_B = 'runner-b-token-0123456789abcdef';

const RUNBOOK = `
name: remote-shop
match: { alertname: ShopDown }
params:
  host: { fromLabel: instance, pattern: '[a-z0-9.:-]+' }
runOn: { runner: '{{host}}', extract: '([a-z0-9-]+)(:[0-9]+)?' }
steps:
  - id: check
    title: Check
    action: exec
    run: [/bin/true]
`;

let bot: TestBot | undefined;
afterEach(async () => {
  await bot?.stop();
  bot = undefined;
});


/** Starts a bot whose RUNNERS_FILE lists runners a (pinned host=a) and b. */
async function botWithRunners(env: Record<string, string> = {}): Promise<TestBot> {
  const dir = await fs.mkdtemp(path.join((await import('node:os')).tmpdir(), 'runners-file-'));
  const file = path.join(dir, 'runners.yaml');
  await fs.writeFile(file, `runners:\n  - name: a\n    token: ${TOKEN_A}\n    labels: { host: a }\n  - name: b\n    token: ${TOKEN_B}\n`);
  const b = await startTestBot({ runbooks: { 'shop.yaml': RUNBOOK }, env: { RUNNERS_FILE: file, RUNNER_HEARTBEAT_TIMEOUT_SECONDS: '3', ...env } });
  return b;
}

function headers(name: string, token: string) {
  return { 'content-type': 'application/json', 'x-runner-name': name, authorization: `Bearer ${token}` };
}

async function poll(b: TestBot, name: string, token: string, body: Record<string, unknown> = {}) {
  const res = await fetch(`${b.url}${POLL_PATH}`, { method: 'POST', headers: headers(name, token), body: JSON.stringify({ waitMs: 200, ...body }) });
  const json = (await res.json()) as Record<string, unknown>;
  return { status: res.status, json };
}

async function report(b: TestBot, name: string, token: string, events: unknown[]) {
  const res = await fetch(`${b.url}${EVENTS_PATH}`, { method: 'POST', headers: headers(name, token), body: JSON.stringify({ events }) });
  return { status: res.status, json: (await res.json()) as { results?: Array<{ jobId: number; accepted: boolean; reason?: string }> } };
}

/** Polls as the runner until a job arrives. */
async function nextJob(b: TestBot, name: string, token: string, running: number[] = []): Promise<Job> {
  for (let i = 0; i < 50; i++) {
    const { status, json } = await poll(b, name, token, { running });
    expect(status).toBe(200);
    const parsed = pollResponseSchema.parse(json);
    if (parsed.jobs[0]) return parsed.jobs[0];
  }
  throw new Error('no job handed out');
}

function step(b: TestBot): RunbookStep {
  const runbook = b.bot.engine.runbooks.find((r) => r.name === 'remote-shop');
  const found = runbook?.steps[0];
  if (!found) throw new Error('runbook not loaded');
  return found;
}

const origin = { runbook: 'remote-shop', purpose: 'step' as const, incidentId: 7, runId: undefined, requestedBy: 'alice', approvers: ['bob'] };

describe('runners: the bot side', () => {
  it('refuses a wrong token, an unknown runner, a malformed body and a pinned label claimed otherwise', async () => {
    bot = await botWithRunners();
    expect((await poll(bot, 'a', TOKEN_B)).status).toBe(401);
    expect((await poll(bot, 'nobody', TOKEN_A)).status).toBe(401);
    const noAuth = await fetch(`${bot.url}${POLL_PATH}`, { method: 'POST', body: '{}' });
    expect(noAuth.status).toBe(401);
    const malformed = await fetch(`${bot.url}${POLL_PATH}`, { method: 'POST', headers: headers('a', TOKEN_A), body: '{not json' });
    expect(malformed.status).toBe(400);
    const wrongShape = await poll(bot, 'a', TOKEN_A, { running: ['x'] });
    expect(wrongShape.status).toBe(400);
    expect(String(wrongShape.json.message)).toMatch(/running/);
    const conflict = await poll(bot, 'a', TOKEN_A, { labels: { host: 'b' } });
    expect(conflict.status).toBe(403);
    expect(String(conflict.json.message)).toMatch(/pins host=a/);
    // None of these connected anyone.
    expect(await bot.bot.store.transaction((tx) => tx.runners.listRunners())).toEqual([]);
  });

  it('fails at once, naming the runner, when the step\'s runner is not connected; it never runs elsewhere', async () => {
    bot = await botWithRunners();
    await poll(bot, 'b', TOKEN_B);
    const started = Date.now();
    const result = await bot.bot.engine.runner.run(step(bot), { host: 'a:9100' }, { signal: new AbortController().signal, redact: (t) => t, env: {}, origin });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/runner a is not connected \(connected runners: b\)/);
    const jobs = await bot.bot.store.transaction((tx) => tx.runners.openRunnerJobs(null, 10));
    expect(jobs).toEqual([]);
  });

  it('hands a job to its runner once, takes its result once, and refuses reports on jobs it was not sent', async () => {
    bot = await botWithRunners();
    const b = bot;
    await poll(b, 'a', TOKEN_A);
    await poll(b, 'b', TOKEN_B);
    const running = b.bot.engine.runner.run(step(b), { host: 'a:9100' }, { signal: new AbortController().signal, redact: (t) => t, env: {}, origin });
    const job = await nextJob(b, 'a', TOKEN_A);
    expect(job).toMatchObject({ kind: 'run', runbook: 'remote-shop', step: 'check', params: { host: 'a:9100' }, evidence: { purpose: 'step', incidentId: 7, requestedBy: 'alice', approvers: ['bob'] } });
    expect(job.stepHash).toMatch(/^[0-9a-f]{64}$/);
    // Handed out once: the next poll has nothing.
    expect(pollResponseSchema.parse((await poll(b, 'a', TOKEN_A, { running: [job.id] })).json).jobs).toEqual([]);
    // Runner b reports on a's job: refused.
    const foreign = await report(b, 'b', TOKEN_B, [{ jobId: job.id, type: 'result', result: { status: 'succeeded', summary: 'forged', durationMs: 1, outputTail: '' } }]);
    expect(foreign.json.results?.[0]?.accepted).toBe(false);
    expect(foreign.json.results?.[0]?.reason).toMatch(/not sent to runner b/);
    // A job id that does not exist.
    const unknown = await report(b, 'a', TOKEN_A, [{ jobId: 999_999, type: 'started' }]);
    expect(unknown.json.results?.[0]?.accepted).toBe(false);
    const done = await report(b, 'a', TOKEN_A, [
      { jobId: job.id, type: 'started' },
      { jobId: job.id, type: 'result', result: { status: 'succeeded', summary: `exit 0 in 5 ms, token ${TOKEN_A}`, durationMs: 5, outputTail: 'ok' } },
    ]);
    expect(done.json.results?.map((r) => r.accepted)).toEqual([true, true]);
    const result = await running;
    expect(result.status).toBe('succeeded');
    expect(result.summary).toMatch(/on runner a$/);
    // The runner's own token never reaches a thread.
    expect(result.summary).not.toContain(TOKEN_A);
    // A second result for the same job is refused: it is taken once.
    const again = await report(b, 'a', TOKEN_A, [{ jobId: job.id, type: 'result', result: { status: 'failed', summary: 'again', durationMs: 1, outputTail: '' } }]);
    expect(again.json.results?.[0]?.accepted).toBe(false);
    expect(again.json.results?.[0]?.reason).toMatch(/already done/);
  });

  it('reports a step interrupted when its runner stops polling, and refuses the late result', async () => {
    bot = await botWithRunners();
    const b = bot;
    await poll(b, 'a', TOKEN_A);
    const running = b.bot.engine.runner.run(step(b), { host: 'a' }, { signal: new AbortController().signal, redact: (t) => t, env: {}, origin });
    const job = await nextJob(b, 'a', TOKEN_A);
    await report(b, 'a', TOKEN_A, [{ jobId: job.id, type: 'started' }]);
    const silentSince = Date.now();
    const result = await running;
    const waited = Date.now() - silentSince;
    expect(result.status).toBe('interrupted');
    expect(result.summary).toMatch(/runner a stopped sending heartbeats/);
    expect(waited).toBeGreaterThan(2000);
    expect(waited).toBeLessThan(3000 + 3000);
    const late = await report(b, 'a', TOKEN_A, [{ jobId: job.id, type: 'result', result: { status: 'succeeded', summary: 'late', durationMs: 1, outputTail: '' } }]);
    expect(late.json.results?.[0]?.accepted).toBe(false);
    expect(late.json.results?.[0]?.reason).toMatch(/already interrupted/);
  });

  it('marks interrupted a job its runner no longer lists (it restarted), without waiting for the heartbeat bound', async () => {
    bot = await botWithRunners({ RUNNER_HEARTBEAT_TIMEOUT_SECONDS: '60' });
    const b = bot;
    await poll(b, 'a', TOKEN_A);
    const running = b.bot.engine.runner.run(step(b), { host: 'a' }, { signal: new AbortController().signal, redact: (t) => t, env: {}, origin });
    const job = await nextJob(b, 'a', TOKEN_A);
    await poll(b, 'a', TOKEN_A, { running: [] });
    const result = await running;
    expect(result.status).toBe('interrupted');
    expect(result.summary).toMatch(/no longer holds it/);
    expect((await b.bot.store.transaction((tx) => tx.runners.getRunnerJob(job.id)))?.state).toBe('interrupted');
  });

  it('passes a runner\'s refusal to the thread as a failure in which nothing ran', async () => {
    bot = await botWithRunners();
    const b = bot;
    await poll(b, 'b', TOKEN_B);
    const running = b.bot.engine.runner.run(step(b), { host: 'b' }, { signal: new AbortController().signal, redact: (t) => t, env: {}, origin });
    const job = await nextJob(b, 'b', TOKEN_B);
    await report(b, 'b', TOKEN_B, [{ jobId: job.id, type: 'refused', reason: 'step remote-shop/check differs from this host\'s manifests' }]);
    const result = await running;
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/refused by runner b, nothing was run: step remote-shop\/check differs/);
  });

  it('says why a step did not run on its runner in the bot\'s language (LOCALE=zh-CN)', async () => {
    bot = await botWithRunners({ RUNNER_HEARTBEAT_TIMEOUT_SECONDS: '60' });
    const b = bot;
    const previous = useLocale({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' });
    try {
      const run = (host: string) => b.bot.engine.runner.run(step(b), { host }, { signal: new AbortController().signal, redact: (t) => t, env: {}, origin });
      await poll(b, 'b', TOKEN_B);
      const absent = await run('a');
      // Runner b refuses: its reason is its own words, shown as written.
      const refusing = run('b');
      const reason = 'step remote-shop/check differs from this host\'s manifests';
      await report(b, 'b', TOKEN_B, [{ jobId: (await nextJob(b, 'b', TOKEN_B)).id, type: 'refused', reason }]);
      const refused = await refusing;
      // Runner b restarts and no longer lists the job it was given.
      const losing = run('b');
      await nextJob(b, 'b', TOKEN_B);
      await poll(b, 'b', TOKEN_B, { running: [] });
      const lost = await losing;
      // A bot that accepts no runners never runs the step here instead.
      const none = await routingStepRunner(undefined).run(step(b), { host: 'a' }, { signal: new AbortController().signal, redact: (t) => t, env: {}, origin });
      const said = [absent, refused, lost, none].map((r) => resultSummary(r));
      expect(said).toEqual([
        '未执行：runner a 未连接（已连接的 runner：b）',
        `runner b 拒绝执行，未做任何操作：${reason}`,
        '在 runner b 上执行中断：runner b 已不再持有该任务（任务启动前它重启了或丢失了任务）。未自动重跑：请先检查系统，需要时再重新发起',
        '未执行：该步骤要在 runner 上执行，而本机器人不接入 runner（未设置 RUNNERS_FILE）',
      ]);
      const what = stepDescription(b.bot.engine.runner, step(b), { host: 'a:9100' });
      expect(what).toBe('将执行 `/bin/true`（超时 60 秒）（在 runner a 上）');
      expect([...said, what].map((x) => ({ x, english: englishIn(x, { allowed: [reason] }) })).filter((x) => x.english.length > 0)).toEqual([]);
      // The English summaries are the ones the audit keeps, as they were.
      expect([absent, refused, lost, none].map((r) => r.summary)).toEqual([
        'not run: runner a is not connected (connected runners: b)',
        `refused by runner b, nothing was run: ${reason}`,
        'interrupted on runner b: runner b no longer holds it (it restarted or lost it before starting it). It was not re-run: check the system, then request it again if needed',
        'not run: this step runs on a runner, and this bot accepts no runners (RUNNERS_FILE is not set)',
      ]);
    } finally {
      useLocale(previous);
    }
  });

  it('shows connected runners in /runbook runners and the console, and counts their jobs in /metrics', async () => {
    bot = await botWithRunners();
    const b = bot;
    await poll(b, 'a', TOKEN_A, { labels: { service: 'shop' }, version: '9.9.9' });
    const running = b.bot.engine.runner.run(step(b), { host: 'a' }, { signal: new AbortController().signal, redact: (t) => t, env: {}, origin });
    const job = await nextJob(b, 'a', TOKEN_A);
    await report(b, 'a', TOKEN_A, [{ jobId: job.id, type: 'result', result: { status: 'failed', summary: 'exit 1', exitCode: 1, durationMs: 3, outputTail: '' } }]);
    expect((await running).status).toBe('failed');
    // Each poll advertises the runner's labels and version again.
    await poll(b, 'a', TOKEN_A, { labels: { service: 'shop' }, version: '9.9.9' });
    const listed = await executeCommand({ engine: b.bot.engine, actor: { id: 'slack:U1', name: 'alice', platform: 'slack' } } as never, { name: 'runbook', subcommand: 'runners', options: {} });
    expect(listed.text).toMatch(/\*a\* \(service=shop, host=a, version 9\.9\.9\): 🟢 connected since/);
    const page = await (await fetch(`${b.url}/`)).text();
    expect(page).toMatch(/<table id="runners">[\s\S]*<td>a<\/td><td>service=shop, host=a<\/td><td>connected<\/td>/);
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    expect(metrics).toContain('chatops_runner_jobs_total{runner="a",result="failed"} 1');
  });
});
