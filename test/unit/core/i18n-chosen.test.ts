import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uncheckedChoice, vetChoices, type ChosenOrigin } from '../../../src/core/chosen.js';
import { describePinnedFile } from '../../../src/core/chosen-pins.js';
import { findOffer, type StepOffer } from '../../../src/core/offers.js';
import { useLocale, type LocaleSetting } from '../../../src/core/i18n/index.js';
import { NotAllowedError } from '../../../src/domain/errors.js';
import { localStepRunner } from '../../../src/runbooks/index.js';
import { parseRunbook } from '../../../src/runbooks/loader.js';
import type { Runbook } from '../../../src/runbooks/schema.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import { englishIn } from '../../support/no-english.js';

/**
 * A value chosen for a restore is refused in the bot's language: a path the picker does not offer,
 * a backup without its sidecar or with one that does not match, a value never checked; and so is
 * a step the runbooks do not have. Real files are listed and hashed; English stays as it was.
 */

const TITLE = 'Restore the database';
/** Data shown as written: the step's title, the runbook's and its param's names. */
const DATA = [TITLE, 'appdb', 'backup'];
const SHA = '0123abcd'.repeat(8);

describe('chosen-file refusals in zh-CN', () => {
  let dir: string;
  let store: SqliteStore;
  let runbook: Runbook;
  let previous: LocaleSetting;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'chosen-zh-'));
    await mkdir(path.join(dir, 'backups'));
    store = new SqliteStore(':memory:');
    runbook = parseRunbook(
      `
name: appdb
match: { service: appdb }
params:
  backup: { chosen: true, pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: restore
    title: ${TITLE}
    action: restore
    with: { engine: sqlite, path: '${dir}/app.db', from: '{{backup}}' }
    changes: true
    pick: { param: backup, dir: '${dir}/backups', prefix: app }
`,
      'appdb.yaml',
    );
    previous = useLocale({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' });
  });
  afterEach(async () => {
    useLocale(previous);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const offerFor = (backup: string): StepOffer => {
    const found = findOffer([runbook], { service: 'appdb' }, 'appdb', 'restore', { backup });
    if (found.ok !== true) throw new Error(`no offer: ${JSON.stringify(found)}`);
    return found.offer;
  };
  /** The refusal vetting the chosen backup gives, as the requester reads it. */
  const refusal = async (backup: string, origin: ChosenOrigin): Promise<string> => {
    const error = await vetChoices({ store, runbooks: [runbook], runner: localStepRunner }, 1, offerFor(backup), origin).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof NotAllowedError)) throw new Error(`expected a refusal, got ${String(error)}`);
    return error.message;
  };

  it('refuses a typed path, a missing or wrong sidecar and an unchecked value in Chinese', async () => {
    const file = path.join(dir, 'backups', 'app-20260101-020000.db.gz');
    await writeFile(file, 'backup');
    const bare = path.join(dir, 'backups', 'app-20260102-020000.db.gz');
    await writeFile(bare, 'backup without sidecar');
    await writeFile(`${file}.sha256`, `${'0'.repeat(64)}  app-20260101-020000.db.gz\n`);

    const notOffered = await refusal('/etc/passwd', { kind: 'command' });
    expect(notOffered).toBe(`"/etc/passwd" 不在「${TITLE}」的可选备份之列：可选的是 ${dir}/backups 中最新的 5 个名为 app-<time>.<ext> 的备份（仅限普通文件）。请点击该步骤的按钮选择。`);
    const mismatch = await refusal(file, { kind: 'picker' });
    expect(mismatch).toBe(`${file} 与其 .sha256 校验文件不符：拒绝用它恢复。`);
    const missing = await refusal(bare, { kind: 'picker' });
    expect(missing).toContain('没有 .sha256 校验文件，无法校验');
    const changed = await refusal(file, { kind: 'rollback', sha256: 'f00d'.repeat(16) });
    expect(changed).toMatch(/^快照 .+ 生成后已被改动（当前 sha256 [0-9a-f]{16}…，生成时 (f00d){4}…）$/);
    const unchecked = uncheckedChoice(offerFor(file), []) ?? '';
    expect(unchecked).toContain('未经与可选备份核对');
    const pinned = describePinnedFile({ param: 'backup', path: file, sizeBytes: 123_456, mtime: '2026-01-01T02:00:00.000Z', sha256: SHA });
    expect(pinned).toBe(`\`${file}\`（120.6 KiB（123456 字节），修改于 2026-01-01 02:00:00 UTC，sha256 ${SHA}）`);

    const noStep = findOffer([runbook], { service: 'appdb' }, 'appdb', 'wipe');
    const elsewhere = findOffer([runbook], { service: 'shop' }, 'appdb', 'restore');
    const reasons = [noStep, elsewhere].map((f) => (f.ok === false ? f.reason : ''));
    expect(reasons).toEqual(['处置手册「appdb」中没有步骤「wipe」。', '处置手册「appdb」不适用于此事件的标签。']);

    const texts = [notOffered, mismatch, missing, changed, unchecked, pinned, ...reasons];
    expect(texts.map((x) => ({ x, english: englishIn(x, { allowed: [...DATA, 'wipe'] }) })).filter((x) => x.english.length > 0)).toEqual([]);
  });

  it('keeps the English refusals as they were', async () => {
    useLocale({ locale: 'en', timeZone: 'UTC' });
    const file = path.join(dir, 'backups', 'app-20260101-020000.db.gz');
    await writeFile(file, 'backup');
    await writeFile(`${file}.sha256`, `${'0'.repeat(64)}  app-20260101-020000.db.gz\n`);
    expect(await refusal('/etc/passwd', { kind: 'command' })).toBe(
      `"/etc/passwd" is not one the picker offers for "${TITLE}": it offers the 5 newest backups named app-<time>.<ext> in ${dir}/backups (regular files only). Press the step's button to choose one.`,
    );
    expect(await refusal(file, { kind: 'picker' })).toBe(`${file} does not match its .sha256 sidecar: refusing to restore it.`);
    expect(uncheckedChoice(offerFor(file), [])).toBe(`"${TITLE}": backup "${file}" was not checked against what the bot offers; choose it from the step's picker.`);
    expect(describePinnedFile({ param: 'backup', path: file, sizeBytes: 123_456, mtime: '2026-01-01T02:00:00.000Z', sha256: 'abc' })).toBe(`\`${file}\` (120.6 KiB (123456 bytes), modified 2026-01-01 02:00:00 UTC, sha256 abc)`);
    const noStep = findOffer([runbook], { service: 'appdb' }, 'appdb', 'wipe');
    expect(noStep).toEqual({ ok: false, reason: 'Runbook "appdb" has no step "wipe".' });
  });
});
