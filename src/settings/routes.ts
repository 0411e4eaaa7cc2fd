import { z } from 'zod';
import { labelMatchSchema } from '../core/label-match.js';
import { loadYamlFile } from './yaml-file.js';

/** Channel routing by labels (ROUTES_FILE); see core/routing.ts for how a route picks channels. */
const channels = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((c) => (Array.isArray(c) ? c : [c]));

export const routesSchema = z.strictObject({
  routes: z
    .array(
      z.strictObject({
        match: labelMatchSchema,
        slack: channels.optional(),
        discord: channels.optional(),
        dingtalk: channels.optional(),
        feishu: channels.optional(),
      }),
    )
    .default([]),
});

export type Routes = z.output<typeof routesSchema>;

/** Channel routing by labels, from ROUTES_FILE; none: every incident goes to the default channels. */
export async function loadRoutes(file: string | undefined): Promise<Routes> {
  return file === undefined ? { routes: [] } : loadYamlFile(file, routesSchema, 'routes');
}
