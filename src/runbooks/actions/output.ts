import type { Redactor } from '../../domain/redact.js';

/** Output of up to this many lines is shown whole; longer output is shown as a head and a tail. */
export const TAIL_MAX_LINES = 20;
/** Lines of the start shown when output is cut (the header of a table, the first lines of a report). */
export const HEAD_LINES = 5;
/** Lines of the end shown when output is cut (what happened last). */
export const TAIL_LINES = 12;
/** Lines from the cut middle that match a step's `keep:` patterns, at most. */
export const KEEP_MAX_LINES = 30;
/**
 * Characters shown at most, whatever the line count: a thread message carries the summary, the
 * findings and this, and must stay within Discord's 2,000 characters.
 */
export const TAIL_MAX_CHARS = 1500;
/** A shown line longer than this is cut: one huge line (a JSON body) must not crowd out the rest. */
const LINE_MAX_CHARS = 300;
/**
 * The full output kept for `GET /incidents/:id/runs/:run/output`, at most (characters): enough for
 * any processlist or INFO report, small enough to keep in the store for every run. Longer output
 * keeps its first and last halves, with the cut marked.
 */
export const FULL_OUTPUT_MAX_CHARS = 256 * 1024;

/**
 * The output, bounded and redacted: what the full-output route serves. The cut (when there is one)
 * is made at a line break before redacting, so no secret is split by it; the rest is redacted whole.
 */
export function fullOutput(output: string, redact: Redactor): string {
  const text = output.replace(/\r\n?/gu, '\n');
  if (text.length <= FULL_OUTPUT_MAX_CHARS) return redact(text).trimEnd();
  const half = FULL_OUTPUT_MAX_CHARS / 2;
  const headEnd = text.lastIndexOf('\n', half);
  const tailStart = text.indexOf('\n', text.length - half);
  const head = text.slice(0, headEnd > 0 ? headEnd : half);
  const tail = text.slice(tailStart > 0 ? tailStart + 1 : text.length - half);
  const cut = text.length - head.length - tail.length;
  return `${redact(head)}\n… ${cut} characters cut (the output was longer than ${FULL_OUTPUT_MAX_CHARS}) …\n${redact(tail).trimEnd()}`;
}

const clipLine = (line: string) => {
  const chars = [...line];
  return chars.length > LINE_MAX_CHARS ? `${chars.slice(0, LINE_MAX_CHARS - 1).join('')}…` : line;
};

const cutMarker = (n: number) => `… ${n} line${n === 1 ? '' : 's'} cut …`;

/** The chosen line indexes, in order, with each gap between them marked. */
function assemble(lines: readonly string[], shown: readonly number[]): string {
  const out: string[] = [];
  let next = 0;
  for (const i of shown) {
    if (i > next) out.push(cutMarker(i - next));
    out.push(clipLine(lines[i] ?? ''));
    next = i + 1;
  }
  if (next < lines.length) out.push(cutMarker(lines.length - next));
  return out.join('\n');
}

/**
 * What a thread shows of a step's output: all of it when short; otherwise the first lines, the
 * lines matching the step's `keep:` patterns (e.g. used_memory and maxmemory of INFO memory, which
 * sit in the middle), and the last lines, each cut marked ("… 143 lines cut …"). Redaction comes
 * before any cut, so that truncation never splits a secret into a fragment the redactor no longer
 * recognises. When the result is still too long, the head goes first, then the tail's oldest lines,
 * then kept lines: the lines a step asked for stay longest.
 */
export function outputTail(output: string, redact: Redactor, keep: readonly RegExp[] = []): string {
  return shownOutput(fullOutput(output, redact), keep);
}

/** As outputTail, for output already bounded and redacted (fullOutput). */
export function shownOutput(redacted: string, keep: readonly RegExp[] = []): string {
  const text = redacted.trimEnd();
  if (text === '') return '';
  const lines = text.split('\n');
  if (lines.length <= TAIL_MAX_LINES && [...text].length <= TAIL_MAX_CHARS) return text;
  const all = lines.map((_, i) => i);
  const tail = all.slice(Math.max(0, lines.length - TAIL_LINES));
  const head = all.slice(0, Math.min(HEAD_LINES, lines.length - tail.length));
  const middle = all.slice(head.length, lines.length - tail.length);
  const kept = keep.length === 0 ? [] : middle.filter((i) => keep.some((k) => k.test(lines[i] ?? ''))).slice(0, KEEP_MAX_LINES);
  const pick = () => [...head, ...kept, ...tail].sort((a, b) => a - b);
  let shown = assemble(lines, pick());
  while ([...shown].length > TAIL_MAX_CHARS) {
    if (head.length > 0) head.pop();
    else if (tail.length > 1) tail.shift();
    else if (kept.length > 0) kept.pop();
    else break;
    shown = assemble(lines, pick());
  }
  const chars = [...shown];
  // Only one line (the last) left and still too long: keep its end, code-point aware.
  return chars.length > TAIL_MAX_CHARS ? `…${chars.slice(-(TAIL_MAX_CHARS - 1)).join('')}` : shown;
}

/** "35 ms" below a second, "1.2s" above. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)}s`;
}
