/*
 * What the data actions (checkpoint, backup, restore, locate) report, said by the bot:
 * `result.<code>` for each code of src/domain/result-codes-data.ts, `fact.<label>` for the labels
 * of their findings and `artefact.<kind>` for the files they make. Kept apart from en.ts because
 * they are the runbook actions' words, not the bot's own; English shows the action's own summary,
 * so these texts say the same for the other languages to follow.
 */
export const dataEn = {} as const satisfies Record<string, string>;
