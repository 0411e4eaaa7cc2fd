import { mkdir, mkdtemp, readlink, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocaleSetting } from '../../../src/core/i18n/index.js';
import { resultDetails, resultSummary, stepDescription } from '../../../src/core/result-text.js';
import { localStepRunner, parseRunbook, type RunbookStep, type StepResult } from '../../../src/runbooks/index.js';
import { englishIn, speaking } from '../../support/no-english.js';
import { startSupervisedService, stopAllServices, type SupervisedService } from '../../support/ops-service.js';
import { fakeHttp, opsStep, runOps, type FakeHttp } from '../../support/ops-steps.js';
import { useTempDirs } from './helpers.js';

/*
 * The typed operations reach a zh-CN bot in Chinese: a real restart by command of a supervised
 * process, a real `current`-symlink rollback (switched, refused, kept after a failed verify), real
 * checks against a local HTTP server and a SQLite file, and an exec and an HTTP step whose
 * `expect:` fails. Summaries, findings and descriptions hold no English but values (paths, argv,
 * URLs); in English the summary is still the action's own line.
 */

/** A temp dir per test (removed after it); `shared` holds what lives across a describe's tests. */
const tempDir = useTempDirs();
let shared = '';
beforeAll(async () => {
  shared = await mkdtemp(path.join(os.tmpdir(), 'ops-zh-'));
});
const ZH: LocaleSetting = { locale: 'zh-CN', timeZone: 'Asia/Shanghai' };

/**
 * What a zh-CN bot shows of a result and of its step (described as it is now), each checked for
 * English (values `allowed`).
 */
function shownInChinese(result: StepResult, step: RunbookStep, allowed: string[] = []): { summary: string; details: string; description: string } {
  const shown = speaking(ZH, () => ({ summary: resultSummary(result), details: resultDetails(result), description: stepDescription(localStepRunner, step, {}) }));
  expect(englishIn(shown.summary, { allowed }), shown.summary).toEqual([]);
  expect(englishIn(shown.details, { allowed }), shown.details).toEqual([]);
  expect(englishIn(shown.description, { allowed }), shown.description).toEqual([]);
  // English is the action's own line, unchanged.
  speaking({ locale: 'en', timeZone: 'UTC' }, () => {
    expect(resultSummary(result)).toBe(result.summary);
    expect(stepDescription(localStepRunner, step, {})).toBe(localStepRunner.describe(step, {}));
  });
  return shown;
}

afterAll(async () => {
  await stopAllServices();
  await rm(shared, { recursive: true, force: true });
});

describe('restart by command in zh-CN', () => {
  let service: SupervisedService;
  beforeAll(async () => {
    const dir = path.join(shared, 'service');
    await mkdir(dir);
    service = await startSupervisedService({ dir });
  });

  it('says the restart and its verify, the findings and the description in Chinese', async () => {
    const step = opsStep('restart', { kind: 'command', run: service.restartArgv, verify: { kind: 'http', url: `${service.baseUrl}/health`, intervalSeconds: 0.1, withinSeconds: 10 } });
    const before = await service.get();
    const result = await runOps(step);
    expect(result.status, result.summary).toBe('succeeded');
    expect((await service.get()).pid).not.toBe(before.pid);

    const shown = shownInChinese(result, step);
    // Quick enough, the new process answers at verify's first attempt: both wordings are right.
    expect(shown.summary).toMatch(/^已执行重启命令 `.+restart\.mjs .+service\.pid`（耗时 [\d.]+ (毫秒|秒)）；(首次检查即健康|检查 \d+ 次后恢复健康（用时 [\d.]+ (毫秒|秒)）)；HTTP 200$/);
    expect(shown.details).toContain('\n• 重启命令退出码: 0');
    expect(shown.details).toContain(`\n• 验证·检查对象: ${service.baseUrl}/health`);
    expect(shown.details).toContain('\n• 验证·最后一次结果: HTTP 200');
    expect(shown.description).toBe(`将执行 \`${service.restartArgv.join(' ')}\`，然后验证 ${service.baseUrl}/health → 200（限时 10 秒）（超时 20 秒）`);
  });

  it('says why a restart command failed: its exit code and its own line', async () => {
    const step = opsStep('restart', { kind: 'command', run: [process.execPath, '-e', 'console.error("supervisor: no such process"); process.exit(3)'], verify: { kind: 'http', url: service.baseUrl } });
    const result = await runOps(step);
    expect(result.status).toBe('failed');
    const shown = shownInChinese(result, step, ['supervisor: no such process']);
    expect(shown.summary).toBe(`重启命令 \`${process.execPath} -e 'console.error("supervisor: no such process"); process.exit(3)'\` 执行失败；${process.execPath} 退出码 3；输出：supervisor: no such process`);
  });
});

