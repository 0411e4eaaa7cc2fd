import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { notificationSchema } from '../../../src/core/alertmanager-payload.js';

type Raw = Record<string, unknown>;
const fixture = (name: string): Raw => JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../fixtures/alertmanager-0.25', name), 'utf8')) as Raw;

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

  it('cleans the alert and group texts too, and leaves a clean notification as it was', () => {
    const raw = fixture('firing-single.json');
    const alerts = raw.alerts as Array<Record<string, string>>;
    alerts[0]!.fingerprint = 'ab\u0000cd';
    raw.groupKey = '{}:{alertname="x\u0000"}';
    const parsed = notificationSchema.parse(raw);
    expect(parsed.alerts[0]?.fingerprint).toBe('ab\uFFFDcd');
    expect(parsed.groupKey).toBe('{}:{alertname="x\uFFFD"}');
    const clean = fixture('firing-single.json');
    expect(notificationSchema.parse(clean)).toEqual({ ...clean, truncatedAlerts: clean.truncatedAlerts ?? 0 });
  });

  it.each([
    ['a label map that is an array', (raw: Raw) => (raw.commonLabels = ['a']), 'commonLabels', /expected an object of names to strings, received array/],
    ['a label map that is null', (raw: Raw) => (raw.groupLabels = null), 'groupLabels', /received null/],
    ['an empty label name', (raw: Raw) => ((raw.commonLabels as Record<string, string>)[''] = 'x'), 'commonLabels.', /names are 1 to 256 characters/],
    ['a label name over 256 characters', (raw: Raw) => ((raw.commonLabels as Record<string, string>)['n'.repeat(257)] = 'x'), `commonLabels.${'n'.repeat(257)}`, /names are 1 to 256/],
    ['a non-string annotation', (raw: Raw) => (((raw.alerts as Raw[])[0]!.annotations as Record<string, unknown>).summary = 7), 'alerts.0.annotations.summary', /expected string, received number/],
    ['an annotation over 16 KiB', (raw: Raw) => (((raw.alerts as Raw[])[0]!.annotations as Record<string, unknown>).summary = 'x'.repeat(16 * 1024 + 1)), 'alerts.0.annotations.summary', /at most 16384 characters/],
  ])('refuses %s, naming the entry', (_what, mutate, path, message) => {
    const raw = fixture('firing-single.json');
    mutate(raw);
    const result = notificationSchema.safeParse(raw);
    expect(result.success).toBe(false);
    const issue = result.error?.issues[0];
    expect(issue?.path.join('.')).toBe(path);
    expect(issue?.message).toMatch(message);
  });

  it('still names the field that is wrong', () => {
    const raw = fixture('firing-single.json');
    raw.version = '3';
    const result = notificationSchema.safeParse(raw);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['version']);
  });
});
