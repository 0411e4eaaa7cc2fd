/**
 * HTML for the web console, built so that text cannot become markup: every value interpolated into
 * the `html` template is escaped unless it is already `Html` (built by this template). Alert labels,
 * annotations, step output and user names all reach pages only through here.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for element content and for double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ENTITIES[c] ?? c);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (typeof value === 'string') return escapeHtml(value);
  if (typeof value === 'number' || typeof value === 'boolean') return escapeHtml(String(value));
  return value.map(render).join('');
}

/** Tagged template: the literal parts are trusted markup, every interpolation is escaped. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** An href for a link from alert data: only http(s) URLs become links (no `javascript:`, `data:`…). */
export function safeHref(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

/** Fenced code blocks (an unclosed fence runs to the end) and inline code spans. */
const CODE = /(```[\s\S]*?(?:```|$)|`[^`\n]+`)/g;
/** A Slack-style `*bold*` pair, as the core writes thread messages. */
const BOLD = /(?<![*\w\\])\*(?![\s*])([^*\n]*?[^\s*\\])\*(?![*\w])/g;

/**
 * The core's light markup (Slack-style `*bold*`, inline code and fenced blocks) as HTML. Each
 * piece is escaped first; only the markers become tags, so no text from an alert or a step's
 * output can add an element or attribute.
 */
export function formatMessage(text: string): Html {
  const parts = text.split(CODE).map((part, i) => {
    if (i % 2 === 1) {
      if (part.startsWith('```')) return `<pre>${escapeHtml(part.replace(/^```\n?/, '').replace(/\n?```$/, ''))}</pre>`;
      return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
    }
    return escapeHtml(part).replace(BOLD, '<strong>$1</strong>');
  });
  return new Html(parts.join(''));
}
