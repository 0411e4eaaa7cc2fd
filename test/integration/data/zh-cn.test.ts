import Database from 'better-sqlite3';
import { execa } from 'execa';
import { mkdir, open, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLocale, type LocaleSetting } from '../../../src/core/i18n/index.js';
import { resultDetails, resultSummary, stepDescription } from '../../../src/core/result-text.js';
import { localStepRunner, type RunbookStep, type StepResult } from '../../../src/runbooks/index.js';
import { englishIn } from '../../support/no-english.js';
import { probePostgres, requireService } from '../../support/services.js';
import { context, dataStep, show, tempDir, unique } from './helpers.js';

/*
 * The data actions reach a zh-CN bot in Chinese: real SQLite checkpoints, backups, restores and
 * locates on temporary files, a directory's backup and restore, and PostgreSQL's, each result's
 * summary, findings and produced files, and each step's description, hold no English but the
 * values (paths, database names). In English every summary is the action's own.
 *
 * The SQLite and directory data is kept small, so that its backups stay under 1 KiB: above that
 * the core writes an artefact's size with formatBytes, which is its own to say.
 */

const pg = await requireService('PostgreSQL at 127.0.0.1:5432', () => probePostgres('test'));

/** Units shown as symbols, like MiB. */
const UNITS = ['KiB'];

/** Every result and step seen, for the English check at the end. */
const seen: Array<{ step: RunbookStep; result: StepResult }> = [];

async function ran(action: Parameters<typeof dataStep>[0], inputs: Record<string, unknown>): Promise<{ step: RunbookStep; result: StepResult }> {
  const step = dataStep(action, inputs);
  const result = await localStepRunner.run(step, {}, context());
  seen.push({ step, result });
  return { step, result };
}

/** The summary, the details and the description in the bot's language, with no English but `allowed`. */
function saidWithoutEnglish({ step, result }: { step: RunbookStep; result: StepResult }, allowed: string[] = [], details = resultDetails(result)) {
  const summary = resultSummary(result);
  const description = stepDescription(localStepRunner, step, {});
  for (const text of [summary, details, description]) expect(englishIn(text, { allowed: [...allowed, ...UNITS] }), `${text}\n${show(result)}`).toEqual([]);
  return { summary, details, description };
}

function makeDb(file: string, rows: number, journal: 'wal' | 'delete' = 'wal'): Database.Database {
  const db = new Database(file);
  db.pragma(`journal_mode = ${journal}`);
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, payload TEXT NOT NULL); CREATE TABLE notes (body TEXT)');
  const insert = db.prepare('INSERT INTO items (payload) VALUES (?)');
  for (let i = 0; i < rows; i++) insert.run(`row ${i}`);
  return db;
}