describe('rollback of a `current` symlink in zh-CN', () => {
  let health: FakeHttp;
  let healthy = true;
  let current = '';
  let releasesDir = '';
  beforeAll(async () => {
    health = await fakeHttp(() => (healthy ? { status: 200, body: 'ok' } : { status: 503, body: 'migrations pending' }));
    const root = path.join(shared, 'app');
    releasesDir = path.join(root, 'releases');
    for (const release of ['v1', 'v2', 'v3']) await mkdir(path.join(releasesDir, release), { recursive: true });
    current = path.join(root, 'current');
    await symlink('releases/v3', current);
  });
  afterAll(async () => {
    await health.close();
  });

  const rollbackStep = () => opsStep('rollback', { kind: 'symlink', current, releasesDir, verify: { kind: 'http', url: `${health.url}/health`, intervalSeconds: 0.2, withinSeconds: 1 } });

  it('switches back and verifies, said in Chinese', async () => {
    const step = rollbackStep();
    const description = speaking(ZH, () => stepDescription(localStepRunner, step, {}));
    expect(description).toBe(`将把 ${current} 从 releases/v3 切换到 releases/v2，然后验证 ${health.url}/health → 200（限时 1 秒）（超时 20 秒）`);
    const result = await runOps(step);
    expect(result.status, result.summary).toBe('succeeded');
    expect(await readlink(current)).toBe('releases/v2');
    const shown = shownInChinese(result, step);
    expect(shown.summary).toBe(`已将 ${current} 从 releases/v3 切换到 releases/v2；首次检查即健康；HTTP 200`);
    expect(shown.details).toContain(`\n• 符号链接: ${current}\n• 原指向: releases/v3 (v3)\n• 新指向: releases/v2 (v2)`);
  });

  it('keeps the switch when verify fails afterwards, and says so', async () => {
    healthy = false;
    try {
      const step = rollbackStep();
      const result = await runOps(step);
      expect(result.status).toBe('failed');
      expect(await readlink(current)).toBe('releases/v1');
      // Described now, the step could not switch again (the next test): the findings and summary are what count here.
      const shown = speaking(ZH, () => ({ summary: resultSummary(result), details: resultDetails(result) }));
      expect(englishIn(shown.summary)).toEqual([]);
      expect(englishIn(shown.details)).toEqual([]);
      expect(shown.summary).toMatch(new RegExp(`^已将 ${current} 从 releases/v2 切换到 releases/v1；1 秒内检查 \\d+ 次，仍未恢复健康；HTTP 503（期望状态码 200）；符号链接保持在切换后的版本，未切回$`));
      expect(shown.details).toContain(`\n• 未切回: ${current}`);
      expect(shown.details).toContain('\n• 验证·最后一次结果: HTTP 503');
    } finally {
      healthy = true;
    }
  });

  it('refuses when there is no release before the current one, said in Chinese', async () => {
    const step = rollbackStep();
    const result = await runOps(step);
    expect(result.status).toBe('failed');
    expect(result.summary).toBe('refused: there is no release before v1 (releases: v1, v2, v3); nothing was switched');
    const problem = 'there is no release before v1 (releases: v1, v2, v3)';
    // The description names why not as the action wrote it (a value of its code); the result says it in Chinese.
    const shown = shownInChinese(result, step, [problem]);
    expect(shown.summary).toBe('未执行；没有比 v1 更早的版本（现有版本：v1, v2, v3）；未做任何切换');
    expect(shown.details).toBe(`\n• 符号链接未改动: ${current} → releases/v1`);
    expect(shown.description).toBe(`将把 ${current} 切换到 ${releasesDir} 中的上一个版本（目前无法切换：${problem}），然后验证 ${health.url}/health → 200（限时 1 秒）（超时 20 秒）`);
  });
});

describe('verify in zh-CN', () => {
  it('checks a real SQLite file, and refuses a relative path', async () => {
    const file = path.join(await tempDir(), 'app.db');
    await execa('sqlite3', [file, 'CREATE TABLE t(x); INSERT INTO t VALUES (1);']);
    const step = opsStep('verify', { kind: 'sql', engine: 'sqlite', path: file });
    const result = await runOps(step);
    expect(result.status, result.summary).toBe('succeeded');
    // The engine is the manifest's value, shown as written.
    const shown = shownInChinese(result, step, ['sqlite']);
    expect(shown.summary).toBe('首次检查即健康；`SELECT 1` 返回 1');
    expect(shown.details).toContain('\n• 最后一次结果: `SELECT 1` → 1');
    expect(shown.description).toBe(`将检查 sqlite 数据库 ${file} 能否执行 \`SELECT 1\`（每 2 秒一次，限时 30 秒）（超时 20 秒）`);

    const relative = opsStep('verify', { kind: 'sql', engine: 'sqlite', path: 'app.db' });
    const refused = await runOps(relative);
    expect(refused.summary).toBe('refused: the sqlite path must be absolute: "app.db"');
    expect(shownInChinese(refused, relative, ['sqlite', 'app.db']).summary).toBe('未执行检查；SQLite 数据库路径必须是绝对路径："app.db"');
  });

  it('checks a real HTTP server: a body that lacks the text, a refused connection', async () => {
    const server = await fakeHttp(() => ({ status: 200, body: 'starting' }));
    try {
      const step = opsStep('verify', { kind: 'http', url: `${server.url}/health`, bodyContains: 'ready', intervalSeconds: 0.2, withinSeconds: 1 });
      const result = await runOps(step);
      expect(result.status).toBe('failed');
      const shown = shownInChinese(result, step, ['ready']);
      expect(shown.summary).toMatch(/^1 秒内检查 \d+ 次，仍未恢复健康；HTTP 200，但响应内容不含 "ready"$/);
      expect(shown.description).toBe(`将检查 ${server.url}/health 是否返回 200 且响应内容包含 "ready"（每 0.2 秒一次，限时 1 秒）（超时 20 秒）`);
    } finally {
      await server.close();
    }
    const closed = opsStep('verify', { kind: 'http', url: server.url, intervalSeconds: 0.2, withinSeconds: 1 });
    const result = await runOps(closed);
    const shown = shownInChinese(result, closed, ['ECONNREFUSED']);
    expect(shown.summary).toMatch(/^1 秒内检查 \d+ 次，仍未恢复健康；请求失败：ECONNREFUSED$/);
    expect(shown.details).toContain('\n• 最后一次结果: ECONNREFUSED');
  });
});

