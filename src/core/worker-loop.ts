/**
 * A background loop that runs `tick` every `intervalMs`, or sooner when nudged, never two ticks at
 * once. Workers (outbox, executor) use it so a request only writes intent and nudges.
 */
export class WorkerLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  /** Waiting out `minGapMs` after a tick that was nudged while it ran: nudges then wait too. */
  private pausing = false;

  /**
   * `minGapMs`: a tick nudged while the previous one ran starts at least this long after it ended,
   * so a stream of nudges (one per webhook under a storm) makes a tick every `minGapMs`, not one
   * back to back with the next; a nudge into a quiet loop still ticks at once.
   */
  constructor(
    private readonly tick: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
    private readonly minGapMs = 0,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Asks for a tick as soon as the current one (if any) ends. */
  nudge(): void {
    if (this.stopped || this.pausing) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Stops scheduling and waits for the tick in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Runs one tick now (for shutdown drains and tests); waits for any tick in progress first. */
  async runOnce(): Promise<void> {
    await this.running;
    await this.tick();
  }

  private schedule(delay: number, pausing = false): void {
    this.pausing = pausing;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.loop(), delay);
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    if (this.running || this.stopped) return;
    this.again = false;
    this.pausing = false;
    this.running = this.tick().catch(this.onError);
    await this.running;
    this.running = undefined;
    if (!this.stopped) this.schedule(this.again ? this.minGapMs : this.intervalMs, this.again && this.minGapMs > 0);
  }
}