const TOOK = '耗时 [\\d.]+ (?:毫秒|秒)';
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let previous: LocaleSetting;
beforeAll(() => {
  previous = useLocale({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' });
});
afterAll(() => {
  useLocale(previous);
});

describe('SQLite data actions in zh-CN', () => {
  it('checkpoint, backup, restore and locate: said in Chinese, findings and files too', async () => {
    const dir = await tempDir('zh-sqlite');
    const backups = await tempDir('zh-sqlite-backups');
    const file = path.join(dir, 'app.db');
    const db = makeDb(file, 40);

    const checkpoint = await ran('checkpoint', { engine: 'sqlite', path: file });
    expect(checkpoint.result.status, show(checkpoint.result)).toBe('succeeded');
    const cp = saidWithoutEnglish(checkpoint);
    expect(cp.summary).toMatch(new RegExp(`^已对 SQLite ${esc(file)} 执行检查点（\`TRUNCATE\`）：\`WAL\` [\\d.]+ KiB \\(\\d+ B\\) → 0 B，完整性校验通过，${TOOK}$`));
    expect(cp.description).toBe(`将对 SQLite ${file} 执行检查点（\`PRAGMA wal_checkpoint(TRUNCATE)\`），随后做完整性校验（\`PRAGMA integrity_check\`）（超时 60 秒）`);
    expect(cp.details).toContain('\n• 检查点后 `WAL` 大小: 0 B');
    expect(cp.details).toContain('\n• 完整性校验: ✓');
    db.close();

    const backup = await ran('backup', { engine: 'sqlite', path: file, dir: backups, prefix: 'app', keep: { files: 2 } });
    expect(backup.result.status, show(backup.result)).toBe('succeeded');
    const made = backup.result.artefacts?.[0]?.path ?? '';
    const b = saidWithoutEnglish(backup);
    expect(b.summary).toMatch(new RegExp(`^已将 SQLite ${esc(file)} 备份到 ${esc(made)}（\\d+ B），${TOOK}$`));
    expect(b.description).toBe(`将把 SQLite ${file} 备份到 ${backups}，文件名 app-<YYYYMMDDTHHMMSSZ>.db.gz（附 sha256 校验文件，保留最新 2 个备份）（超时 60 秒）`);
    expect(b.details).toContain('\n• 按保留策略保留: 1');
    expect(b.details).toContain('\n• 各表行数: items=40, notes=0');
    expect(b.details).toMatch(/\n📦 备份 `[^`]+`（\d+ 字节，sha256 [0-9a-f]{16}…）/);

    const writer = new Database(file);
    writer.exec('DELETE FROM items WHERE id > 5');
    writer.close();
    const restore = await ran('restore', { engine: 'sqlite', path: file, latest: true, dir: backups, prefix: 'app' });
    expect(restore.result.status, show(restore.result)).toBe('succeeded');
    const r = saidWithoutEnglish(restore);
    expect(r.summary).toMatch(new RegExp(`^已从 ${esc(made)} 恢复 SQLite ${esc(file)}，${TOOK}$`));
    expect(r.description).toBe(`将从 ${backups} 中最新的已校验备份 app-<YYYYMMDDTHHMMSSZ>.db.gz 恢复 SQLite ${file}，恢复前先把当前状态安全备份到 ${dir}（超时 60 秒）`);
    expect(r.details).toContain('\n• 恢复的总行数: 40');
    expect(r.details).toContain('\n• 安全备份的总行数: 5');
    expect(r.details).toMatch(/\n📦 安全备份 `[^`]+app-safety-\d{8}T\d{6}Z\.db\.gz`/);

    const link = path.join(backups, 'latest.db.gz');
    await symlink(path.basename(made), link);
    const locate = await ran('locate', { from: link });
    expect(locate.result.status, show(locate.result)).toBe('succeeded');
    const l = saidWithoutEnglish(locate);
    expect(l.summary).toMatch(new RegExp(`^备份为 ${esc(link)} → ${esc(made)}（\\d+ B，修改于 \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC），${TOOK}$`));
    expect(l.description).toBe(`将定位备份 ${link}（链接解析到实际文件）并计算 sha256，不做任何更改（超时 60 秒）`);
    expect(l.details).toMatch(/\n• sha256（与校验文件一致）: [0-9a-f]{64}/);
  });

  it('refusals: a damaged backup, no backup at all, a missing database, a database not in WAL mode', async () => {
    const dir = await tempDir('zh-sqlite-refusals');
    const file = path.join(dir, 'shop.db');
    makeDb(file, 10, 'delete').close();

    const notWal = await ran('checkpoint', { engine: 'sqlite', path: file });
    expect(notWal.result.status, show(notWal.result)).toBe('succeeded');
    expect(saidWithoutEnglish(notWal).summary).toMatch(new RegExp(`^SQLite ${esc(file)} 未启用 \`WAL\` 模式，无需执行检查点；完整性校验通过，${TOOK}$`));

    const missing = await ran('checkpoint', { engine: 'sqlite', path: path.join(dir, 'gone.db') });
    expect(missing.result.status).toBe('failed');
    expect(saidWithoutEnglish(missing).summary).toBe(`SQLite 数据库 ${path.join(dir, 'gone.db')} 不存在（未创建任何文件）`);

    const none = await ran('restore', { engine: 'sqlite', path: file, latest: true, dir });
    expect(none.result.status).toBe('failed');
    expect(saidWithoutEnglish(none).summary).toBe(`${dir} 中没有已校验的备份 sqlite-shop-<YYYYMMDDTHHMMSSZ>.db.gz`);

    const backup = await ran('backup', { engine: 'sqlite', path: file, dir });
    const made = backup.result.artefacts?.[0]?.path ?? '';
    // One byte changed in the middle of the file: its sidecar no longer matches.
    const handle = await open(made, 'r+');
    await handle.write(Buffer.from([0xff]), 0, 1, 40);
    await handle.close();
    const damaged = await ran('restore', { engine: 'sqlite', path: file, from: made });
    expect(damaged.result.status).toBe('failed');
    const d = saidWithoutEnglish(damaged);
    expect(d.summary).toMatch(new RegExp(`^备份 ${esc(made)} 与校验文件 ${esc(made)}\\.sha256 不符（实际 sha256 为 [0-9a-f]{12}…，记录为 [0-9a-f]{12}…），拒绝恢复$`));
    expect(d.description).toBe(`将从 ${made} 恢复 SQLite ${file}，恢复前先把当前状态安全备份到 ${dir}（超时 60 秒）`);

    const located = await ran('locate', { from: made });
    expect(saidWithoutEnglish(located).summary).toBe(`备份 ${made} 与其 .sha256 校验文件不符`);
  });
});

describe('directory data actions in zh-CN', () => {
  it('backs up and restores a directory, in Chinese', async () => {
    const parent = await tempDir('zh-dir');
    const backups = await tempDir('zh-dir-backups');
    const data = path.join(parent, 'conf');
    await mkdir(data);
    await writeFile(path.join(data, 'app.conf'), 'port = 80\n');

    const backup = await ran('backup', { engine: 'directory', source: data, dir: backups, keep: { days: 7, files: 3 } });
    expect(backup.result.status, show(backup.result)).toBe('succeeded');
    const b = saidWithoutEnglish(backup);
    expect(b.summary).toMatch(new RegExp(`^已将 ${esc(data)}/ 备份到 ${esc(backups)}/dir-conf-\\d{8}T\\d{6}Z\\.tar\\.gz（\\d+ B），${TOOK}$`));
    expect(b.description).toBe(`将把 ${data}/ 备份到 ${backups}，文件名 dir-conf-<YYYYMMDDTHHMMSSZ>.tar.gz（附 sha256 校验文件，保留 7 天内或最新 3 个备份）（超时 60 秒）`);

    await rm(data, { recursive: true });
    const restore = await ran('restore', { engine: 'directory', target: data, latest: true, dir: backups });
    expect(restore.result.status, show(restore.result)).toBe('succeeded');
    const r = saidWithoutEnglish(restore);
    expect(r.summary).toMatch(new RegExp(`^已从 ${esc(backups)}/dir-conf-\\d{8}T\\d{6}Z\\.tar\\.gz 恢复 ${esc(data)}/，${TOOK}$`));
    expect(r.details).toContain(`\n• 未做安全备份（目标不存在，没有需要保留的当前状态）: ${data}/`);
  });
});

pg.describe('PostgreSQL data actions in zh-CN', () => {
  const database = `chatops_zh_${unique()}`;
  const psql = (sql: string, db = database) => execa('psql', ['-X', '-w', '-q', '-h', pg.value.host, '-p', String(pg.value.port), '-U', pg.value.user, '-d', db, '-c', sql], { stdin: 'ignore' });
  beforeAll(async () => {
    await psql(`CREATE DATABASE ${database}`, 'test');
    await psql('CREATE TABLE items (id serial PRIMARY KEY, name text)');
  });
  afterAll(async () => {
    await psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, 'test');
  });

  it('CHECKPOINT, pg_dump and pg_restore, in Chinese', async () => {
    const target = { engine: 'postgres', host: pg.value.host, port: pg.value.port, user: pg.value.user, database };
    const what = `PostgreSQL ${database} @ ${pg.value.host}:${pg.value.port} (${pg.value.user})`;
    const allowed = [database, pg.value.user];

    const checkpoint = await ran('checkpoint', target);
    expect(checkpoint.result.status, show(checkpoint.result)).toBe('succeeded');
    const c = saidWithoutEnglish(checkpoint, allowed);
    expect(c.summary).toMatch(new RegExp(`^已在 ${esc(what)} 上执行 \`CHECKPOINT\`，${TOOK}$`));
    expect(c.description).toBe(`将在 ${what} 上执行 \`CHECKPOINT\`（超时 60 秒）`);

    const backups = await tempDir('zh-pg-backups');
    const backup = await ran('backup', { ...target, dir: backups });
    expect(backup.result.status, show(backup.result)).toBe('succeeded');
    // A dump is over 1 KiB: its artefact line's size is the core's (see above); the rest is checked whole.
    const b = saidWithoutEnglish(backup, allowed, resultDetails({ ...backup.result, artefacts: [] }));
    expect(b.summary).toMatch(new RegExp(`^已将 ${esc(what)} 备份到 ${esc(backups)}/postgres-${database}-\\d{8}T\\d{6}Z\\.dump（.+），${TOOK}$`));
    expect(b.details).toContain('\n• 表数: 1');

    const restore = await ran('restore', { ...target, latest: true, dir: backups });
    expect(restore.result.status, show(restore.result)).toBe('succeeded');
    const r = saidWithoutEnglish(restore, allowed, resultDetails({ ...restore.result, artefacts: [], facts: restore.result.facts?.filter((f) => f.label !== 'note') }));
    expect(r.summary).toMatch(new RegExp(`^已从 ${esc(backups)}/postgres-${database}-\\d{8}T\\d{6}Z\\.dump 恢复 ${esc(what)}，${TOOK}$`));
  });
});

describe('the same results in English', () => {
  it('are the actions\' own summaries and descriptions', () => {
    expect(seen.length).toBeGreaterThan(10);
    const back = useLocale({ locale: 'en', timeZone: 'UTC' });
    try {
      for (const { step, result } of seen) {
        expect(resultSummary(result)).toBe(result.summary);
        expect(stepDescription(localStepRunner, step, {})).toBe(localStepRunner.describe(step, {}));
      }
      expect(seen.find((s) => s.result.summary.startsWith('checkpointed SQLite'))?.result.summary).toMatch(/: WAL [\d.]+ KiB \(\d+ bytes\) → 0 bytes, integrity ok in /);
    } finally {
      useLocale(back);
    }
  });
});
