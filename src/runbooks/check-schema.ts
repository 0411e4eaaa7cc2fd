import { z } from 'zod';

/*
 * What a read-only check's output must show, beyond its exit code (`expect:`), and which of its
 * lines a thread keeps when the output is cut (`keep:`). `df -h` exits 0 at any fill level and
 * `sed -n /ERROR/p` exits 0 whatever it finds: the exit code alone says only that the command ran.
 */

/** A regular expression as written in a manifest; it must compile (with the `u` flag, as it is applied). */
const regexSource = z
  .string()
  .min(1)
  .max(500)
  .superRefine((source, ctx) => {
    try {
      new RegExp(source, 'u');
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${error instanceof Error ? error.message : String(error)}` });
    }
  });

const label = z.string().min(1).max(60).optional();

/**
 * A number read from the output must stay within bounds: every match of `value` is checked, its
 * first capture group (or the whole match) read as a number, e.g. each filesystem's use% of df.
 */
const thresholdSchema = z
  .strictObject({ label, value: regexSource, max: z.number().optional(), min: z.number().optional() })
  .refine((e) => e.max !== undefined || e.min !== undefined, 'a value expectation needs max, min or both');
/** A pattern that must not occur in the output, e.g. ERROR lines in a log. */
const absentSchema = z.strictObject({ label, absent: regexSource });
/** A pattern that must occur in the output, e.g. "healthy" in a status report. */
const presentSchema = z.strictObject({ label, present: regexSource });

export const expectationSchema = z.union([thresholdSchema, absentSchema, presentSchema]);
export type Expectation = z.output<typeof expectationSchema>;

export const checkFields = {
  /** Checks of the output; any that fails fails the step, with the value it found. */
  expect: z.array(expectationSchema).max(10).optional(),
  /** Lines kept in the thread when long output is cut (patterns), e.g. used_memory and maxmemory. */
  keep: z.array(regexSource).max(10).optional(),
};
