/**
 * A token bucket: `burst` deep, refilled at `perSecond`, full at first. Times are ms since the
 * epoch, from the caller's clock, so tests can drive it with a manual one.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;
  /** The platform said to come back at this time (a 429's Retry-After): no token before it. */
  private pausedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Takes a token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (now < this.pausedUntil || this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Returns a token taken for something that did not happen after all. */
  giveBack(now: number): void {
    this.refill(now);
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  /** Whole tokens there now. */
  available(now: number): number {
    this.refill(now);
    return now < this.pausedUntil ? 0 : Math.floor(this.tokens);
  }

  /** When the next token is there: `now` if one is. */
  nextAt(now: number): number {
    this.refill(now);
    if (now < this.pausedUntil) return this.pausedUntil;
    return this.tokens >= 1 ? now : now + Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }

  /**
   * A call charged to this bucket has just been answered, so the platform may have counted it only
   * now. Our bucket counted it when the token was taken, and refilled since; the platform's could
   * not refill past full before the call arrived. So after any call its level is at most one under
   * full: capping ours there keeps a call that was slow to arrive (a busy event loop, a slow store
   * transaction between the token and the request) from making the next ones come too close.
   */
  landed(now: number): void {
    this.refill(now);
    this.tokens = Math.min(this.tokens, this.burst - 1);
  }

  /**
   * The platform refused a call with Retry-After (HTTP 429): nothing more goes until `until`, and
   * then one call at a time at the sustained rate (the platform's bucket has just a token then).
   */
  pauseUntil(until: number, now: number): void {
    this.refill(now);
    if (until <= now) return;
    this.pausedUntil = Math.max(this.pausedUntil, until);
    this.tokens = 1;
    this.at = this.pausedUntil;
  }

  private refill(now: number): void {
    // A clock that went back refills nothing (and takes nothing away).
    if (now > this.at) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = Math.max(this.at, now);
  }
}
