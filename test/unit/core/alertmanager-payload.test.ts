import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { notificationSchema } from '../../../src/core/alertmanager-payload.js';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../fixtures/alertmanager-0.25', name), 'utf8')) as Record<string, unknown>;

describe('notificationSchema', () => {
  it('turns NUL characters into U+FFFD everywhere, keys included, so every store can keep the notification', () => {
    const raw = fixture('firing-single.json');
    const alerts = raw.alerts as Array<Record<string, Record<string, string>>>;
    alerts[0]!.labels!['job\u0000x'] = 'a\u0000b';
    alerts[0]!.annotations!.summary = 'down\u0000\u0000';
    raw.receiver = 'chatops\u0000';
    const parsed = notificationSchema.parse(raw);
    expect(JSON.stringify(parsed)).not.toContain('\\u0000');
    expect(parsed.alerts[0]?.labels['job\uFFFDx']).toBe('a\uFFFDb');
    expect(parsed.alerts[0]?.annotations.summary).toBe('down\uFFFD\uFFFD');
    expect(parsed.receiver).toBe('chatops\uFFFD');
  });

  it('still names the field that is wrong', () => {
    const raw = fixture('firing-single.json');
    raw.version = '3';
    const result = notificationSchema.safeParse(raw);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['version']);
  });
});
