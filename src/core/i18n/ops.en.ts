/*
 * What the typed operations (restart, rollback, verify, compose, checks) report, said by the bot:
 * `result.<code>` for each code of src/domain/result-codes-ops.ts, and `fact.<label>` for the
 * labels of their findings. Kept apart from en.ts because they are the runbook actions' words, not
 * the bot's own; English shows the action's own summary, so these texts say the same for the other
 * languages to follow.
 */
export const opsEn = {} as const satisfies Record<string, string>;
