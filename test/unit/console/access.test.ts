import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { AUTH_COOKIE, ConsoleAccess, SESSION_COOKIE, isLoopbackHost, parseCookies, resolveConsole } from '../../../src/bot/console/access.js';
import { loadConfig } from '../../../src/settings/config.js';

const TOKEN = 'console-token-0123456789';

const request = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
const url = (path = '/') => new URL(path, 'http://console.invalid');

describe('which console a configuration gets', () => {
  it('knows the loopback addresses', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost', 'LOCALHOST', '[::1]']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'bot.internal', '127.0.0.1.nip.io']) expect(isLoopbackHost(host)).toBe(false);
  });

  it('auto: interactive without a chat platform, read-only beside Slack or Discord', () => {
    expect(resolveConsole({ setting: 'auto', token: undefined, host: '127.0.0.1', chatPlatforms: [] })).toMatchObject({ mode: 'interactive', token: undefined });
    expect(resolveConsole({ setting: 'auto', token: undefined, host: '127.0.0.1', chatPlatforms: ['slack'] })).toMatchObject({ mode: 'read-only' });
    expect(resolveConsole({ setting: 'auto', token: undefined, host: 'localhost', chatPlatforms: ['slack', 'discord'] }).reason).toMatch(/slack and discord are configured/);
  });

  it('on: interactive even beside a chat platform; off: off', () => {
    expect(resolveConsole({ setting: 'on', token: undefined, host: '::1', chatPlatforms: ['discord'] }).mode).toBe('interactive');
    expect(resolveConsole({ setting: 'off', token: TOKEN, host: '127.0.0.1', chatPlatforms: [] }).mode).toBe('off');
  });

  it('beyond loopback: off with a warning without a token, served with one', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3']) {
      const setup = resolveConsole({ setting: 'on', token: undefined, host, chatPlatforms: [] });
      expect(setup.mode).toBe('off');
      expect(setup.warning).toMatch(/CONSOLE_TOKEN/);
    }
    expect(resolveConsole({ setting: 'auto', token: TOKEN, host: '0.0.0.0', chatPlatforms: [] })).toMatchObject({ mode: 'interactive', token: TOKEN });
  });

  it('reads CONSOLE, CONSOLE_TOKEN and DEMO_PORT, listens on loopback by default and redacts the token', () => {
    const config = loadConfig({});
    expect(config.host).toBe('127.0.0.1');
    expect(config.console).toEqual({ mode: 'auto', token: undefined, demoPort: 3080 });
    const set = loadConfig({ CONSOLE: 'on', CONSOLE_TOKEN: TOKEN, DEMO_PORT: '8081' });
    expect(set.console).toEqual({ mode: 'on', token: TOKEN, demoPort: 8081 });
    expect(set.secrets).toContain(TOKEN);
    expect(() => loadConfig({ CONSOLE: 'maybe', CONSOLE_TOKEN: 'short' })).toThrow(/CONSOLE:[\s\S]*CONSOLE_TOKEN: must be at least 16 characters/);
  });
});

describe('console access without a token (loopback only)', () => {
  const access = new ConsoleAccess(undefined);

  it('answers requests addressed to the loopback address', () => {
    for (const host of ['127.0.0.1:3000', 'localhost:3000', '[::1]:3000', 'localhost']) expect(access.check(request({ host }), url()).ok).toBe(true);
  });

  it('refuses other Host names, so a DNS-rebinding page cannot drive it', () => {
    const result = access.check(request({ host: 'attacker.example:3000' }), url());
    expect(result).toMatchObject({ ok: false, status: 401 });
  });
});

