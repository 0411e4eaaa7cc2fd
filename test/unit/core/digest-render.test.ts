import { describe, expect, it } from 'vitest';
import { buildDigest, type StormDigest } from '../../../src/core/digest.js';
import type { Storm, StormMember } from '../../../src/core/ports/storms.js';
import { slackDigest, renderDigestPage as renderSlack } from '../../../src/bot/slack/digest.js';
import { discordDigest, renderDigestPage as renderDiscord } from '../../../src/bot/discord/digest.js';
import { DISCORD_LIMITS } from '../../../src/bot/discord/limits.js';
import type { webApi } from '@slack/bolt';
import { validateBlocks } from '../../fakes/slack-block-kit.js';
import { DEFAULT_MAX_BLOCKS_JSON_CHARS } from '../../fakes/slack-api.js';

/**
 * The digest model and its Slack and Discord renderings: counts, order (most severe, then newest
 * first), links to cards or the console, the "Post cards" button, and pages that each fit the
 * platform's limits while every incident is listed exactly once across them.
 */
const storm: Storm = { id: 7, platform: 'slack', channel: 'C0ALERTS', startedAt: '2026-01-01T00:00:00.000Z', endedAt: null, released: false, pages: [], postingSince: null, joinedAt: '2026-01-01T00:00:00.000Z' };

function members(n: number, titleLength = 60): StormMember[] {
  return Array.from({ length: n }, (_, i) => ({
    incidentId: i + 1,
    title: `Incident ${i + 1} ${'x'.repeat(titleLength)} <!channel> *bold* @everyone`,
    severity: i % 3 === 0 ? 'critical' : i % 3 === 1 ? 'warning' : 'info',
    status: 'firing' as const,
    createdAt: '2026-01-01T00:00:00.000Z',
    service: `svc-${i % 5}`,
    card: i % 4 === 0 ? { platform: 'slack', channel: 'C0ALERTS', messageId: `1700000000.${String(i).padStart(6, '0')}`, threadId: '' } : null,
  }));
}

const idsOf = (text: string, pattern: RegExp) => [...text.matchAll(pattern)].map((m) => Number(m[1]));

describe('buildDigest', () => {
  it('counts by severity and service, lists the most severe first and the newest first within a severity, and links each line', () => {
    const d = buildDigest(storm, members(9), { consoleUrl: 'https://bot.example/', holding: true });
    expect(d.total).toBe(9);
    expect(d.carded).toBe(3);
    expect(d.bySeverity).toEqual([
      { severity: 'critical', count: 3 },
      { severity: 'warning', count: 3 },
      { severity: 'info', count: 3 },
    ]);
    expect(d.byService[0]).toEqual({ service: 'svc-0', count: 2 });
    expect(d.lines.map((l) => l.incidentId)).toEqual([7, 4, 1, 8, 5, 2, 9, 6, 3]);
    expect(d.lines.find((l) => l.incidentId === 2)?.consoleUrl).toBe('https://bot.example/console/incidents/2');
    expect(d.button?.label).toBe('Post cards');
    // No button once the storm is over, or when cards are not held.
    expect(buildDigest({ ...storm, endedAt: storm.startedAt }, members(9), { holding: true }).button).toBeUndefined();
    expect(buildDigest(storm, members(9), { holding: false }).button).toBeUndefined();
  });
});

describe('Slack digest pages', () => {
  const digest = slackDigest({} as webApi.WebClient, {} as webApi.WebClient);
  const paginate = (d: StormDigest) => digest.paginate(d);

  it('split 300 incidents into pages Slack accepts, each incident on exactly one page, with mentions escaped', () => {
    const d: StormDigest = buildDigest(storm, members(300, 140), { consoleUrl: 'https://bot.example', holding: true });
    const pages = paginate(d);
    expect(pages.length).toBeGreaterThan(1);
    const seen: number[] = [];
    for (const page of pages) {
      const { blocks, text } = renderSlack(page);
      expect(validateBlocks(JSON.parse(JSON.stringify(blocks)))).toMatchObject({ ok: true });
      expect(JSON.stringify(blocks).length).toBeLessThanOrEqual(DEFAULT_MAX_BLOCKS_JSON_CHARS);
      expect(text.length).toBeGreaterThan(0);
      const json = JSON.stringify(blocks);
      expect(json).not.toContain('<!channel>');
      seen.push(...idsOf(json, /#(\d+) /g));
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    // The header and the button are on the first page only.
    expect(JSON.stringify(renderSlack(pages[0]!).blocks)).toContain('Post cards');
    expect(JSON.stringify(renderSlack(pages[1]!).blocks)).not.toContain('Post cards');
  });

  it('keeps every line on its page when cards get posted', () => {
    const before = paginate(buildDigest(storm, members(300, 140).map((m) => ({ ...m, card: null })), { holding: false }));
    const after = paginate(buildDigest(storm, members(300, 140), { holding: false }));
    expect(after.map((p) => p.lines.map((l) => l.incidentId))).toEqual(before.map((p) => p.lines.map((l) => l.incidentId)));
  });
});

describe('Discord digest pages', () => {
  const calls = { create: () => Promise.resolve({ id: '1' }), edit: () => Promise.resolve(), guildId: '123456789012345678', nonce: () => ({}) };
  const digest = discordDigest(calls);
  const paginate = (d: StormDigest) => digest.paginate(d);

  it('split 300 incidents into embeds within Discord\'s limits, each incident on exactly one page, mass mentions defused', () => {
    const pages = paginate(buildDigest(storm, members(300, 140), { holding: true }));
    expect(pages.length).toBeGreaterThan(1);
    const seen: number[] = [];
    for (const page of pages) {
      const body = renderDiscord(page, calls.guildId);
      const embed = body.embeds?.[0];
      expect(embed?.description?.length ?? 0).toBeLessThanOrEqual(DISCORD_LIMITS.embedDescription);
      expect((embed?.title?.length ?? 0) + (embed?.description?.length ?? 0)).toBeLessThanOrEqual(DISCORD_LIMITS.embedsTotal);
      expect(embed?.description).not.toMatch(/@everyone/);
      // Never cut: a cut page would hide the incidents past the cut.
      expect(embed?.description).not.toMatch(/…$/);
      seen.push(...idsOf(embed?.description ?? '', /\*\*#(\d+)\*\*/g));
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(renderDiscord(pages[0]!, calls.guildId).components).toHaveLength(1);
    expect(renderDiscord(pages[1]!, calls.guildId).components).toEqual([]);
  });
});
