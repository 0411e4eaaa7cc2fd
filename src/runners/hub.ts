/**
 * In-process wake-ups between the routes and the waiters of one replica: a queued job wakes its
 * runner's held poll at once, and a reported event wakes the step waiting for it. Other replicas'
 * changes are seen by polling the store (every `pollMs`), so a wake-up is only ever a shortcut.
 */
export class RunnerHub {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves on `notify(key)`, after `ms`, or when `signal` aborts, whichever comes first. */
  wait(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(key) ?? new Set<() => void>();
      this.waiters.set(key, set);
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  notify(key: string): void {
    for (const done of [...(this.waiters.get(key) ?? [])]) done();
  }
}

export const runnerKey = (name: string) => `runner:${name}`;
export const jobKey = (id: number) => `job:${id}`;
