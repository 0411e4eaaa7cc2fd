import { z } from 'zod';

/**
 * argv, never a shell line: each element is rendered on its own and passed as one argument. The
 * program is fixed by the manifest author; alert labels may only fill in its arguments.
 */
export const argvSchema = z
  .array(z.string())
  .min(1)
  .superRefine((argv, ctx) => {
    const program = argv[0] ?? '';
    if (program === '') ctx.addIssue({ code: 'custom', path: [0], message: 'the program (run[0]) may not be empty' });
    if (program.includes('{{')) {
      ctx.addIssue({ code: 'custom', path: [0], message: 'the program (run[0]) may not contain a {{template}}: a label must never change which program runs' });
    }
  });
