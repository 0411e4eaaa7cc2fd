import { request } from 'undici';
import type { z } from 'zod';
import {
  EVENTS_PATH,
  eventsResponseSchema,
  POLL_PATH,
  pollResponseSchema,
  RUNNER_HEADER,
  type EventsResponse,
  type PollRequest,
  type PollResponse,
  type RunnerEvent,
} from '../runners/protocol.js';

/** How long the bot may take beyond the poll's own wait, and for a batch of events. */
const ANSWER_MS = 15_000;

/** The bot answered, but not with success: `status` tells a wrong token (401/403) from a bot in trouble (5xx). */
export class BotAnswerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'BotAnswerError';
  }
}

export interface BotClientOptions {
  url: string;
  name: string;
  token: string;
  version: string;
}

/** The runner's two requests to the bot; both go out from the runner, so the target host needs no open port. */
export class BotClient {
  constructor(private readonly o: BotClientOptions) {}

  private async post<S extends z.ZodType>(route: string, body: unknown, timeoutMs: number, schema: S, signal?: AbortSignal): Promise<z.output<S>> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const res = await request(`${this.o.url}${route}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.o.token}`,
        [RUNNER_HEADER]: this.o.name,
        'content-type': 'application/json',
        'user-agent': `chatops-runner/${this.o.version}`,
      },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      throw new BotAnswerError(res.statusCode, `${route} answered HTTP ${res.statusCode}${text.trim() ? `: ${text.trim().slice(0, 300)}` : ''}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new BotAnswerError(res.statusCode, `${route} answered something that is not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new BotAnswerError(res.statusCode, `${route} answered outside the runner protocol: ${parsed.error.issues[0]?.message ?? ''}`);
    return parsed.data;
  }

  /** Long-polls for jobs; this request is also the runner's heartbeat. */
  poll(body: PollRequest, signal: AbortSignal): Promise<PollResponse> {
    return this.post(POLL_PATH, body, body.waitMs + ANSWER_MS, pollResponseSchema, signal);
  }

  /** Reports events; the bot answers for each one, in order. */
  async sendEvents(events: readonly RunnerEvent[], signal?: AbortSignal): Promise<EventsResponse['results']> {
    const { results } = await this.post(EVENTS_PATH, { events }, ANSWER_MS, eventsResponseSchema, signal);
    if (results.length !== events.length || results.some((r, i) => r.jobId !== events[i]?.jobId)) {
      throw new BotAnswerError(200, `${EVENTS_PATH} answered for other events than were sent`);
    }
    return results;
  }
}
