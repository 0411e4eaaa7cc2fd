// Domain: value types and helpers shared by the core and the runbooks (errors, redaction, sizes, concurrency).
// Imports nothing of src: every other folder may import it.
export { BotError, ConfigError, InputError, NotAllowedError, RunbookError } from './errors.js';
export { mapConcurrently } from './concurrently.js';
export { formatBytes } from './format.js';
export { isResultCode, RESULT_CODES, type ResultCode, type ResultMessage, type ResultParts } from './result-message.js';
export { createRedactor, redactData, withSecretValues, type Redactor } from './redact.js';
