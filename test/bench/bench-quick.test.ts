import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/bot-process.js';

/**
 * Keeps the bench from rotting: `npm run bench -- --quick` must build, run every scenario against
 * the real bot process and write a results file with numbers in every section. The numbers of a
 * quick run on a busy machine mean nothing, so nothing here asserts on them.
 */
const SECTIONS = ['Machine', 'Webhook ingest', 'Webhook ingest: the inbox', 'Alert storm', 'Alert storm into one channel', 'Button to result', 'Button to result through a runner', 'Memory and start-up', 'Targets'];

/** The table rows of a `## title` section, as arrays of cells (the header and separator left out). */
function tableRows(markdown: string, title: string): string[][] {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) return [];
  const rest = markdown.slice(start + title.length + 5);
  const body = rest.slice(0, rest.search(/\n## |$/));
  const lines = body.split('\n').filter((l) => l.startsWith('|'));
  return lines.slice(2).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
}

const NUMBER = /\d+(\.\d+)?/;

describe('npm run bench -- --quick', () => {
  it('writes every section with numeric values and a verdict per target', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatops-bench-test-'));
    const out = path.join(dir, 'RESULTS.md');
    let md: string;
    try {
      await promisify(execFile)('npm', ['run', 'bench', '--', '--quick', '--out', out], { cwd: REPO_ROOT, timeout: 480_000, maxBuffer: 16 * 1024 * 1024 });
      md = fs.readFileSync(out, 'utf8');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }

    for (const title of SECTIONS) {
      const rows = tableRows(md, title);
      expect(rows.length, `section "${title}" has a table`).toBeGreaterThan(0);
      for (const row of rows) {
        // A PostgreSQL column may say why it could not be measured instead of numbers.
        if (/PostgreSQL (store not available|not reachable)/.test(row.join(' '))) continue;
        const values = row.slice(1).filter((c) => c !== '');
        expect(values.length, `a row of "${title}": ${row.join(' | ')}`).toBeGreaterThan(0);
        if (title !== 'Machine') for (const v of values) expect(v, `"${title}" row ${row[0]}`).toMatch(title === 'Targets' ? /\d|PASS|MISS/ : NUMBER);
        expect(row.join(' '), `"${title}" row ${row[0]} has no n/a`).not.toMatch(/\bn\/a\b/);
      }
    }
    const ingest = tableRows(md, 'Webhook ingest').map((r) => r[0]);
    expect(ingest).toEqual(['bare Node (ceiling)', 'minimal durable server', 'bot on SQLite', 'bot on PostgreSQL']);
    expect(tableRows(md, 'Webhook ingest: the inbox').map((r) => r[0])).toEqual(['bot on SQLite', 'bot on PostgreSQL'].flatMap((bot) => ['max', 'fixed', 'half'].map((phase) => `${bot}, ${phase}`)));
    expect(tableRows(md, 'Button to result through a runner').map((r) => r[0])).toEqual(['in the bot', 'on a runner']);
    const verdicts = tableRows(md, 'Targets').map((r) => r[2]);
    expect(verdicts.length).toBe(12);
    for (const v of verdicts) expect(v).toMatch(/^(PASS|MISS)$/);
    expect(tableRows(md, 'Alert storm').find((r) => r[0] === 'alerts in the store')?.[1]).toMatch(/^[\d,]+ of [\d,]+$/);
  }, 500_000);
});
