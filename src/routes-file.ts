import { routesSchema, type Routes } from './core/routing.js';
import { loadYamlFile } from './yaml-file.js';

/** Channel routing by labels, from ROUTES_FILE; none: every incident goes to the default channels. */
export async function loadRoutes(file: string | undefined): Promise<Routes> {
  return file === undefined ? { routes: [] } : loadYamlFile(file, routesSchema, 'routes');
}
