import { BotError } from '../../domain/errors.js';

/**
 * The port to Alertmanager's silences, so the core never speaks HTTP itself. The implementation
 * (API v2 over undici) lives in src/alertmanager/silences.ts; tests run it against the real binary.
 */
export interface SilenceMatcher {
  name: string;
  value: string;
  isEqual: boolean;
  isRegex: boolean;
}

export interface NewSilence {
  matchers: SilenceMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

export interface SilenceApi {
  /** Creates the silence; resolves with Alertmanager's silence id. */
  create(silence: NewSilence): Promise<string>;
  /** Expires the silence; an already expired or unknown silence counts as done. */
  expire(id: string): Promise<void>;
}

/** Alertmanager could not be reached or refused the request; the message says which, for the user. */
export class SilenceApiError extends BotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('alertmanager_failed', message, options);
  }
}
