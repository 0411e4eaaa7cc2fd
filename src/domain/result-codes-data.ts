/**
 * Result codes of the data actions (checkpoint, backup, restore, locate): each is said by the
 * core's catalogue as `result.<code>` (src/core/i18n/data.en.ts). A comment names each code's
 * parameters; a parameter ending in `Ms` is a duration in milliseconds.
 */
export const DATA_RESULT_CODES = [] as const;
