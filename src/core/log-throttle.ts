/**
 * Keeps a repeated warning from flooding the log: the first of each kind is logged at once, then
 * at most one every `everyMs`, carrying how many were left out since the last. Under a storm of
 * refused webhooks (a full inbox, a wrong token) the log then says what happens without growing
 * by a line per request.
 */
export class LogThrottle {
  private readonly kinds = new Map<string, { lastAt: number; suppressed: number }>();

  constructor(
    private readonly everyMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Calls `log` with the count of those left out since the last one of `kind`, or leaves it out. */
  run(kind: string, log: (suppressed: number) => void): void {
    const at = this.now();
    const seen = this.kinds.get(kind);
    if (seen && at - seen.lastAt < this.everyMs) {
      seen.suppressed += 1;
      return;
    }
    this.kinds.set(kind, { lastAt: at, suppressed: 0 });
    log(seen?.suppressed ?? 0);
  }
}
