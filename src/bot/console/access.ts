import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Route } from '../../http/router.js';
import { sendError } from '../../http/respond.js';
import { t } from '../../core/i18n/index.js';

export type ConsoleMode = 'interactive' | 'read-only' | 'off';

export interface ConsoleSetup {
  mode: ConsoleMode;
  /** Why this mode, for the start-up log and for refusals. */
  reason: string;
  /** Set when the configuration asked for a console that cannot be served safely. */
  warning?: string | undefined;
  /** The token the console requires; undefined: open to whoever reaches the loopback address. */
  token: string | undefined;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost', '[::1]']);

/** Whether listening on this address keeps the bot reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.trim().toLowerCase());
}

/**
 * Which console this configuration gets. `auto` is interactive when no chat platform is
 * configured and read-only beside Slack or Discord; `on` is always interactive. Beyond loopback
 * the console needs a token, and without one it is off (with a warning) rather than open.
 */
export function resolveConsole(input: { setting: 'auto' | 'on' | 'off'; token: string | undefined; host: string; chatPlatforms: readonly string[] }): ConsoleSetup {
  const { setting, token, host, chatPlatforms } = input;
  if (setting === 'off') return { mode: 'off', reason: 'CONSOLE=off', token: undefined };
  if (!isLoopbackHost(host) && token === undefined) {
    return {
      mode: 'off',
      reason: `HOST=${host} listens beyond loopback and CONSOLE_TOKEN is not set`,
      warning: `web console disabled: the bot listens on ${host} (beyond loopback) and CONSOLE_TOKEN is not set; set CONSOLE_TOKEN to serve the console, or HOST=127.0.0.1`,
      token: undefined,
    };
  }
  if (setting === 'on') return { mode: 'interactive', reason: 'CONSOLE=on', token };
  if (chatPlatforms.length === 0) return { mode: 'interactive', reason: t('console.reason.noChat'), token };
  return { mode: 'read-only', reason: t('console.reason.beside', { platforms: chatPlatforms.join(t('console.where.and')), n: chatPlatforms.length }), token };
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    try {
      if (!cookies.has(name)) cookies.set(name, decodeURIComponent(raw));
    } catch {
      // A malformed cookie of someone else's is not ours to read.
    }
  }
  return cookies;
}

