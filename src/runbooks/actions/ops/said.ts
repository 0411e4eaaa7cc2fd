import { formatArgv } from '../exec.js';
import type { ProgramRun } from '../program.js';
import type { ResultCode, ResultMessage } from '../../../domain/result-message.js';

/*
 * What the operation actions say, as codes and values for the bot's language next to the English
 * line: a part of a line (say), a refusal (Problem), and why a program failed (its failure and the
 * line of its output that says why).
 */

/** One part of a line said by the bot: a code and its values. */
export function say(code: ResultCode, params: Record<string, string | number> = {}): ResultMessage {
  return { code, params };
}

/**
 * Why an input or a state cannot be used: the English line (summaries, facts) and the same said as
 * a code, so a refusal reaches people in the bot's language.
 */
export interface Problem {
  text: string;
  said: ResultMessage;
}

export function problemOf(text: string, code: ResultCode, params: Record<string, string | number> = {}): Problem {
  return { text, said: say(code, params) };
}

/** A code's values with every secret the summary would have had redacted. */
export function redactSaid(said: ResultMessage, redact: (text: string) => string): ResultMessage {
  return { ...said, params: Object.fromEntries(Object.entries(said.params).map(([k, v]) => [k, typeof v === 'string' ? redact(v) : v])) };
}

/** klog-style prefixes (kubectl's "E1122 02:06:44.27 …") are noise next to the message that follows. */
const KLOG_LINE = /^[EWIF]\d{4} \d\d:\d\d:\d\d/u;
const PROBLEM_WORDS = /error|refused|cannot|can't|could not|couldn't|unknown|not found|no such|denied|failed|not been booted|unable|invalid|timed out|timeout/iu;

/**
 * The line of a program's output that best says why it failed: the first line that reads like a
 * problem, else the last line. For a summary; the output tail shows the rest.
 */
export function reasonLine(output: string, max = 200): string {
  const lines = output
    .split(/\r?\n/u)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const line = lines.find((l) => !KLOG_LINE.test(l) && PROBLEM_WORDS.test(l)) ?? lines.at(-1) ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The last non-empty line of a program's output (e.g. kubectl's "… successfully rolled out"). */
export function lastLine(output: string, max = 200): string {
  const line = output.trimEnd().split(/\r?\n/u).at(-1)?.trim() ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** "systemctl exited 1: System has not been booted with systemd …" */
export function programProblem(run: ProgramRun): string {
  const reason = reasonLine(run.output);
  const failure = run.failure ?? 'failed';
  return reason === '' ? failure : `${failure}: ${reason}`;
}

/** A duration as formatDuration wrote it ("339 ms", "1.2s"), back in milliseconds. */
function durationMs(text: string): number | undefined {
  const ms = /^(\d+) ms$/u.exec(text);
  if (ms) return Number(ms[1]);
  const s = /^(\d+(?:\.\d+)?)s$/u.exec(text);
  return s ? Number(s[1]) * 1000 : undefined;
}

/**
 * Why a program failed, said in parts: its failure (the shapes runProgram writes) and the line of
 * its output that says why (the program's own words, kept as written).
 */
export function programProblemSaid(run: ProgramRun): ResultMessage[] {
  const program = run.argv[0] ?? '';
  const failure = run.failure ?? '';
  const after = / (?:timed out|cancelled) after (.+)$/u.exec(failure);
  const afterMs = after ? durationMs(after[1] ?? '') : undefined;
  const notStarted = /^could not start (.+?): (.*)$/su.exec(failure);
  const large = / printed more than (\d+) MiB$/u.exec(failure);
  const killed = / killed by (\S+)$/u.exec(failure);
  const exited = / exited (-?\d+)$/u.exec(failure);
  let first: ResultMessage;
  if (run.failure === undefined) first = say('program.failed');
  else if (after && afterMs !== undefined) first = say(run.timedOut ? 'program.timedOut' : 'program.cancelled', { program, afterMs });
  else if (notStarted) first = say('program.notStarted', { program: notStarted[1] ?? '', error: notStarted[2] ?? '' });
  else if (large) first = say('program.tooLarge', { program, mib: Number(large[1]) });
  else if (killed) first = say('program.killed', { program, signal: killed[1] ?? '' });
  else if (exited) first = say('program.exited', { program, code: Number(exited[1]) });
  else first = say('text', { text: failure });
  const reason = reasonLine(run.output);
  return reason === '' ? [first] : [first, say('program.reason', { line: reason })];
}

/** How a program phase is said: a code for "done (took)", one for "failed", and their values. */
export interface ProgramSaid {
  ok: ResultCode;
  failed: ResultCode;
  params: Record<string, string | number>;
}

/** A program named by its argv alone: "`systemctl restart x` (1.2s)". */
export function argvSaid(argv: readonly string[]): ProgramSaid {
  return { ok: 'program.ran', failed: 'program.ranFailed', params: { argv: quoteArgv(argv) } };
}

export function quoteArgv(argv: readonly string[]): string {
  return `\`${formatArgv(argv)}\``;
}
