import type { Logger } from 'pino';
import { BotAnswerError } from './bot-client.js';

/** Waiting between attempts: doubling from `baseMs` up to `maxMs`, each wait a random point of its upper half. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 500,
    private readonly maxMs = 30_000,
  ) {}

  next(): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 20));
    this.attempt += 1;
    // Jitter, so that many runners of a restarted bot do not all come back in the same instant.
    return Math.round(cap / 2 + Math.random() * (cap / 2));
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** A sleep that ends early on `wake()` (new work, or the bot is back) or when stopped. */
export class Waker {
  private wakeUp: (() => void) | undefined;

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.wakeUp = done;
      if (signal?.aborted) done();
    });
  }

  wake(): void {
    this.wakeUp?.();
  }
}

const describe = (error: unknown): string => {
  if (error instanceof BotAnswerError) return error.message;
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  const code = (error as NodeJS.ErrnoException).code ?? (error as { cause?: NodeJS.ErrnoException }).cause?.code;
  return `${error instanceof Error ? error.message : String(error)}${cause}${code ? ` (${code})` : ''}`;
};

/**
 * The bot being unreachable (down, restarting, a network cut), logged once when it starts and once
 * when it ends, whichever request notices: not once per attempt, which would flood the log of a
 * runner whose bot is away for hours.
 */
export class Outage {
  private since: number | undefined;
  private reason = '';

  constructor(
    private readonly log: Logger,
    private readonly botUrl: string,
  ) {}

  get down(): boolean {
    return this.since !== undefined;
  }

  failed(what: string, error: unknown): void {
    const reason = describe(error);
    const status = error instanceof BotAnswerError ? error.status : undefined;
    if (this.since === undefined) {
      this.since = Date.now();
      this.reason = reason;
      const auth = status === 401 || status === 403 ? ' (check RUNNER_NAME and RUNNER_TOKEN against the bot\'s RUNNERS_FILE)' : '';
      this.log.warn({ bot: this.botUrl, request: what, status }, `cannot reach the bot: ${reason}${auth}; retrying with backoff`);
    } else if (reason !== this.reason) {
      this.reason = reason;
      this.log.debug({ bot: this.botUrl, request: what, status }, `still cannot reach the bot: ${reason}`);
    }
  }

  succeeded(): void {
    if (this.since === undefined) return;
    const seconds = Math.round((Date.now() - this.since) / 100) / 10;
    this.since = undefined;
    this.log.info({ bot: this.botUrl, downSeconds: seconds }, `reached the bot again after ${seconds}s`);
  }
}
