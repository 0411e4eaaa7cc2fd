import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { numberPlaceholders } from '../../../src/store/postgres-driver.js';
import { SqliteDriver } from '../../../src/store/sqlite-driver.js';

describe('numberPlaceholders (PostgreSQL driver)', () => {
  it('numbers the placeholders in order', () => {
    expect(numberPlaceholders('UPDATE t SET a = ?, b = ? WHERE id IN (?, ?)', 4)).toBe('UPDATE t SET a = $1, b = $2 WHERE id IN ($3, $4)');
    expect(numberPlaceholders('SELECT 1', 0)).toBe('SELECT 1');
  });

  it('leaves question marks inside quoted literals alone', () => {
    expect(numberPlaceholders(`SELECT 'why?' AS q, 'it''s ?' AS r WHERE x = ?`, 1)).toBe(`SELECT 'why?' AS q, 'it''s ?' AS r WHERE x = $1`);
  });

  it('refuses SQL whose placeholders do not match the parameters', () => {
    expect(() => numberPlaceholders('SELECT ? + ?', 1)).toThrow(/2 placeholders for 1 parameters/);
    expect(() => numberPlaceholders(`SELECT '?'`, 1)).toThrow(/0 placeholders for 1 parameters/);
  });
});

describe('SqliteDriver', () => {
  it('prepares each SQL text once and reuses the statement', async () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
      const prepare = vi.spyOn(db, 'prepare');
      const driver = new SqliteDriver(db);
      for (const v of ['a', 'b', 'c']) expect(await driver.get('INSERT INTO t (v) VALUES (?) RETURNING id', [v])).toEqual({ id: expect.any(Number) as number });
      expect(await driver.run('UPDATE t SET v = ? WHERE v <> ?', ['z', 'a'])).toBe(2);
      expect(await driver.all('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'a' }, { v: 'z' }, { v: 'z' }]);
      expect(prepare).toHaveBeenCalledTimes(3);
    } finally {
      db.close();
    }
  });
});
