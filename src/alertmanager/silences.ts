import { loadUndici } from '../runbooks/index.js';
import { SilenceApiError, type NewSilence, type SilenceApi } from '../core/ports/silence-api.js';

const TIMEOUT_MS = 5_000;

/** Alertmanager's answer to `POST /api/v2/silences`. */
interface PostSilenceResponse {
  silenceID?: unknown;
}

function describeFailure(what: string, error: unknown): SilenceApiError {
  const reason = error instanceof Error ? error.message : String(error);
  return new SilenceApiError(`Alertmanager could not be reached to ${what}: ${reason}`, { cause: error });
}

async function readText(body: { text(): Promise<string> }): Promise<string> {
  return (await body.text()).trim().slice(0, 300);
}

/**
 * Silences through Alertmanager's API v2 (`POST /api/v2/silences`, `DELETE /api/v2/silence/{id}`).
 * Every call is bounded by a timeout, so a hung Alertmanager gives an error in chat, not a stuck press.
 */
export function createAlertmanagerSilences(baseUrl: string): SilenceApi {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    async create(silence: NewSilence): Promise<string> {
      let res;
      try {
        const { request } = await loadUndici();
        res = await request(`${base}/api/v2/silences`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(silence),
          headersTimeout: TIMEOUT_MS,
          bodyTimeout: TIMEOUT_MS,
        });
      } catch (error) {
        throw describeFailure('create a silence', error);
      }
      if (res.statusCode !== 200) {
        throw new SilenceApiError(`Alertmanager refused the silence (HTTP ${res.statusCode}): ${await readText(res.body)}`);
      }
      const json = (await res.body.json()) as PostSilenceResponse;
      if (typeof json.silenceID !== 'string' || json.silenceID === '') throw new SilenceApiError('Alertmanager answered without a silence id.');
      return json.silenceID;
    },

    async expire(id: string): Promise<void> {
      let res;
      try {
        const { request } = await loadUndici();
        res = await request(`${base}/api/v2/silence/${encodeURIComponent(id)}`, { method: 'DELETE', headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
      } catch (error) {
        throw describeFailure('expire the silence', error);
      }
      const text = await readText(res.body);
      if (res.statusCode === 200) return;
      // Gone already (expired by hand in Alertmanager, or garbage-collected): what was asked for is true.
      if (res.statusCode === 404 || /already expired/i.test(text)) return;
      throw new SilenceApiError(`Alertmanager refused to expire silence ${id} (HTTP ${res.statusCode}): ${text}`);
    },
  };
}
