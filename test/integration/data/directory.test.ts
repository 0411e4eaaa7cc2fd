import { execa } from 'execa';
import { mkdir, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { entries, fact, run, sha256, show, tempDir } from './helpers.js';

/** Every path under `dir` with its content (files), target (symlinks) or "dir", sorted. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(sub: string): Promise<void> {
    for (const entry of await readdir(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.join(sub, entry.name);
      const full = path.join(dir, rel);
      if (entry.isSymbolicLink()) out.push(`${rel} -> ${await readlink(full)}`);
      else if (entry.isDirectory()) {
        out.push(`${rel}/ ${((await stat(full)).mode & 0o777).toString(8)}`);
        await walk(rel);
      } else out.push(`${rel} ${((await stat(full)).mode & 0o777).toString(8)} ${await readFile(full, 'utf8')}`);
    }
  }
  await walk('');
  return out.sort();
}

describe('directory backup and restore', () => {
  it('tar round trip: changes are undone, the previous directory and a safety backup are kept', async () => {
    const root = await tempDir('dir');
    const site = path.join(root, 'site');
    await mkdir(path.join(site, 'assets', 'img'), { recursive: true });
    await writeFile(path.join(site, 'index.html'), '<h1>v1</h1>');
    await writeFile(path.join(site, 'assets', 'app.js'), 'console.log(1)', { mode: 0o600 });
    await writeFile(path.join(site, 'assets', 'img', 'logo.svg'), '<svg/>');
    await symlink('index.html', path.join(site, 'home.html'));
    const before = await snapshot(site);
    const backups = await tempDir('dir-backups');

    const backup = await run('backup', { engine: 'directory', source: site, dir: backups, keep: { files: 10 } });
    expect(backup.status, show(backup)).toBe('succeeded');
    expect(backup.description).toBe(
      `will back up directory ${site} to ${backups} as dir-site-<UTC time>.tar.gz (tar -czf, verified with tar -tzf; sha256 sidecar, keep the newest 10) (timeout 60s)`,
    );
    const file = backup.artefacts?.[0]?.path ?? '';
    expect(path.basename(file)).toMatch(/^dir-site-\d{8}T\d{6}Z\.tar\.gz$/);
    expect(await sha256(file)).toBe(backup.artefacts?.[0]?.sha256);
    expect(fact(backup, 'entries')).toBe('7');
    expect((await execa('tar', ['-tzf', file])).stdout.split('\n').sort()).toEqual(
      ['site/', 'site/assets/', 'site/assets/app.js', 'site/assets/img/', 'site/assets/img/logo.svg', 'site/home.html', 'site/index.html'].sort(),
    );

    await writeFile(path.join(site, 'index.html'), '<h1>broken</h1>');
    await rm(path.join(site, 'assets', 'img'), { recursive: true });
    await writeFile(path.join(site, 'stray.txt'), 'added later');
    const changed = await snapshot(site);

    const restore = await run('restore', { engine: 'directory', target: site, latest: true, dir: backups });
    expect(restore.status, show(restore)).toBe('succeeded');
    expect(restore.summary).toMatch(new RegExp(`^restored directory ${site} from ${file} in `));
    expect(await snapshot(site)).toEqual(before);

    const aside = fact(restore, 'previous directory kept as') ?? '';
    expect(aside).toMatch(/\/site\.before-restore-\d{8}T\d{6}Z$/);
    expect(await snapshot(aside)).toEqual(changed);
    const safety = restore.artefacts?.find((a) => a.kind === 'safety-backup');
    expect(path.basename(safety?.path ?? '')).toMatch(/^dir-site-safety-\d{8}T\d{6}Z\.tar\.gz$/);
    expect((await execa('tar', ['-tzf', safety?.path ?? ''])).stdout).toContain('site/stray.txt');
    // Nothing temporary is left beside the directory.
    expect((await entries(root)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('restores a directory that is gone (there is no current state for a safety backup)', async () => {
    const root = await tempDir('dir');
    const conf = path.join(root, 'conf');
    await mkdir(conf);
    await writeFile(path.join(conf, 'app.ini'), 'a=1');
    const backup = await run('backup', { engine: 'directory', source: conf, dir: root, prefix: 'conf' });
    expect(backup.status, show(backup)).toBe('succeeded');
    await rm(conf, { recursive: true });

    const restore = await run('restore', { engine: 'directory', target: conf, from: backup.artefacts?.[0]?.path });
    expect(restore.status, show(restore)).toBe('succeeded');
    expect(fact(restore, 'no safety backup (nothing to keep: it does not exist)')).toBe(`${conf}/`);
    expect(await readFile(path.join(conf, 'app.ini'), 'utf8')).toBe('a=1');
  });

  it('refuses a backup file that is not a tar.gz, and one with no verified backup to pick', async () => {
    const root = await tempDir('dir');
    const target = path.join(root, 'data');
    await mkdir(target);
    await writeFile(path.join(root, 'fake.tar.gz'), 'not gzip');
    const unchecked = await run('restore', { engine: 'directory', target, from: path.join(root, 'fake.tar.gz') });
    expect(unchecked.status).toBe('failed');
    expect(unchecked.summary).toMatch(/^backup \S+fake\.tar\.gz has no \.sha256 sidecar .*refusing to restore it/);
    // Told not to verify, the restore reaches tar, which refuses it.
    const wrong = await run('restore', { engine: 'directory', target, from: path.join(root, 'fake.tar.gz'), verify: false });
    expect(wrong.status).toBe('failed');
    expect(wrong.summary).toMatch(/^tar -tzf of fake\.tar\.gz: tar exited 2/);

    await writeFile(path.join(root, 'dir-data-20240101T000000Z.tar.gz'), 'no sidecar');
    const none = await run('restore', { engine: 'directory', target, latest: true, dir: root });
    expect(none.status).toBe('failed');
    expect(none.summary).toBe(`no verified backup dir-data-<time>.tar.gz in ${root} (1 without a matching .sha256)`);
    expect(fact(none, 'skipped: no .sha256 sidecar')).toBe('dir-data-20240101T000000Z.tar.gz');
    expect(await entries(root)).toEqual(['data', 'dir-data-20240101T000000Z.tar.gz', 'fake.tar.gz']);
  });
});