export function cookie(name: string, value: string, options: { httpOnly?: boolean; maxAgeSeconds?: number; secure?: boolean } = {}): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'SameSite=Strict'];
  if (options.httpOnly !== false) parts.push('HttpOnly');
  if (options.secure) parts.push('Secure');
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${options.maxAgeSeconds}`);
  return parts.join('; ');
}

/**
 * Whether the browser reached the console over https: the connection is TLS, or a proxy in front
 * says so (`X-Forwarded-Proto: https`, its first value). The header is trusted as it is: a client
 * that forges it only gets cookies its own browser will not send back over plain http.
 */
export function servedOverHttps(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean } | undefined)?.encrypted === true) return true;
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return first === 'https';
}

/** The console's sign-in and session cookies expire after this (a shared or lost browser does not keep access). */
export const CONSOLE_COOKIE_SECONDS = 12 * 3600;

export const AUTH_COOKIE = 'console_auth';
export const SESSION_COOKIE = 'console_sid';
export const USER_COOKIE = 'console_user';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Compares digests, so neither the content nor the length of a secret leaks through timing. */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export type AuthResult = { ok: true; setCookie?: string; redirectTo?: string } | { ok: false; status: 401; message: string };

/**
 * Who may see the console. With a token: `Authorization: Bearer <token>`, or the cookie that
 * `?token=<token>` sets once (HttpOnly, SameSite=Strict; the URL is then cleaned by a redirect).
 * The cookie holds a digest of the token, not the token. Without a token (loopback only), the
 * Host header must name the loopback address, so a DNS-rebinding page cannot drive the console.
 */
export class ConsoleAccess {
  private readonly cookieValue: string | undefined;
  private readonly csrfKey = randomBytes(32);

  constructor(private readonly token: string | undefined) {
    this.cookieValue = token === undefined ? undefined : createHmac('sha256', token).update('chatops-console-auth-cookie').digest('base64url');
  }

  get requiresToken(): boolean {
    return this.token !== undefined;
  }

  check(req: IncomingMessage, url: URL): AuthResult {
    if (this.token === undefined || this.cookieValue === undefined) {
      const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
      if (!LOOPBACK_HOSTS.has(host)) {
        return { ok: false, status: 401, message: t('console.auth.loopback', { host: host.slice(0, 100) }) };
      }
      return { ok: true };
    }
    const query = url.searchParams.get('token');
    if (query !== null) {
      if (!constantTimeEqual(query, this.token)) return { ok: false, status: 401, message: t('console.auth.wrongToken') };
      url.searchParams.delete('token');
      const setCookie = cookie(AUTH_COOKIE, this.cookieValue, { maxAgeSeconds: CONSOLE_COOKIE_SECONDS, secure: servedOverHttps(req) });
      return { ok: true, setCookie, redirectTo: `${url.pathname}${url.search}` };
    }
    const bearer = /^bearer\s+(.*)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) {
      return constantTimeEqual(bearer.trim(), this.token) ? { ok: true } : { ok: false, status: 401, message: t('console.auth.wrongToken') };
    }
    const presented = parseCookies(req.headers.cookie).get(AUTH_COOKIE);
    if (presented !== undefined) {
      return constantTimeEqual(presented, this.cookieValue) ? { ok: true } : { ok: false, status: 401, message: t('console.auth.badCookie') };
    }
    return { ok: false, status: 401, message: t('console.auth.needsToken') };
  }

  /** The session id of this browser (a random cookie), and the cookie to set when it has none yet. */
  session(req: IncomingMessage): { id: string; setCookie?: string } {
    const existing = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (existing && /^[A-Za-z0-9_-]{16,64}$/.test(existing)) return { id: existing };
    const id = randomBytes(18).toString('base64url');
    return { id, setCookie: cookie(SESSION_COOKIE, id, { maxAgeSeconds: CONSOLE_COOKIE_SECONDS, secure: servedOverHttps(req) }) };
  }

  /** The anti-forgery token of a session, put into every form. */
  csrfToken(sessionId: string): string {
    return createHmac('sha256', this.csrfKey).update(sessionId).digest('base64url');
  }

  /**
   * Whether a POST comes from the console's own pages: a cross-site fetch metadata header or a
   * foreign Origin is refused outright; then the session's form token, `Sec-Fetch-Site:
   * same-origin` or an Origin equal to this host proves it. An opaque `Origin: null` (privacy
   * settings, sandboxed frames) proves nothing either way: the token or fetch metadata must.
   */
  sameOrigin(req: IncomingMessage, form: URLSearchParams): boolean {
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin === 'null' ? undefined : req.headers.origin;
    const host = req.headers.host ?? '';
    const originMatches = origin !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
    if (origin !== undefined && !originMatches) return false;
    const sid = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    const field = form.get('csrf');
    if (sid !== undefined && field !== null && constantTimeEqual(field, this.csrfToken(sid))) return true;
    return site === 'same-origin' || originMatches;
  }
}

export interface RouteGate {
  access: ConsoleAccess;
  /** The bot listens beyond loopback: without a token the route is refused outright, as the console is off then. */
  beyondLoopback: boolean;
  /** The variable that holds the token, named in refusals. */
  tokenName: string;
}

/**
 * The console's gate around a route that is not a console page but shows incidents all the same
 * (the audit trail, the timeline, metrics): the same token, cookie and loopback-Host rules. Beyond
 * loopback without a token it refuses: the Host rule stops a rebinding browser, not a client that
 * forges the Host header, and the console itself is off in that configuration.
 */
export function guardRoute(gate: RouteGate, handle: Route['handle']): Route['handle'] {
  return async (req, res, params) => {
    if (gate.beyondLoopback && !gate.access.requiresToken) {
      return sendError(res, 403, 'token_required', `this route is refused: the bot listens beyond loopback and ${gate.tokenName} is not set`);
    }
    const url = new URL(req.url ?? '/', 'http://bot.invalid');
    const auth = gate.access.check(req, url);
    if (!auth.ok) {
      res.setHeader('www-authenticate', 'Bearer realm="chatops-console"');
      res.setHeader('cache-control', 'no-store');
      return sendError(res, auth.status, 'unauthorized', auth.message.replaceAll('CONSOLE_TOKEN', gate.tokenName));
    }
    if (auth.redirectTo !== undefined) {
      res.writeHead(303, { location: auth.redirectTo, 'cache-control': 'no-store', ...(auth.setCookie ? { 'set-cookie': auth.setCookie } : {}) });
      res.end();
      return;
    }
    await handle(req, res, params);
  };
}
