import { ChatDeliveryError } from '../../core/ports/chat-platform.js';
import { answerError, transportError } from './errors.js';

/** DingTalk's two API hosts: the open API (v1.0 paths) and the older oapi (topapi paths, user look-ups). */
export interface DingTalkApiConfig {
  clientId: string;
  clientSecret: string;
  /** https://api.dingtalk.com unless given (tests point it at a fake). */
  apiUrl: string;
  /** https://oapi.dingtalk.com unless given. */
  oapiUrl: string;
  clock?: () => number;
}

/** A token is renewed this long before DingTalk says it expires (it lasts 2 hours). */
const RENEW_BEFORE_MS = 5 * 60_000;
const TIMEOUT_MS = 10_000;

/**
 * The calls an enterprise internal app makes, with the app's access token (from its Client ID and
 * Client Secret, cached until shortly before it expires). Every failure is a ChatDeliveryError.
 */
export class DingTalkApi {
  private token: { value: string; until: number } | undefined;
  private pending: Promise<string> | undefined;
  private readonly clock: () => number;

  constructor(private readonly config: DingTalkApiConfig) {
    this.clock = config.clock ?? Date.now;
  }

  /** A call to the open API (`/v1.0/...`), authenticated with the x-acs-dingtalk-access-token header. */
  async call(operation: string, method: 'POST' | 'PUT', path: string, body: unknown): Promise<Record<string, unknown>> {
    const token = await this.accessToken();
    return this.send(operation, `${this.config.apiUrl}${path}`, method, body, { 'x-acs-dingtalk-access-token': token });
  }

  /** A call to the oapi host (`/topapi/...`): the token in the query, errors as `errcode` in an HTTP 200 answer. */
  async oapi(operation: string, path: string, body: unknown): Promise<Record<string, unknown>> {
    const token = await this.accessToken();
    return this.send(operation, `${this.config.oapiUrl}${path}?access_token=${encodeURIComponent(token)}`, 'POST', body, {});
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.token.until > this.clock()) return this.token.value;
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async fetchToken(): Promise<string> {
    const answer = await this.send('get access token', `${this.config.apiUrl}/v1.0/oauth2/accessToken`, 'POST', { appKey: this.config.clientId, appSecret: this.config.clientSecret }, {});
    const value = answer.accessToken;
    const expireIn = typeof answer.expireIn === 'number' ? answer.expireIn : 7200;
    if (typeof value !== 'string' || value === '') throw new ChatDeliveryError('DingTalk get access token: no accessToken in the answer', {});
    this.token = { value, until: this.clock() + expireIn * 1000 - RENEW_BEFORE_MS };
    return value;
  }

  private async send(operation: string, url: string, method: string, body: unknown, headers: Record<string, string>): Promise<Record<string, unknown>> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      text = await res.text();
    } catch (error) {
      throw transportError(operation, error);
    }
    const parsed = parseObject(text);
    if (res.status === 401) this.token = undefined;
    // The robot APIs answer some refusals (the robot limit's 130101 and 660026) as HTTP 200 with an errcode.
    if (res.ok && parsed !== undefined && typeof parsed.errcode === 'number' && parsed.errcode !== 0) throw answerError(operation, { status: 200, body: parsed });
    if (!res.ok || parsed === undefined) {
      const retryAfter = Number(res.headers.get('retry-after'));
      throw answerError(operation, { status: res.ok ? 502 : res.status, body: parsed ?? { message: text.slice(0, 200) }, retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined });
    }
    return parsed;
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
