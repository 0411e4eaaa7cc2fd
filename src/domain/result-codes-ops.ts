/**
 * Result codes of the typed operations (restart, rollback, verify, compose, checks): each is said
 * by the core's catalogue as `result.<code>` (src/core/i18n/ops.en.ts). A comment names each
 * code's parameters; a parameter ending in `Ms` is a duration in milliseconds.
 */
export const OPS_RESULT_CODES = [] as const;
