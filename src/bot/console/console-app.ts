import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { notificationSchema } from '../../core/alertmanager-payload.js';
import { decodeButtonId } from '../../core/button-codec.js';
import { redactCard } from '../../core/card.js';
import { t } from '../../core/i18n/index.js';
import type { IncidentUseCases } from '../../core/use-cases.js';
import { InputError } from '../../domain/errors.js';
import type { Redactor } from '../../domain/redact.js';
import { handleButtonPress } from '../../handlers/button-press.js';
import { readBody } from '../../http/read-body.js';
import { sendError } from '../../http/respond.js';
import type { Route } from '../../http/router.js';
import { ConsoleAccess, cookie, parseCookies, servedOverHttps, USER_COOKIE, type ConsoleSetup } from './access.js';
import type { Html } from './html.js';
import { CONSOLE_CHANNEL, CONSOLE_PLATFORM, ConsolePlatform } from './platform.js';
import { incidentMain, layout, listMain, messagePage, type ThreadView, type Viewer } from './render.js';
import { sampleAlert } from './sample-alert.js';

// Over 300 lines: the console's routes share one request context (session, CSRF nonce, access
// gate); keeping them together keeps every route visibly behind the same checks.

export interface ConsoleOptions {
  setup: ConsoleSetup;
  /** The demo shop's port, for the sample alert's `instance` label. */
  demoPort: number;
  /**
   * Resolves once the store has recorded what the outbox did after a post (the store's ping, which
   * its first-come lock runs after the outbox's transaction).
   */
  settle: () => Promise<void>;
  /** The engine is created after the platform it needs; looked up per request. */
  getEngine: () => IncidentUseCases;
  log: Logger;
  redact: Redactor;
  clock: () => Date;
  /**
   * The chat platforms configured beside the console. With any, console approvals count only where
   * a policy role lists console users (`console:alice`): typed names must not stand in for them.
   */
  chatPlatforms?: readonly string[] | undefined;
}

export interface ConsoleApp {
  setup: ConsoleSetup;
  /** The console's ChatPlatform; the composition root gives it to the engine in interactive mode only. */
  platform: ConsolePlatform;
  routes: Route[];
  /** Where a person on this machine opens the console. */
  url(address: AddressInfo, host: string): string;
  /** Ends the live streams, so the server can close. */
  close(): void;
}

const FORM_MAX_BYTES = 16 * 1024;
const MAX_STREAMS = 64;
const HEARTBEAT_MS = 15_000;
const DEFAULT_USER = 'alice';
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
const INCIDENT_ID = /^\d{1,15}$/;
const OPEN_LIMIT = 200;
const RECENT_LIMIT = 50;
/** Scheduled posts listed under the incidents: the latest, enough to see the last days of checklists. */
const SCHEDULE_POSTS_LIMIT = 20;

