import type { Logger } from 'pino';

/**
 * The SDK's logger on top of pino. The SDK logs whole HTTP errors, whose request config holds the
 * tenant access token: only messages are passed on, never the objects.
 */
export function larkLogger(log: Logger): Record<'error' | 'warn' | 'info' | 'debug' | 'trace', (...msg: unknown[]) => void> {
  const join = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : typeof m === 'number' ? String(m) : '')).filter(Boolean).join(' ');
  return {
    error: (...msg) => log.error(join(msg)),
    warn: (...msg) => log.warn(join(msg)),
    info: (...msg) => log.debug(join(msg)),
    debug: (...msg) => log.debug(join(msg)),
    trace: (...msg) => log.trace(join(msg)),
  };
}
