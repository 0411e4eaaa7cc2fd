import { afterAll, beforeAll, expect, it } from 'vitest';
import { resultDetails, resultSummary, stepDescription } from '../../../src/core/result-text.js';
import { localStepRunner, runStep, type RunbookStep, type StepResult } from '../../../src/runbooks/index.js';
import { freePort } from '../../support/bot-process.js';
import { composeProject, containersOf, requireDocker, type ComposeProject } from '../../support/compose-project.js';
import { englishIn, speaking } from '../../support/no-english.js';
import { opsStep } from '../../support/ops-steps.js';

/*
 * The compose action on a real engine reaches a zh-CN bot in Chinese: ps (states as findings),
 * stop (waits until stopped) and start (waits until running). Container states are Docker's own
 * words (running, exited), shown as written; in English the summary is the action's own line.
 */

const docker = await requireDocker();
const PREFIX = 'ops-compose-zh';
/** Values shown as written: Docker's state words, and the service's name. */
const VALUES = ['running', 'exited', 'web'];

const run = (step: RunbookStep): Promise<StepResult> => runStep(step, {}, { signal: new AbortController().signal, redact: (s) => s, env: process.env });

/** What a zh-CN bot shows, checked for English; and the English summary, unchanged. */
function shown(result: StepResult, step: RunbookStep): { summary: string; details: string; description: string } {
  const zh = speaking({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' }, () => ({
    summary: resultSummary(result),
    details: resultDetails(result),
    description: stepDescription(localStepRunner, step, {}),
  }));
  for (const text of Object.values(zh)) expect(englishIn(text, { allowed: VALUES }), text).toEqual([]);
  expect(speaking({ locale: 'en', timeZone: 'UTC' }, () => resultSummary(result))).toBe(result.summary);
  return zh;
}

docker.describe('compose in zh-CN on a real engine', () => {
  let p: ComposeProject;

  beforeAll(async () => {
    p = composeProject({ prefix: PREFIX, compose: docker.value.compose, ports: { web: await freePort() } });
    await p.up();
  }, 120_000);

  afterAll(async () => {
    await p?.dispose();
    expect(await containersOf(PREFIX)).toEqual([]);
  }, 60_000);

  it('ps: the containers and their states', async () => {
    const step = opsStep('compose', { command: 'ps', projectDir: p.dir });
    const result = await run(step);
    expect(result.status, result.summary).toBe('succeeded');
    const zh = shown(result, step);
    expect(zh.summary).toMatch(/^共 1 个容器：\S*web\S* running$/);
    expect(zh.details).toContain(`\n• 项目目录: ${p.dir}`);
    expect(zh.description).toBe(`将列出 ${p.dir} 项目的全部容器及其状态（超时 20 秒）`);
  }, 60_000);

  it('stop, then start: each waits for the state it wants', async () => {
    const stop = opsStep('compose', { command: 'stop', service: 'web', projectDir: p.dir }, { timeoutSeconds: 60 });
    const stopped = await run(stop);
    expect(stopped.status, stopped.summary).toBe('succeeded');
    const zhStopped = shown(stopped, stop);
    expect(zhStopped.summary).toMatch(/^已执行 `.+ stop web`（耗时 [\d.]+ (毫秒|秒)）；服务 web 已停止；容器状态：\S*web\S* exited \(\d+\)$/);
    expect(zhStopped.description).toBe(`将停止 ${p.dir} 中的服务 web，并确认其已停止（限时 60 秒）（超时 60 秒）`);

    const start = opsStep('compose', { command: 'start', service: 'web', projectDir: p.dir, withinSeconds: 30 }, { timeoutSeconds: 60 });
    const started = await run(start);
    expect(started.status, started.summary).toBe('succeeded');
    const zhStarted = shown(started, start);
    expect(zhStarted.summary).toMatch(/^已执行 `.+ start web`（耗时 [\d.]+ (毫秒|秒)）；已运行（等待 [\d.]+ (毫秒|秒)，检查 \d+ 次）$/);
    expect(zhStarted.description).toBe(`将启动 ${p.dir} 中的服务 web 并等待其运行（限时 30 秒）（超时 60 秒）`);
  }, 120_000);
});
