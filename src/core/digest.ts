import { escapeControls, type CardButton, type Severity } from './card.js';
import type { Redactor } from '../domain/redact.js';
import { makeButton } from './button-codec.js';
import type { MessageRef } from './ports/chat-platform.js';
import type { Storm, StormMember } from './ports/storms.js';
import { t } from './i18n/index.js';

/** One incident of a storm digest: its card once posted in the channel, else its console page (when there is a console URL). */
export interface DigestLine {
  incidentId: number;
  title: string;
  severity: Severity;
  status: 'firing' | 'resolved';
  service: string | null;
  card: MessageRef | null;
  consoleUrl: string | null;
}

/**
 * What a storm's digest shows: counts by severity and service, then every incident, the most
 * severe first and the newest first within a severity. Platforms render and split it (paginate).
 */
export interface StormDigest {
  stormId: number;
  startedAt: string;
  /** The storm is over: every incident listed has its card. */
  ended: boolean;
  total: number;
  carded: number;
  bySeverity: Array<{ severity: Severity; count: number }>;
  /** The busiest services, most incidents first. */
  byService: Array<{ service: string; count: number }>;
  lines: DigestLine[];
  /** "Post cards": while cards are held back (STORM_CARDS_PER_MINUTE) and some wait. */
  button: CardButton | undefined;
}

/** One message of a digest: the first carries the counts and the button, every one some lines. */
export interface DigestPage {
  digest: StormDigest;
  page: number;
  pages: number;
  lines: DigestLine[];
}

const SEVERITY_ORDER: readonly Severity[] = ['critical', 'warning', 'info', 'none'];
const SERVICES_SHOWN = 8;

export function buildDigest(storm: Storm, members: readonly StormMember[], options: { consoleUrl?: string | undefined; holding: boolean }): StormDigest {
  const rank = (s: Severity) => SEVERITY_ORDER.indexOf(s);
  const lines = [...members]
    .sort((a, b) => rank(a.severity) - rank(b.severity) || b.incidentId - a.incidentId)
    .map((m) => ({
      incidentId: m.incidentId,
      title: m.title,
      severity: m.severity,
      status: m.status,
      service: m.service,
      card: m.card,
      consoleUrl: options.consoleUrl ? `${options.consoleUrl.replace(/\/+$/, '')}/console/incidents/${m.incidentId}` : null,
    }));
  const count = <K extends string>(keys: K[]) => {
    const counts = new Map<K, number>();
    for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
    return counts;
  };
  const severities = count(members.map((m) => m.severity));
  const services = count(members.map((m) => m.service ?? '(no service)'));
  const carded = members.filter((m) => m.card !== null).length;
  const ended = storm.endedAt !== null;
  return {
    stormId: storm.id,
    startedAt: storm.startedAt,
    ended,
    total: members.length,
    carded,
    bySeverity: SEVERITY_ORDER.filter((s) => severities.has(s)).map((severity) => ({ severity, count: severities.get(severity) ?? 0 })),
    byService: [...services.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, SERVICES_SHOWN).map(([service, n]) => ({ service, count: n })),
    lines,
    button: !ended && options.holding && carded < members.length ? makeButton({ action: 'post-cards', stormId: storm.id }, t('digest.postCards'), { style: 'primary' }) : undefined,
  };
}

/**
 * Splits the digest into as few pages as `budget` allows: each page's lines together stay within
 * it, counted by `lineSize` as the platform renders them; the first page also carries the header
 * (`headerSize`). Lines keep their order. A digest with no lines is one page.
 */
export function paginateDigest(digest: StormDigest, budget: { perPage: number; headerSize: number; lineSize: (line: DigestLine) => number }): DigestPage[] {
  const groups: DigestLine[][] = [[]];
  let used = budget.headerSize;
  for (const line of digest.lines) {
    const size = budget.lineSize(line) + 1;
    const current = groups[groups.length - 1] ?? [];
    if (current.length > 0 && used + size > budget.perPage) {
      groups.push([line]);
      used = size;
    } else {
      current.push(line);
      used += size;
    }
  }
  return groups.map((lines, i) => ({ digest, page: i + 1, pages: groups.length, lines }));
}

/**
 * A line's size for pagination: the larger of how it renders now and once its card is posted (a
 * link of the longest ids), so that posting a card never pushes lines onto another page.
 */
export function lineRoom(line: DigestLine, render: (line: DigestLine) => string): number {
  return Math.max(render(line).length, render({ ...line, card: LONGEST_CARD }).length);
}

/** A card reference at least as long as any platform's: a line's room is the same before and after its card is posted. */
const LONGEST_CARD: MessageRef = { platform: '', channel: 'C'.repeat(24), messageId: '9'.repeat(24), threadId: '9'.repeat(24) };

/** The counts line both chat renderers start a digest with (plain text; renderers escape it). */
export function digestSummary(digest: StormDigest): string {
  const severity = digest.bySeverity.map((s) => `${s.count} ${s.severity}`).join(', ');
  const services = digest.byService.map((s) => `${s.service} ${s.count}`).join(', ');
  const state = digest.ended ? t('digest.allCarded') : t('digest.carded', { carded: digest.carded, total: digest.total });
  return t('digest.summary', { total: digest.total, severity, services, state });
}

/**
 * Members as a digest may show them: titles and services redacted, invisible controls escaped.
 * The chat digests and the console's use this one copy, so their counts lines agree.
 */
export function shownMembers(members: readonly StormMember[], redact: Redactor): StormMember[] {
  return members.map((m) => ({ ...m, title: escapeControls(redact(m.title)), service: m.service === null ? null : escapeControls(redact(m.service)) }));
}

/** An open storm's digest as the console shows it, with where the storm is. */
export interface ChannelDigest {
  platform: string;
  channel: string;
  digest: StormDigest;
}
