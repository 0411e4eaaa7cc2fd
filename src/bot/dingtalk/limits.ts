import { ChatDeliveryError } from '../../core/ports/chat-platform.js';

/** DingTalk's robot limit: 20 messages a minute per robot; beyond it, a 10-minute block. */
export const DINGTALK_MESSAGES_PER_MINUTE = 20;

/** Our own caps on a StandardCard's texts: DingTalk documents none, and long cards are cut off in the client. */
export const DINGTALK_LIMITS = {
  title: 100,
  markdown: 5000,
  buttonLabel: 20,
  // Six rows of four: room for a GitCortexDown card's primary buttons and its twenty steps.
  buttons: 24,
} as const;

/**
 * Counts the robot's messages over the last minute, across all its groups: the outbox paces each
 * group, but DingTalk's limit is the robot's. A message beyond the limit is refused here, with
 * the time a slot frees up, instead of costing the robot a 10-minute block. A block DingTalk
 * announced (130101/660026) is kept too, so nothing is sent until it is over.
 */
export class RobotLimiter {
  private readonly sent: number[] = [];
  private blockedUntil = 0;

  constructor(
    private readonly perMinute: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes a slot or throws a ChatDeliveryError with `retryAfterMs` (the message was not sent). */
  take(operation: string): void {
    const now = this.clock();
    if (now < this.blockedUntil) throw new ChatDeliveryError(`DingTalk ${operation}: the robot is blocked for sending too fast`, { retryAfterMs: this.blockedUntil - now });
    while (this.sent.length > 0 && (this.sent[0] ?? 0) <= now - 60_000) this.sent.shift();
    if (this.sent.length >= this.perMinute) {
      const retryAfterMs = (this.sent[0] ?? now) + 60_000 - now;
      throw new ChatDeliveryError(`DingTalk ${operation}: the robot's ${this.perMinute} messages a minute are used`, { retryAfterMs: Math.max(1, retryAfterMs) });
    }
    this.sent.push(now);
  }

  /** DingTalk said the robot is blocked for this long. */
  block(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.clock() + ms);
  }
}

/** Cuts text to `max` code points, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Makes text from alerts literal in DingTalk's markdown: no emphasis, links, headings, quotes or
 * HTML (DingTalk renders a few tags, such as <font>).
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+!|~]/g, '\\$&').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
