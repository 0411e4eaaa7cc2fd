import { describe, expect, it } from 'vitest';
import { describeDatabase, loadConfig } from '../../../src/settings/config.js';
import { createRedactor } from '../../../src/domain/redact.js';

describe('DATABASE_URL', () => {
  it('defaults to the embedded SQLite file and accepts sqlite:, file: and plain paths', () => {
    expect(loadConfig({}).database).toEqual({ kind: 'sqlite', path: './data/bot.db' });
    expect(loadConfig({ DATABASE_URL: 'sqlite:/var/lib/bot/bot.db' }).database).toEqual({ kind: 'sqlite', path: '/var/lib/bot/bot.db' });
    expect(loadConfig({ DATABASE_URL: 'file:///data/bot.db' }).database).toEqual({ kind: 'sqlite', path: '/data/bot.db' });
    expect(loadConfig({ DATABASE_URL: './x.db' }).database).toEqual({ kind: 'sqlite', path: './x.db' });
  });

  it('takes postgres:// and postgresql:// URLs as a shared PostgreSQL store', () => {
    for (const url of ['postgres://bot@db:5432/chatops', 'postgresql://bot:pw@db/chatops?sslmode=require']) {
      expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ kind: 'postgres', url });
    }
  });

  it('refuses anything else, naming the variable and the accepted forms', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root@db/bot' })).toThrow(/DATABASE_URL: must be sqlite:<path> .* or postgres:\/\//);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://bot@db:99999/x' })).toThrow(/DATABASE_URL: not a valid postgres:\/\/ URL/);
  });

  it('treats the PostgreSQL password as a secret: redacted everywhere, masked when the database is logged', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://bot:s%40cret-Pass@db.internal:5432/chatops' });
    expect(config.secrets).toContain('s@cret-Pass');
    const redact = createRedactor(config.secrets);
    expect(redact('connect failed for s@cret-Pass')).not.toContain('s@cret-Pass');
    expect(describeDatabase(config.database)).toBe('postgres://bot:***@db.internal:5432/chatops');
    expect(describeDatabase(loadConfig({ DATABASE_URL: 'postgres://bot@db/chatops' }).database)).toBe('postgres://bot@db/chatops');
    expect(describeDatabase(loadConfig({}).database)).toBe('./data/bot.db');
  });
});

describe('SQLITE_WAL_LIMIT_MB', () => {
  it('defaults to 1 GB, takes a number of MB, and refuses one too small to be worth a hold, naming the variable', () => {
    expect(loadConfig({}).sqliteWalLimitMb).toBe(1024);
    expect(loadConfig({ SQLITE_WAL_LIMIT_MB: '256' }).sqliteWalLimitMb).toBe(256);
    expect(() => loadConfig({ SQLITE_WAL_LIMIT_MB: '8' })).toThrow(/SQLITE_WAL_LIMIT_MB: .*16/);
    expect(() => loadConfig({ SQLITE_WAL_LIMIT_MB: '1g' })).toThrow(/SQLITE_WAL_LIMIT_MB/);
  });
});
