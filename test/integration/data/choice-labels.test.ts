import Database from 'better-sqlite3';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLocale, type LocaleSetting } from '../../../src/core/i18n/index.js';
import { choiceLabel } from '../../../src/core/result-text.js';
import { listBackupChoices } from '../../../src/runbooks/backup-choices.js';
import { localStepRunner } from '../../../src/runbooks/index.js';
import { answerSchema } from '../../../src/runners/protocol.js';
import { englishIn } from '../../support/no-english.js';
import { context, dataStep, tempDir } from './helpers.js';

/*
 * A restore picker's buttons name each backup and whether its checksum matched. A zh-CN bot says
 * them in Chinese, with times in its time zone, whether the list was made here or on a runner
 * (the labels cross the protocol as codes); an English bot shows the step runner's own labels.
 */
describe('restore picker labels', () => {
  let dir = '';
  let previous: LocaleSetting;

  beforeAll(async () => {
    dir = await tempDir('choices');
    const db = new Database(path.join(dir, 'shop.db'));
    db.exec('CREATE TABLE t (v TEXT); INSERT INTO t VALUES (1)');
    db.close();
    await mkdir(path.join(dir, 'backups'));
    // Two real backups a second apart (their names carry the second), then one's sidecar damaged.
    for (let i = 0; i < 2; i += 1) {
      const backup = await localStepRunner.run(dataStep('backup', { engine: 'sqlite', path: path.join(dir, 'shop.db'), dir: path.join(dir, 'backups'), prefix: 'shop' }), {}, context());
      expect(backup.status, backup.summary).toBe('succeeded');
      if (i === 0) await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    const sidecar = (await readdir(path.join(dir, 'backups'))).filter((f) => f.endsWith('.sha256')).sort()[0]!;
    await writeFile(path.join(dir, 'backups', sidecar), `${'0'.repeat(64)}  ${sidecar.replace(/\.sha256$/, '')}\n`);
    previous = useLocale({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' });
  }, 30_000);

  afterAll(() => {
    useLocale(previous);
  });

  it('are said in Chinese, times in the bot\'s zone, here and over the runner protocol', async () => {
    const choices = await listBackupChoices(path.join(dir, 'backups'), 'shop', 6);
    expect(choices).toHaveLength(2);
    // Over the protocol: the codes go with the labels.
    const wire = answerSchema.parse({ kind: 'list', choices });
    for (const list of [choices, wire.kind === 'list' ? wire.choices : []]) {
      const [newest, oldest] = list.map((c) => choiceLabel(c as Parameters<typeof choiceLabel>[0]));
      expect(newest).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC\+8，\d+ 字节；sha256 校验通过$/);
      expect(oldest).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC\+8，\d+ 字节；校验和不一致$/);
      for (const label of [newest!, oldest!]) expect(englishIn(label)).toEqual([]);
    }
    const back = useLocale({ locale: 'en', timeZone: 'UTC' });
    try {
      expect(choices.map((c) => choiceLabel(c))).toEqual(choices.map((c) => c.label));
      expect(choices[1]?.label).toMatch(/, CHECKSUM MISMATCH$/);
    } finally {
      useLocale(back);
    }
  });
});