/** The console's security headers: a strict CSP with a fresh nonce per response, no framing, no sniffing, no caching. */
export function securityHeaders(nonce: string): Record<string, string> {
  return {
    'content-security-policy': [
      "default-src 'self'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "img-src 'self' data:",
      "connect-src 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "object-src 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // Links to Prometheus or runbooks get no referrer; the console's own forms keep their Origin.
    'referrer-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  viewer: Viewer;
  /** Cookies to set with the response (a new session id). */
  cookies: string[];
  /** This browser's session id; `fresh` when the request carried none (one was just made up). */
  session: { id: string; fresh: boolean };
}

/** Where a form may send the browser back to: the list or an incident page, nothing else. */
function safeBack(value: string | null): string {
  return value !== null && (value === '/' || /^\/console\/incidents\/\d{1,15}$/.test(value)) ? value : '/';
}

/**
 * The web console: a third chat adapter on the same core. In interactive mode its platform is one
 * of the engine's, so incidents get a console card and thread through the outbox like Slack's and
 * Discord's; presses go through the same button handler. Pages render from the use cases' queries.
 */
export function createConsole(o: ConsoleOptions): ConsoleApp {
  const { setup, log } = o;
  const platform = new ConsolePlatform({ clock: o.clock, settle: o.settle });
  const access = new ConsoleAccess(setup.token);
  const interactive = setup.mode === 'interactive';
  const streams = new Set<ServerResponse>();
  const readOnlyReason = t('console.readOnly', { reason: setup.reason });

  const sendPage = (ctx: Pick<RequestContext, 'res' | 'viewer' | 'cookies'>, status: number, body: Html, extra: Record<string, string> = {}) => {
    const text = body.value;
    ctx.res.writeHead(status, {
      ...securityHeaders(ctx.viewer.nonce),
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      ...(ctx.cookies.length > 0 ? { 'set-cookie': ctx.cookies } : {}),
      ...extra,
    });
    ctx.res.end(text);
  };

  const redirect = (ctx: Pick<RequestContext, 'res' | 'cookies'>, location: string, cookies: string[] = []) => {
    const all = [...ctx.cookies, ...cookies];
    ctx.res.writeHead(303, { location, 'cache-control': 'no-store', 'referrer-policy': 'same-origin', ...(all.length > 0 ? { 'set-cookie': all } : {}) });
    ctx.res.end();
  };

  /** Serves a page, or only its main part when the live-update script asks (`?fragment=1`), tagged with a version of that part. */
  const sendMain = (ctx: RequestContext, title: string, main: Html, options: { incidentId?: string; back?: string } = {}) => {
    const version = createHash('sha256').update(main.value).digest('base64url').slice(0, 16);
    if (ctx.url.searchParams.get('fragment') === '1') return sendPage(ctx, 200, main, { 'x-console-version': version });
    sendPage(ctx, 200, layout(ctx.viewer, title, main, { ...options, version }));
  };

  const refuse = (ctx: RequestContext, status: number, title: string, message: string) => sendPage(ctx, status, messagePage(ctx.viewer, title, message));

  /** Wraps a console route: off → 404; the token (when required) → 401; read-only → 403 for actions; a session for forms. */
  const guarded =
    (handler: (ctx: RequestContext) => Promise<void> | void, options: { acts?: boolean } = {}): Route['handle'] =>
    async (req, res, params) => {
      if (setup.mode === 'off') return sendError(res, 404, 'console_disabled', `the web console is off: ${setup.reason}`);
      const url = new URL(req.url ?? '/', 'http://console.invalid');
      const auth = access.check(req, url);
      if (!auth.ok) {
        log.warn({ path: url.pathname }, 'console request refused: not authorised');
        res.writeHead(auth.status, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer realm="chatops-console"', 'cache-control': 'no-store' });
        res.end(`${auth.message}\n`);
        return;
      }
      const cookies: string[] = auth.setCookie ? [auth.setCookie] : [];
      if (auth.redirectTo !== undefined && req.method === 'GET') return redirect({ res, cookies }, auth.redirectTo);
      const session = access.session(req);
      if (session.setCookie) cookies.push(session.setCookie);
      const named = parseCookies(req.headers.cookie).get(USER_COOKIE);
      const viewer: Viewer = {
        user: named !== undefined && USER_NAME.test(named) ? named : DEFAULT_USER,
        csrf: access.csrfToken(session.id),
        interactive,
        readOnlyReason,
        nonce: randomBytes(16).toString('base64'),
      };
      const ctx: RequestContext = { req, res, url, params, viewer, cookies, session: { id: session.id, fresh: session.setCookie !== undefined } };
      if (options.acts && !interactive) {
        return refuse(ctx, 403, t('console.refused.readOnly.title'), t('console.refused.readOnly.text', { reason: readOnlyReason }));
      }
      await handler(ctx);
    };

  /** Reads a posted form and checks that it comes from the console's own pages; undefined after answering when not. */
  const readForm = async (ctx: RequestContext): Promise<URLSearchParams | undefined> => {
    const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      refuse(ctx, 415, t('console.refused.form.title'), t('console.refused.form.text'));
      return undefined;
    }
    let body: Buffer;
    try {
      body = await readBody(ctx.req, FORM_MAX_BYTES);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      ctx.res.setHeader('connection', 'close');
      refuse(ctx, error.status, t('console.refused.tooLarge.title'), t('console.refused.tooLarge.text', { max: FORM_MAX_BYTES }));
      return undefined;
    }
    const form = new URLSearchParams(body.toString('utf8'));
    if (!access.sameOrigin(ctx.req, form)) {
      log.warn({ path: ctx.url.pathname, origin: ctx.req.headers.origin, site: ctx.req.headers['sec-fetch-site'] }, 'console form refused: not from the console page');
      refuse(ctx, 403, t('console.refused.origin.title'), t('console.refused.origin.text'));
      return undefined;
    }
    return form;
  };

  const userFrom = (form: URLSearchParams, viewer: Viewer): string | undefined => {
    const named = form.get('user') ?? viewer.user;
    return USER_NAME.test(named) ? named : undefined;
  };

  const listPage = async (ctx: RequestContext) => {
    const engine = o.getEngine();
    const open = await engine.openIncidents(OPEN_LIMIT);
    const recent = (await engine.recentIncidents(RECENT_LIMIT)).filter((i) => i.status !== 'firing');
    const runners = await engine.runners();
    const schedulePosts = (await engine.schedulePosts(SCHEDULE_POSTS_LIMIT)).map((e) => ({ ...e, text: o.redact(e.text) }));
    const storms = await engine.openStormDigests();
    const main = listMain(ctx.viewer, { open, recent, runners, schedulePosts, storms, privateMessages: interactive ? platform.privateMessages(ctx.viewer.user) : [] });
    sendMain(ctx, t('console.incidents'), main);
  };

  const incidentPage = async (ctx: RequestContext) => {
    const raw = ctx.params[0] ?? '';
    if (!INCIDENT_ID.test(raw)) return refuse(ctx, 404, t('console.refused.incident.title'), t('console.refused.incident.text', { raw: raw.slice(0, 40) }));
    const id = Number(raw);
    const engine = o.getEngine();
    const data = await (async () => {
      const incident = await engine.incident(id);
      const shown = incident && (await engine.incidentCard(id));
      if (!incident || !shown) return undefined;
      const card = redactCard(shown, o.redact);
      const hasThread = interactive && incident.targets.some((t) => t.platform === CONSOLE_PLATFORM);
      let thread: ThreadView;
      if (hasThread) {
        const replies = await engine.deliveredReplies(CONSOLE_PLATFORM, id);
        thread = { kind: 'thread', replies: replies.map((r) => ({ ...r, message: { ...r.message, text: o.redact(r.message.text) } })) };
      } else {
        const elsewhere = incident.targets.map((t) => t.platform).filter((p) => p !== CONSOLE_PLATFORM);
        const where = elsewhere.length > 0 ? t('console.where.thread', { platforms: [...new Set(elsewhere)].join(t('console.where.and')) }) : t('console.where.none');
        const why = interactive
          ? t('console.why.interactive', { where })
          : t('console.why.readOnly', { reason: readOnlyReason, where });
        thread = { kind: 'activity', why, events: ((await engine.auditTrail(id)) ?? []).map((e) => ({ ...e, text: o.redact(e.text) })) };
      }
      return { card, thread };
    })();
    if (!data) return refuse(ctx, 404, t('console.refused.incident.title'), t('refusal.incidentMissing', { id }));
    const privateMessages = interactive ? platform.privateMessages(ctx.viewer.user).filter((m) => m.incidentId === undefined || m.incidentId === raw) : [];
    const main = incidentMain(ctx.viewer, { ...data, privateMessages });
    sendMain(ctx, data.card.title, main, { incidentId: raw, back: `/console/incidents/${raw}` });
  };

  const press = async (ctx: RequestContext) => {
    const form = await readForm(ctx);
    if (!form) return;
    const user = userFrom(form, ctx.viewer);
    if (user === undefined) return refuse(ctx, 400, t('console.refused.name.title'), t('console.refused.name.text'));
    // Approvals are tied to the browser session; a press without one could be a new "person" each time.
    if (ctx.session.fresh) return refuse(ctx, 403, t('console.refused.session.title'), t('console.refused.session.text'));
    const buttonId = (form.get('buttonId') ?? '').slice(0, 200);
    const target = decodeButtonId(buttonId);
    const incidentField = form.get('incident') ?? '';
    const incident = INCIDENT_ID.test(incidentField) ? incidentField : target?.action === 'run-step' ? String(target.incidentId) : undefined;
    await handleButtonPress(
      o.getEngine(),
      platform,
      {
        userId: user,
        channel: CONSOLE_CHANNEL,
        threadId: incident,
        buttonId,
        tellPrivately: (text) => platform.tellUser(user, { channel: CONSOLE_CHANNEL, ...(incident ? { threadId: incident } : {}) }, text),
        // A digest: the session id is the key of the form token and stays out of the store.
        session: createHash('sha256').update(`console-session:${ctx.session.id}`).digest('base64url').slice(0, 22),
        listedOnly: (o.chatPlatforms ?? []).length > 0,
      },
      log,
    );
    redirect(ctx, incident ? `/console/incidents/${incident}` : '/');
  };

  const fireSample = async (ctx: RequestContext) => {
    const form = await readForm(ctx);
    if (!form) return;
    const notification = notificationSchema.parse(sampleAlert({ now: o.clock(), demoPort: o.demoPort }));
    const accepted = await o.getEngine().accept(notification, JSON.stringify(notification), { atOnce: true });
    if (accepted.outcome === 'inbox_full') return refuse(ctx, 503, t('console.refused.busy.title'), t('console.refused.busy.text', { n: accepted.waiting }));
    if (accepted.outcome === 'queued') {
      // Behind an earlier notification of the same group that still waits: shown once recorded.
      log.info({ seq: accepted.seq, user: ctx.viewer.user }, 'console: sample alert queued');
      return redirect(ctx, '/');
    }
    log.info({ incidentId: accepted.incidentId, user: ctx.viewer.user }, 'console: sample alert ingested');
    redirect(ctx, `/console/incidents/${accepted.incidentId}`);
  };

  const switchUser = async (ctx: RequestContext) => {
    const form = await readForm(ctx);
    if (!form) return;
    const user = (form.get('user') ?? '').trim();
    if (!USER_NAME.test(user)) return refuse(ctx, 400, t('console.refused.name.title'), t('console.refused.name.text'));
    redirect(ctx, safeBack(form.get('back')), [cookie(USER_COOKIE, user, { maxAgeSeconds: 365 * 24 * 3600, secure: servedOverHttps(ctx.req) })]);
  };

  const dismiss = async (ctx: RequestContext) => {
    const form = await readForm(ctx);
    if (!form) return;
    const user = userFrom(form, ctx.viewer);
    if (user !== undefined) platform.dismissPrivate(user);
    redirect(ctx, safeBack(form.get('back')));
  };

  const stream = (ctx: RequestContext) => {
    const { req, res } = ctx;
    if (streams.size >= MAX_STREAMS) return sendError(res, 503, 'too_many_streams', `at most ${MAX_STREAMS} live console pages at once`);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
      ...(ctx.cookies.length > 0 ? { 'set-cookie': ctx.cookies } : {}),
    });
    res.write('retry: 2000\n: connected\n\n');
    streams.add(res);
    const unsubscribe = platform.events.subscribe((event) => {
      res.write(`event: update\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const done = () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    };
    req.on('close', done);
    res.on('close', done);
  };

  const routes: Route[] = [
    { method: 'GET', path: '/', handle: guarded(listPage) },
    { method: 'GET', path: /^\/console\/incidents\/([^/]+)$/, handle: guarded(incidentPage) },
    { method: 'GET', path: '/console/stream', handle: guarded(stream) },
    { method: 'POST', path: '/console/press', handle: guarded(press, { acts: true }) },
    { method: 'POST', path: '/console/sample-alert', handle: guarded(fireSample, { acts: true }) },
    { method: 'POST', path: '/console/user', handle: guarded(switchUser, { acts: true }) },
    { method: 'POST', path: '/console/dismiss', handle: guarded(dismiss, { acts: true }) },
  ];

  return {
    setup,
    platform,
    routes,
    url(address, host) {
      const h = host.trim().toLowerCase();
      const shown = h === '0.0.0.0' || h === '::' || h === '' || h === '127.0.0.1' ? '127.0.0.1' : h === '::1' || h === '[::1]' ? '[::1]' : h.includes(':') ? `[${h}]` : h;
      return `http://${shown}:${address.port}`;
    },
    close() {
      // A live stream never ends by itself: close its connection, or the server's close would wait for it.
      for (const res of streams) res.destroy();
      streams.clear();
    },
  };
}
