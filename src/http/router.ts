import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { sendError } from './respond.js';

export type Route = {
  method: 'GET' | 'POST';
  /** Exact path, or a pattern whose groups are passed to the handler. */
  path: string | RegExp;
  handle: (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<void> | void;
};

/** A tiny router: the bot has a handful of routes and needs no framework for them. */
export function createRouter(routes: Route[], log: Logger): RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://bot.invalid');
    const matches = routes
      .map((route) => {
        if (typeof route.path === 'string') return route.path === url.pathname ? { route, params: [] } : undefined;
        const m = route.path.exec(url.pathname);
        return m ? { route, params: m.slice(1) } : undefined;
      })
      .filter((m) => m !== undefined);
    if (matches.length === 0) return sendError(res, 404, 'not_found', `no route for ${url.pathname}`);
    const match = matches.find((m) => m.route.method === req.method);
    if (!match) {
      res.setHeader('allow', matches.map((m) => m.route.method).join(', '));
      return sendError(res, 405, 'method_not_allowed', `${req.method ?? ''} is not allowed on ${url.pathname}`);
    }
    Promise.resolve(match.route.handle(req, res, match.params)).catch((error: unknown) => {
      log.error({ err: error, path: url.pathname }, 'request failed');
      if (!res.headersSent) sendError(res, 500, 'internal_error', 'internal error; it has been logged');
      else res.end();
    });
  };
}