describe('a failed `expect:` check in zh-CN', () => {
  const disk = parseRunbook(
    `
name: checks
match: {}
steps:
  - id: disk
    title: Disk use
    action: exec
    run: [node, -e, 'console.log("/dev/sda1 91% /")']
    expect: [{ label: disk use %, value: '(\\d+)%', max: 85 }]
`,
    'checks.yaml',
  ).steps[0]!;

  it('says the exit code and the problem on an exec step', async () => {
    const result = await localStepRunner.run(disk, {}, { signal: new AbortController().signal, redact: (s) => s, env: { PATH: process.env.PATH } });
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/^exit 0 in .+, but disk use % 91 outside max 85$/);
    const summary = speaking(ZH, () => resultSummary(result));
    expect(summary).toMatch(/^退出码 0，耗时 [\d.]+ (毫秒|秒)；检查未通过：disk use % 为 91，超出范围（≤ 85）$/);
    expect(englishIn(summary, { allowed: ['disk use %'] })).toEqual([]);
    expect(speaking({ locale: 'en', timeZone: 'UTC' }, () => resultSummary(result))).toBe(result.summary);
    expect(englishIn(speaking(ZH, () => stepDescription(localStepRunner, disk, {})))).toEqual([]);
  });

  it('says every kind of finding in Chinese: a value outside and within its bounds, lines that must not and must appear', async () => {
    const step = parseRunbook(
      `
name: checks
match: {}
steps:
  - id: many
    title: Many checks
    action: exec
    run: [node, -e, 'console.log("/dev/sda1 91% /\\n/dev/sdb1 40% /data\\nERROR disk full\\nbackup-1.tar.gz")']
    expect:
      - { label: disk use %, value: '(\\d+)%', max: 85 }
      - { label: inode use %, value: 'sdb1 (\\d+)%', max: 85 }
      - { label: ERROR lines, absent: ERROR }
      - { label: warnings, absent: WARN }
      - { label: a backup, present: 'backup-\\d+' }
      - { label: a checksum, present: sha256 }
`,
      'checks.yaml',
    ).steps[0]!;
    const result = await localStepRunner.run(step, {}, { signal: new AbortController().signal, redact: (s) => s, env: { PATH: process.env.PATH } });
    expect(result.status).toBe('failed');
    const details = speaking(ZH, () => resultDetails(result));
    for (const line of ['• disk use %: ❌ 91 `/dev/sda1 91% /`（要求 ≤ 85）', '• inode use %: ✅ 40（要求 ≤ 85）', '• ERROR lines: ❌ 出现 1 处，最后一处：`ERROR disk full`', '• warnings: ✅ 无', '• a backup: ✅ `backup-1.tar.gz`', '• a checksum: ❌ 输出中未找到']) {
      expect(details).toContain(line);
    }
    expect(englishIn(details, { allowed: ['disk use %', 'inode use %', 'ERROR lines', 'warnings', 'a backup', 'a checksum'] })).toEqual([]);
    // English keeps the findings as the check wrote them.
    expect(speaking({ locale: 'en', timeZone: 'UTC' }, () => resultDetails(result))).toContain('• warnings: ✅ none');
  });

  it('keeps the HTTP result said and adds the problem', async () => {
    const server = await fakeHttp(() => ({ status: 200, body: 'starting' }));
    try {
      const http = parseRunbook(
        `name: checks\nmatch: {}\nsteps:\n  - { id: http, title: Health, action: http, with: { url: '${server.url}/health' }, expect: [{ present: ready }] }\n`,
        'checks.yaml',
      ).steps[0]!;
      const result = await localStepRunner.run(http, {}, { signal: new AbortController().signal, redact: (s) => s, env: {} });
      expect(result.status).toBe('failed');
      const summary = speaking(ZH, () => resultSummary(result));
      expect(summary).toMatch(/^HTTP 200，耗时 [\d.]+ (毫秒|秒)；检查未通过：输出中没有 \/ready\/$/);
      expect(englishIn(summary)).toEqual([]);
      expect(speaking({ locale: 'en', timeZone: 'UTC' }, () => resultSummary(result))).toBe(result.summary);
    } finally {
      await server.close();
    }
  });
});
