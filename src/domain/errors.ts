/**
 * One error base class with a stable machine-readable `code`; subclasses per failure. Handlers turn
 * these into HTTP answers and chat messages; anything else is a bug and answers 500.
 */
export class BotError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Configuration is missing or invalid; the message lists every problem. */
export class ConfigError extends BotError {
  constructor(message: string) {
    super('config_invalid', message);
  }
}

/** A runbook manifest is invalid; the message names the file and the path inside it. */
export class RunbookError extends BotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('runbook_invalid', message, options);
  }
}

/** Input from outside (webhook, interaction) was rejected; `status` is the HTTP answer. */
export class InputError extends BotError {
  constructor(
    code: string,
    message: string,
    readonly status: number,
    readonly details?: unknown,
  ) {
    super(code, message);
  }
}

/** What a refusal records in the audit trail (in its own transaction, since the refused one rolls back). */
export interface RefusalAudit {
  incidentId: number | null;
  kind: 'step.refused' | 'approval.refused' | 'incident.refused';
  data: Record<string, unknown>;
}

/** A user asked for something they may not do; the message is shown to them privately and audited. */
export class NotAllowedError extends BotError {
  constructor(
    message: string,
    readonly audit?: RefusalAudit,
  ) {
    super('not_allowed', message);
  }
}
