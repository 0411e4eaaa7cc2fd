/**
 * A browser-like client for the web console: keeps its cookies, reads the forms on a page and
 * submits them as a browser would (no Origin header: the session's form token carries the proof),
 * without following redirects so tests see the 303s.
 */
export interface ConsoleForm {
  action: string;
  fields: Record<string, string>;
  /** The submit button's text. */
  label: string;
  /** Each <select>'s name and the values of its options a person can choose (not its placeholder). */
  selects: Record<string, string[]>;
}

export interface ConsoleResponse {
  status: number;
  headers: Headers;
  text: string;
}

const decode = (s: string) =>
  s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&#96;/g, '`').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The POST forms of a page, with their hidden fields. */
export function formsOf(html: string): ConsoleForm[] {
  const forms: ConsoleForm[] = [];
  for (const m of html.matchAll(/<form method="post" action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)) {
    const body = m[2] ?? '';
    const fields: Record<string, string> = {};
    for (const input of body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[input[1] ?? ''] = decode(input[2] ?? '');
    const label = /<button[^>]*>([\s\S]*?)<\/button>/.exec(body)?.[1] ?? '';
    const selects: Record<string, string[]> = {};
    for (const select of body.matchAll(/<select name="([^"]+)"[^>]*>([\s\S]*?)<\/select>/g)) {
      selects[select[1] ?? ''] = [...(select[2] ?? '').matchAll(/<option value="([^"]*)"(?![^>]*disabled)[^>]*>/g)].map((o) => decode(o[1] ?? ''));
    }
    forms.push({ action: decode(m[1] ?? ''), fields, label: decode(label), selects });
  }
  return forms;
}

/** Visible text of a fragment of HTML: tags dropped, entities decoded. */
export function textOf(html: string): string {
  return decode(html.replace(/<[^>]+>/g, ' ')).replace(/[ \t]+/g, ' ');
}

/** The HTML inside the element with this id (the first one, up to its matching close for simple nesting). */
export function sectionOf(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  if (start < 0) return '';
  const tag = /<(\w+)[^>]*$/.exec(html.slice(0, start))?.[1] ?? 'section';
  const end = html.indexOf(`</${tag}>`, start);
  return html.slice(start, end < 0 ? undefined : end);
}

export class ConsoleClient {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    private readonly extraHeaders: Record<string, string> = {},
  ) {}

  private remember(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair && eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }

  private cookieHeader(): Record<string, string> {
    return this.cookies.size > 0 ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<ConsoleResponse> {
    const res = await fetch(`${this.baseUrl}${path}`, { redirect: 'manual', headers: { ...this.extraHeaders, ...this.cookieHeader(), ...headers } });
    this.remember(res.headers);
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  async post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<ConsoleResponse> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.extraHeaders, ...this.cookieHeader(), ...headers },
      body: new URLSearchParams(fields).toString(),
    });
    this.remember(res.headers);
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  /** Submits a form found on a page, optionally overriding fields. */
  submit(form: ConsoleForm, overrides: Record<string, string> = {}): Promise<ConsoleResponse> {
    return this.post(form.action, { ...form.fields, ...overrides });
  }
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, timeoutMs: number, description: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${last instanceof Error ? `: ${last.message}` : ''}`);
}