describe('console access with a token', () => {
  const access = new ConsoleAccess(TOKEN);
  const host = '10.0.0.5:3000';

  it('accepts the bearer token and refuses a wrong or missing one', () => {
    expect(access.check(request({ host, authorization: `Bearer ${TOKEN}` }), url()).ok).toBe(true);
    expect(access.check(request({ host, authorization: `bearer ${TOKEN}` }), url()).ok).toBe(true);
    expect(access.check(request({ host, authorization: 'Bearer wrong-token-0123456789' }), url())).toMatchObject({ ok: false, status: 401, message: 'Wrong console token.' });
    expect(access.check(request({ host, authorization: `Bearer ${TOKEN}x` }), url()).ok).toBe(false);
    expect(access.check(request({ host }), url())).toMatchObject({ ok: false, status: 401 });
    // Even on the loopback address: a configured token is always required.
    expect(access.check(request({ host: '127.0.0.1:3000' }), url()).ok).toBe(false);
  });

  it('trades ?token= once for an HttpOnly SameSite=Strict cookie (a digest, not the token) and cleans the URL', () => {
    const result = access.check(request({ host }), url(`/console/incidents/3?token=${TOKEN}&fragment=1`));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.redirectTo).toBe('/console/incidents/3?fragment=1');
    expect(result.setCookie).toMatch(new RegExp(`^${AUTH_COOKIE}=[A-Za-z0-9_-]+; Path=/; SameSite=Strict; HttpOnly; Max-Age=43200$`));
    expect(result.setCookie).not.toContain(TOKEN);
    const value = parseCookies(result.setCookie!.split(';')[0]).get(AUTH_COOKIE)!;
    expect(access.check(request({ host, cookie: `other=1; ${AUTH_COOKIE}=${value}` }), url()).ok).toBe(true);
    expect(access.check(request({ host, cookie: `${AUTH_COOKIE}=${value}x` }), url())).toMatchObject({ ok: false, status: 401 });
    expect(access.check(request({ host }), url('/?token=wrong-token-0123456789'))).toMatchObject({ ok: false, status: 401 });
  });

  it('does not accept the cookie of another token', () => {
    const other = new ConsoleAccess('another-token-0123456789');
    const result = other.check(request({ host }), url('/?token=another-token-0123456789'));
    const value = result.ok ? parseCookies(result.setCookie!.split(';')[0]).get(AUTH_COOKIE) : undefined;
    expect(access.check(request({ host, cookie: `${AUTH_COOKIE}=${value}` }), url()).ok).toBe(false);
  });
});

describe('console forms: cross-site requests are refused', () => {
  const access = new ConsoleAccess(undefined);
  const host = '127.0.0.1:3000';
  const sid = 'session-id-0123456789abcdef';
  const form = (fields: Record<string, string>) => new URLSearchParams(fields);
  const csrf = access.csrfToken(sid);

  it("accepts the session's form token, a same-origin fetch-metadata header, or a matching Origin", () => {
    expect(access.sameOrigin(request({ host, cookie: `${SESSION_COOKIE}=${sid}` }), form({ csrf }))).toBe(true);
    expect(access.sameOrigin(request({ host, 'sec-fetch-site': 'same-origin' }), form({}))).toBe(true);
    expect(access.sameOrigin(request({ host, origin: 'http://127.0.0.1:3000' }), form({}))).toBe(true);
    // An opaque origin does not refuse a request the token or fetch metadata vouch for.
    expect(access.sameOrigin(request({ host, origin: 'null', 'sec-fetch-site': 'same-origin' }), form({}))).toBe(true);
    expect(access.sameOrigin(request({ host, origin: 'null', cookie: `${SESSION_COOKIE}=${sid}` }), form({ csrf }))).toBe(true);
  });

  it('refuses a missing or wrong token, another session, a foreign Origin and cross-site metadata', () => {
    expect(access.sameOrigin(request({ host }), form({}))).toBe(false);
    expect(access.sameOrigin(request({ host, cookie: `${SESSION_COOKIE}=${sid}` }), form({ csrf: `${csrf}x` }))).toBe(false);
    expect(access.sameOrigin(request({ host, cookie: `${SESSION_COOKIE}=another-session-0123456789` }), form({ csrf }))).toBe(false);
    expect(access.sameOrigin(request({ host, origin: 'https://evil.example', cookie: `${SESSION_COOKIE}=${sid}` }), form({ csrf }))).toBe(false);
    expect(access.sameOrigin(request({ host, origin: 'null' }), form({}))).toBe(false);
    expect(access.sameOrigin(request({ host, origin: 'null', 'sec-fetch-site': 'cross-site' }), form({}))).toBe(false);
    expect(access.sameOrigin(request({ host, 'sec-fetch-site': 'cross-site', cookie: `${SESSION_COOKIE}=${sid}` }), form({ csrf }))).toBe(false);
    expect(access.sameOrigin(request({ host, 'sec-fetch-site': 'same-site' }), form({}))).toBe(false);
  });

  it('gives each session its own form token', () => {
    expect(access.csrfToken('a'.repeat(20))).not.toBe(access.csrfToken('b'.repeat(20)));
    expect(new ConsoleAccess(undefined).csrfToken(sid)).not.toBe(csrf);
  });
});
