import { execFileSync } from 'node:child_process';
import { cp, mkdir, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyRetention, listBackups } from '../../../src/runbooks/actions/data/backup-files.js';
import { keepInput } from '../../../src/runbooks/actions/data/common.js';
import { compileName, globRegExp } from '../../../src/runbooks/actions/data/naming.js';
import { tempDir } from './helpers.js';

/*
 * Retention of manual-made backups: with `by: mtime` the step deletes exactly what the manual's
 * `find DIR -name PATTERN -mtime +30 -delete` deletes. Proven by planting a mixed directory with
 * backdated mtimes, copying it, running the real find on the copy and the retention on the
 * original, and comparing what is left.
 */

const DAY = 86_400_000;

/** Every path below `dir` (relative, sorted), directories included. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p) + (e.isDirectory() ? '/' : ''));
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

async function plant(dir: string, name: string, ageMs: number, now: number, content = 'x'): Promise<void> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  const t = new Date(now - ageMs);
  await utimes(file, t, t);
}

/** Sets a symlink's own mtime (find looks at the link, not its target). */
function backdateLink(link: string, when: Date): void {
  execFileSync('touch', ['-h', '-d', `@${Math.floor(when.getTime() / 1000)}`, link]);
}

describe('retention of manual-named backups', () => {
  it('deletes exactly what find DIR -name "*.db.gz" -mtime +30 -delete deletes, on a mixed directory', async () => {
    const now = Date.now();
    const dir = await tempDir('retention');
    const H = 3_600_000;
    // The manual's backup.sh output, the bot's own, sidecars, config tarballs, a subdirectory, near the 30/31-day edges.
    const planted: Array<[string, number]> = [
      ['gitcortex_20240101_020000.db.gz', 90 * DAY],
      ['gitcortex_20240301_020000.db.gz', 31 * DAY + H],
      ['gitcortex_20240302_020000.db.gz', 31 * DAY - H],
      ['gitcortex_20240303_020000.db.gz', 30 * DAY + H],
      ['gitcortex_20240304_020000.db.gz', 30 * DAY - H],
      ['gitcortex_20240305_020000.db.gz', 2 * DAY],
      ['gitcortex-20240101T020000Z.db.gz', 45 * DAY],
      ['gitcortex-20240101T020000Z.db.gz.sha256', 45 * DAY],
      ['gitcortex-20240401T020000Z.db.gz', 1 * DAY],
      ['gitcortex-20240401T020000Z.db.gz.sha256', 1 * DAY],
      ['config_20240101.tar.gz', 120 * DAY],
      ['notes.txt', 400 * DAY],
      ['.hidden.db.gz', 50 * DAY],
      ['old/gitcortex_20230101_020000.db.gz', 400 * DAY],
      ['old/keep.db.gz.txt', 400 * DAY],
      ['recent/gitcortex_20240310_020000.db.gz', 3 * DAY],
    ];
    for (const [name, age] of planted) await plant(dir, name, age, now);
    // latest.db.gz: a link to the newest, itself old (find judges the link's own mtime), and a fresh one.
    await symlink('gitcortex_20240305_020000.db.gz', path.join(dir, 'latest.db.gz'));
    backdateLink(path.join(dir, 'latest.db.gz'), new Date(now - 40 * DAY));
    await symlink('gitcortex_20240101_020000.db.gz', path.join(dir, 'previous.db.gz'));

    const copy = await tempDir('retention-find');
    await cp(dir, copy, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    // cp keeps file times but not a link's own: give the copied link the same one.
    backdateLink(path.join(copy, 'latest.db.gz'), new Date(now - 40 * DAY));
    execFileSync('find', [copy, '-name', '*.db.gz', '-mtime', '+30', '-delete']);
    const byFind = await tree(copy);

    const keep = keepInput.parse({ days: 30, by: 'mtime', match: '*.db.gz' });
    const outcome = await applyRetention({ dir, prefix: 'gitcortex', ext: 'db.gz' }, keep, '', new Date(Date.now()));
    expect(outcome.problems).toEqual([]);
    const byBot = await tree(dir);
    // The bot also removes the .sha256 sidecar of a backup it deletes; find knows nothing of sidecars.
    const deletedSidecars = outcome.deleted.map((d) => `${d}.sha256`);
    expect(byBot).toEqual(byFind.filter((p) => !deletedSidecars.includes(p)));
    expect(deletedSidecars).toContain('gitcortex-20240101T020000Z.db.gz.sha256');
    expect(byFind).toContain('gitcortex-20240101T020000Z.db.gz.sha256');
    // The comparison is not vacuous: the edges went the way find's whole-day rule says.
    expect(outcome.deleted.sort()).toEqual(
      ['.hidden.db.gz', 'gitcortex-20240101T020000Z.db.gz', 'gitcortex_20240101_020000.db.gz', 'gitcortex_20240301_020000.db.gz', 'latest.db.gz', 'old/gitcortex_20230101_020000.db.gz'].sort(),
    );
    expect(byBot).toContain('gitcortex_20240302_020000.db.gz');
    expect(byBot).toContain('previous.db.gz');
  });

  it('expires safety backups after their own days, never the newest one', async () => {
    const now = Date.now();
    const dir = await tempDir('retention-safety');
    const stamp = (age: number) => new Date(now - age).toISOString().replace(/\.\d+Z$/u, 'Z').replaceAll(/[-:]/gu, '');
    const names = [stamp(20 * DAY), stamp(10 * DAY), stamp(3 * DAY)].map((s) => `app-safety-${s}.db.gz`);
    for (const n of names) await plant(dir, n, 0, now);
    const bot = `app-${stamp(1 * DAY)}.db.gz`;
    await plant(dir, bot, 0, now);
    const outcome = await applyRetention({ dir, prefix: 'app', ext: 'db.gz' }, keepInput.parse({ days: 30 }), '', new Date(now));
    expect(outcome.deleted.sort()).toEqual([names[0], names[1]].sort());
    expect((await readdir(dir)).sort()).toEqual([bot, names[2]].sort());

    // Only old ones left: the newest of them stays all the same.
    const lone = await tempDir('retention-safety-lone');
    const old = [stamp(40 * DAY), stamp(30 * DAY)].map((s) => `app-safety-${s}.db.gz`);
    for (const n of old) await plant(lone, n, 0, now);
    const second = await applyRetention({ dir: lone, prefix: 'app', ext: 'db.gz' }, keepInput.parse({ days: 30, safetyDays: 7 }), '', new Date(now));
    expect(second.deleted).toEqual([old[0]]);
    expect(await readdir(lone)).toEqual([old[1]]);
  });

  it('ages declared names by the time in the name (local time) with by: name', async () => {
    const now = new Date();
    const dir = await tempDir('retention-named');
    const local = (d: Date) =>
      `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}_${String(d.getHours()).padStart(2, '0')}${String(d.getMinutes()).padStart(2, '0')}${String(d.getSeconds()).padStart(2, '0')}`;
    const oldName = `gitcortex_${local(new Date(now.getTime() - 40 * DAY))}.db.gz`;
    const newName = `gitcortex_${local(new Date(now.getTime() - 5 * DAY))}.db.gz`;
    // mtimes say the opposite of the names: by: name must go by the names.
    await plant(dir, oldName, 0, now.getTime());
    await plant(dir, newName, 60 * DAY, now.getTime());
    const names = [{ name: 'gitcortex_{time}.db.gz', time: '%Y%m%d_%H%M%S', zone: 'local' as const }];
    const outcome = await applyRetention({ dir, prefix: 'gitcortex', ext: 'db.gz', names }, keepInput.parse({ days: 30 }), '', now);
    expect(outcome.deleted).toEqual([oldName]);
    const listed = await listBackups(dir, 'gitcortex', 5, { names, verify: false });
    expect(listed.map((f) => [f.name, f.kind])).toEqual([[newName, 'named']]);
  });
});

describe('declared names', () => {
  it('matches find -name globs and strftime times, and refuses impossible dates', () => {
    expect(globRegExp('*.db.gz').test('.hidden.db.gz')).toBe(true);
    expect(globRegExp('*.db.gz').test('x.db.gz.sha256')).toBe(false);
    expect(globRegExp('backup-[0-9]?.sql').test('backup-12.sql')).toBe(true);
    expect(globRegExp('backup-[!0-9]*.sql').test('backup-1.sql')).toBe(false);
    const m = compileName({ name: 'memgraph-{time}.tar.gz', time: '%Y%m%d_%H%M%S', zone: 'utc' });
    expect(m.match('memgraph-20240101_020000.tar.gz')?.takenAt?.toISOString()).toBe('2024-01-01T02:00:00.000Z');
    expect(m.match('memgraph-20241301_020000.tar.gz')).toBeNull();
    expect(m.match('memgraph-20240101_020000.tar.gz.sha256')).toBeNull();
    const day = compileName({ name: 'redis-backup-{time}.rdb', time: '%Y%m%d', zone: 'local' });
    expect(day.match('redis-backup-20251011.rdb')?.takenAt?.getTime()).toBe(new Date(2025, 9, 11).getTime());
  });
});
