import type { Redactor } from '../../domain/redact.js';

/** Lines of output kept for a step result: enough to see what happened, small enough for a chat message. */
export const TAIL_MAX_LINES = 20;
/** Characters kept at most, whatever the line count; long lines would otherwise flood a thread. */
export const TAIL_MAX_CHARS = 1500;

/**
 * Plenty of context before the kept tail: output is cut to this before redacting (redacting
 * megabytes only to keep 1500 characters would be wasted work), and the cut is far enough from the
 * kept part that no secret spanning it can reach into what is shown.
 */
const REDACT_WINDOW = 16 * 1024;

/**
 * Redacts, then keeps the last lines. Redaction comes before the final cut so that truncation can
 * never split a secret and leave a fragment the redactor no longer recognises.
 */
export function outputTail(output: string, redact: Redactor): string {
  const lines = redact(output.slice(-REDACT_WINDOW)).replace(/\r\n?/gu, '\n').trimEnd().split('\n');
  const tail = lines.slice(-TAIL_MAX_LINES).join('\n');
  // Code-point aware, so the cut never leaves half a surrogate pair.
  const chars = [...tail];
  return chars.length > TAIL_MAX_CHARS ? `…${chars.slice(-(TAIL_MAX_CHARS - 1)).join('')}` : tail;
}

/** "35 ms" below a second, "1.2s" above. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)}s`;
}
