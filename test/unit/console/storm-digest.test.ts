import { describe, expect, it } from 'vitest';
import { listMain, type Viewer } from '../../../src/bot/console/render.js';
import { buildDigest, digestSummary, shownMembers } from '../../../src/core/digest.js';
import type { Storm, StormMember } from '../../../src/core/ports/storms.js';

const HOSTILE = '<script>alert(1)</script> "><img src=x onerror=alert(1)>';
const viewer: Viewer = { user: 'alice', csrf: 'csrf-token', interactive: false, readOnlyReason: 'Read-only: test.', nonce: 'n0nce' };
const storm: Storm = { id: 3, platform: 'slack', channel: 'C0ALERTS', startedAt: '2026-01-01T00:00:00.000Z', endedAt: null, released: false, pages: [], postingSince: null, joinedAt: '2026-01-01T00:00:00.000Z' };
const member = (incidentId: number, over: Partial<StormMember> = {}): StormMember => ({
  incidentId,
  title: `Down ${incidentId}`,
  severity: 'warning',
  status: 'firing',
  service: 'shop',
  createdAt: '2026-01-01T00:00:00.000Z',
  card: null,
  ...over,
});

describe('the console storm digest', () => {
  it('lists the lines in digest order with links and states, escapes titles, and shows the redacted counts line', () => {
    const members = [
      member(1),
      member(2, { severity: 'critical', title: `${HOSTILE} token=s3cret`, card: { platform: 'slack', channel: 'C0ALERTS', messageId: '1.2', threadId: '1.2' } }),
      member(3, { service: 'pay s3cret' }),
    ];
    const redact = (text: string) => text.replaceAll('s3cret', '[redacted]');
    const digest = buildDigest(storm, shownMembers(members, redact), { holding: false });
    const out = listMain(viewer, { open: [], recent: [], privateMessages: [], storms: [{ platform: 'slack', channel: 'C0ALERTS', digest }] }).value;

    const section = out.slice(out.indexOf('id="storm-digest"'));
    expect([...section.matchAll(/<li data-incident="(\d+)"/g)].map((m) => Number(m[1]))).toEqual([2, 3, 1]);
    for (const id of [1, 2, 3]) expect(section).toContain(`<a href="/console/incidents/${id}">#${id} `);
    expect(section).toContain('carded on slack');
    expect(section).toContain('card follows');
    expect(out).not.toContain('<script>alert');
    expect(out).not.toContain('<img');
    expect(out).not.toContain('s3cret');
    expect(digestSummary(digest)).toContain('pay [redacted] 1');
    expect(section).toContain('<p class="digest-summary">3 incidents (1 critical, 2 warning)');
    // The digest comes before the incident list (here: its empty notice).
    expect(out.indexOf('id="storm-digest"')).toBeLessThan(out.indexOf('class="notice"'));
  });

  it('shows nothing when no storm is open', () => {
    expect(listMain(viewer, { open: [], recent: [], privateMessages: [], storms: [] }).value).not.toContain('storm-digest');
  });
});
