import { DISCORD_LIMITS as L, defuseMentions, truncate } from './limits.js';

/** Fenced code blocks (an unclosed fence runs to the end) and inline code spans: left exactly as they are. */
const CODE = /(```[\s\S]*?(?:```|$)|`[^`\n]+`)/g;

/** A Slack-style `*bold*` pair: single asterisks, not inside a word, not touching another asterisk. */
const SLACK_BOLD = /(?<![*\w\\])\*(?![\s*])([^*\n]*?[^\s*\\])\*(?![*\w])/g;

/**
 * The core writes thread messages with Slack-style emphasis (`*bold*`); Discord's bold is `**bold**`.
 * Outside code, text is also made safe: no masked links (`[label](url)`), no mention or channel
 * syntax (`<@id>`, `<#id>`), no headings, and @everyone/@here defused. Code is left alone.
 */
export function toDiscordMarkdown(text: string): string {
  return text
    .split(CODE)
    .map((part, i) => {
      if (i % 2 === 1) return part;
      const safe = defuseMentions(part.replace(/[[\]<]/g, '\\$&').replace(/^(\s*)(#)/gm, '$1\\$2'));
      return safe.replace(SLACK_BOLD, '**$1**');
    })
    .join('');
}

const FENCE = '```';
const openFence = (text: string) => (text.split(FENCE).length - 1) % 2 === 1;

/** Cuts markdown to `max` characters; a code block left open by the cut is closed again. */
export function truncateMarkdown(text: string, max: number = L.content): string {
  const cut = truncate(text, max);
  if (!openFence(cut)) return cut;
  const closer = `\n${FENCE}`;
  const shorter = truncate(text, max - closer.length);
  return openFence(shorter) ? `${shorter}${closer}` : shorter;
}
