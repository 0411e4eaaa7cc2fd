/**
 * Discord's message limits (discord.com/developers/docs/resources/message, components reference),
 * enforced while rendering so that a post never fails on size. Lengths are counted in UTF-16 code
 * units, which is never less than Discord's own count, so a text within these limits fits.
 */
export const DISCORD_LIMITS = {
  content: 2000,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footerText: 2048,
  /** Title, description, field names and values, footer and author, across all embeds of a message. */
  embedsTotal: 6000,
  actionRows: 5,
  buttonsPerRow: 5,
  customId: 100,
  buttonLabel: 80,
  /** String selects: options per select; an option's label, value and description; the placeholder. */
  selectOptions: 25,
  selectOptionText: 100,
  selectPlaceholder: 150,
  threadName: 100,
  /** Our own cap: longer URLs make unreadable messages and are skipped. */
  linkUrl: 512,
} as const;

/** Cuts text to at most `max` UTF-16 units, marking the cut with an ellipsis and never splitting a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let cut = max - 1;
  // Do not leave half of a surrogate pair (an emoji) before the ellipsis.
  const last = text.charCodeAt(cut - 1);
  if (cut > 0 && last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut)}…`;
}

/** Defuses mass mentions even where allowed_mentions would already stop the ping (embeds, logs, copies). */
export function defuseMentions(text: string): string {
  return text.replace(/@(everyone|here)\b/g, '@\u200b$1');
}

/**
 * Makes text from alerts literal in Discord markdown: no emphasis, code, spoilers, masked links
 * (`[label](url)` could disguise a link), headings or quotes, and no mention syntax (`<@id>`).
 */
export function escapeMarkdown(text: string): string {
  return defuseMentions(text.replace(/[\\*_~`|[\]<>]/g, '\\$&').replace(/^(\s*)(#)/gm, '$1\\$2'));
}

/**
 * Whole lines joined with newlines within `max` characters; the lines that do not fit are summed up
 * as "…and N more". Only a first line longer than the whole space is cut.
 */
export function joinLines(lines: string[], max: number): string {
  const whole = lines.join('\n');
  if (whole.length <= max) return whole;
  const more = (n: number) => `…and ${n} more`;
  const kept: string[] = [];
  let length = 0;
  for (const line of lines) {
    const next = length + (kept.length > 0 ? 1 : 0) + line.length;
    const rest = lines.length - kept.length - 1;
    if (next + (rest > 0 ? 1 + more(rest).length : 0) > max) break;
    kept.push(line);
    length = next;
  }
  if (kept.length === 0) {
    const rest = lines.length - 1;
    const room = max - (rest > 0 ? 1 + more(rest).length : 0);
    if (room >= 2) return rest > 0 ? `${truncate(lines[0] ?? '', room)}\n${more(rest)}` : truncate(lines[0] ?? '', max);
    return truncate(more(lines.length), max);
  }
  // The loop stopped where this line plus the summary of the rest still fitted.
  return truncate(`${kept.join('\n')}\n${more(lines.length - kept.length)}`, max);
}
