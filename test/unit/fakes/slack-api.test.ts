import { createHmac } from 'node:crypto';
import { ErrorCode, WebClient, type WebAPIPlatformError, type WebAPIRateLimitedError, type WebAPIHTTPError } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack-api.js';
import { blockActionsBody, signSlackRequest, slashCommandBody } from '../../fakes/slack-signing.js';

const CHANNEL = 'C0INCIDENTS';

let slack: FakeSlack;
let client: WebClient;

function clientFor(fake: FakeSlack, token = fake.token, extra: ConstructorParameters<typeof WebClient>[1] = {}): WebClient {
  return new WebClient(token, { slackApiUrl: fake.url, retryConfig: { retries: 0 }, ...extra });
}

/** The rejection of `p`, failing the test if it resolves. */
async function rejection<E = Error>(p: Promise<unknown>): Promise<E> {
  try {
    await p;
  } catch (err) {
    return err as E;
  }
  throw new Error('expected the call to be rejected');
}

const opt = (value: string, text = value) => ({ text: { type: 'plain_text', text }, value });
const select = (options: unknown[], actionId = 's') => ({ type: 'static_select', action_id: actionId, placeholder: { type: 'plain_text', text: 'More steps' }, options });
const button = (actionId: string) => ({ type: 'button', action_id: actionId, text: { type: 'plain_text', text: actionId } });
const actions = (...elements: unknown[]) => ({ type: 'actions', elements });

beforeEach(async () => {
  // Functional tests post more than the per-channel burst allows; the rate-limit test turns it back on.
  slack = await startFakeSlack({ usergroups: { S0ONCALL: ['U0ALICE', 'U0BOB'] }, rateLimit: false });
  client = clientFor(slack);
});

afterEach(async () => {
  await slack.close();
});

describe('fake Slack Web API driven by the real WebClient', () => {
  it('answers auth.test like Slack', async () => {
    const res = await client.auth.test();
    expect(res).toMatchObject({ ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T0FAKE' });
  });

  it('posts, replies in threads and updates messages', async () => {
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: 'DiskFull on db-1' } },
      {
        type: 'actions',
        block_id: 'incident-actions',
        elements: [
          {
            type: 'button',
            action_id: 'ack',
            text: { type: 'plain_text', text: 'Acknowledge' },
            value: 'inc-1',
            style: 'primary',
            confirm: {
              title: { type: 'plain_text', text: 'Sure?' },
              text: { type: 'mrkdwn', text: 'Acknowledge *DiskFull*?' },
              confirm: { type: 'plain_text', text: 'Yes' },
              deny: { type: 'plain_text', text: 'No' },
            },
          },
        ],
      },
    ];
    const posted = await client.chat.postMessage({ channel: CHANNEL, text: 'DiskFull on db-1', blocks });
    expect(posted.ok).toBe(true);
    expect(posted.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(posted.channel).toBe(CHANNEL);

    // WebClient sends form-encoded bodies with blocks as a JSON string; the fake parses them back.
    const call = slack.callsTo('chat.postMessage')[0];
    expect(call?.args.blocks).toEqual(blocks);

    const r1 = await client.chat.postMessage({ channel: CHANNEL, thread_ts: posted.ts!, text: 'acknowledged by alice' });
    const r2 = await client.chat.postMessage({ channel: CHANNEL, thread_ts: posted.ts!, text: 'runbook step 1 done' });
    expect(Number(r2.ts) > Number(r1.ts)).toBe(true);
    expect(slack.threadReplies(CHANNEL, posted.ts!).map((m) => m.text)).toEqual([
      'acknowledged by alice',
      'runbook step 1 done',
    ]);
    expect(slack.topLevel(CHANNEL)).toHaveLength(1);

    const missingThread = await rejection<WebAPIPlatformError>(
      client.chat.postMessage({ channel: CHANNEL, thread_ts: '1600000000.000100', text: 'lost' }),
    );
    expect(missingThread.data.error).toBe('thread_not_found');

    const updated = await client.chat.update({ channel: CHANNEL, ts: posted.ts!, text: 'DiskFull on db-1 (acked)' });
    expect(updated.ok).toBe(true);
    const stored = slack.message(CHANNEL, posted.ts!);
    expect(stored?.text).toBe('DiskFull on db-1 (acked)');
    expect(stored?.blocks).toEqual(blocks); // blocks left out of chat.update are kept
    expect(stored?.history.map((h) => h.text)).toEqual(['DiskFull on db-1']);
    expect(stored?.updatedAt).toBeTypeOf('number');

    const notFound = await rejection<WebAPIPlatformError>(
      client.chat.update({ channel: CHANNEL, ts: '1600000000.000100', text: 'x' }),
    );
    expect(notFound.code).toBe(ErrorCode.PlatformError);
    expect(notFound.data.error).toBe('message_not_found');

    const noText = await rejection<WebAPIPlatformError>(client.apiCall('chat.postMessage', { channel: CHANNEL }));
    expect(noText.data.error).toBe('no_text');
  });

  it('posts ephemerals, which chat.update cannot edit', async () => {
    const res = await client.chat.postEphemeral({ channel: CHANNEL, user: 'U0ALICE', text: 'you are not on call' });
    expect(res.message_ts).toBeTruthy();
    expect(slack.ephemerals).toEqual([
      expect.objectContaining({ channel: CHANNEL, user: 'U0ALICE', text: 'you are not on call' }),
    ]);
    const noUser = await rejection<WebAPIPlatformError>(
      client.chat.postEphemeral({ channel: CHANNEL, user: 'U0NOBODY', text: 'hi' }),
    );
    expect(noUser.data.error).toBe('user_not_found');
    const edit = await rejection<WebAPIPlatformError>(
      client.chat.update({ channel: CHANNEL, ts: res.message_ts!, text: 'edited' }),
    );
    expect(edit.data.error).toBe('message_not_found');
  });

  it('answers users.info and user groups', async () => {
    const u = await client.users.info({ user: 'U0ALICE' });
    expect(u.user).toMatchObject({ id: 'U0ALICE', name: 'alice', profile: { display_name: 'alice' } });
    expect((await rejection<WebAPIPlatformError>(client.users.info({ user: 'U0NOBODY' }))).data.error).toBe(
      'user_not_found',
    );
    const list = await client.usergroups.list({ include_users: true });
    expect(list.usergroups).toEqual([expect.objectContaining({ id: 'S0ONCALL', users: ['U0ALICE', 'U0BOB'] })]);
    const members = await client.usergroups.users.list({ usergroup: 'S0ONCALL' });
    expect(members.users).toEqual(['U0ALICE', 'U0BOB']);
  });

  it('accepts a static select at every documented limit next to buttons', async () => {
    // 100 options, the first at every text limit (all of them there would pass msg_blocks_too_long).
    const widest = { ...opt('v'.repeat(150), 't'.repeat(75)), description: { type: 'plain_text', text: 'd'.repeat(75) } };
    const full = select([widest, ...Array.from({ length: 99 }, (_, i) => opt(String(i)))]);
    const grouped = { type: 'static_select', action_id: 'g', option_groups: [{ label: { type: 'plain_text', text: 'l'.repeat(75) }, options: [opt('x'), opt('y')] }] };
    const res = await client.chat.postMessage({ channel: CHANNEL, text: 'menu', blocks: [actions(button('b1'), button('b2'), full, grouped, { type: 'overflow', action_id: 'o', options: [opt('1'), opt('2')] })] as never });
    expect(res.ok).toBe(true);
  });

  it('rejects Block Kit limit violations with invalid_blocks and a json-pointer', async () => {
    const cases: Array<{ blocks: unknown[]; pointer: string }> = [
      { blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }], pointer: '/blocks/0/text/text' },
      { blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })), pointer: '/blocks' },
      { blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }], pointer: '/blocks/0/text/text' },
      {
        blocks: [{ type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' })) }],
        pointer: '/blocks/0/fields',
      },
      {
        blocks: [
          {
            type: 'actions',
            elements: [{ type: 'button', action_id: 'a', text: { type: 'plain_text', text: 'b'.repeat(76) } }],
          },
        ],
        pointer: '/blocks/0/elements/0/text/text',
      },
      {
        blocks: [
          {
            type: 'actions',
            elements: [{ type: 'button', action_id: 'a', style: 'danger-ish', text: { type: 'plain_text', text: 'Go' } }],
          },
        ],
        pointer: '/blocks/0/elements/0/style',
      },
      {
        blocks: [
          {
            type: 'actions',
            elements: [
              { type: 'button', action_id: 'same', text: { type: 'plain_text', text: 'A' } },
              { type: 'button', action_id: 'same', text: { type: 'plain_text', text: 'B' } },
            ],
          },
        ],
        pointer: '/blocks/0/elements/1/action_id',
      },
      {
        blocks: [
          { type: 'divider', block_id: 'dup' },
          { type: 'divider', block_id: 'dup' },
        ],
        pointer: '/blocks/1/block_id',
      },
      {
        blocks: [
          {
            type: 'actions',
            elements: [
              {
                type: 'button',
                action_id: 'run',
                text: { type: 'plain_text', text: 'Run' },
                confirm: {
                  title: { type: 'plain_text', text: 't'.repeat(101) },
                  text: { type: 'plain_text', text: 'ok' },
                  confirm: { type: 'plain_text', text: 'Yes' },
                  deny: { type: 'plain_text', text: 'No' },
                },
              },
            ],
          },
        ],
        pointer: '/blocks/0/elements/0/confirm/title/text',
      },
      { blocks: [{ type: 'section', text: { type: 'markdown', text: 'hi' } }], pointer: '/blocks/0/text/type' },
      { blocks: [actions(select(Array.from({ length: 101 }, (_, i) => opt(`o${i}`))))], pointer: '/blocks/0/elements/0/options' },
      { blocks: [actions(select([opt('a', 't'.repeat(76))]))], pointer: '/blocks/0/elements/0/options/0/text/text' },
      { blocks: [actions(select([opt('v'.repeat(151))]))], pointer: '/blocks/0/elements/0/options/0/value' },
      { blocks: [actions(select([{ text: { type: 'mrkdwn', text: '*a*' }, value: 'a' }]))], pointer: '/blocks/0/elements/0/options/0/text/type' },
      { blocks: [actions(select([{ ...opt('a'), description: { type: 'plain_text', text: 'd'.repeat(76) } }]))], pointer: '/blocks/0/elements/0/options/0/description/text' },
      { blocks: [actions(select([{ text: { type: 'plain_text', text: 'a' } }]))], pointer: '/blocks/0/elements/0/options/0' },
      { blocks: [actions(select([opt('a'), opt('a')]))], pointer: '/blocks/0/elements/0/options/1/value' },
      { blocks: [actions({ type: 'static_select', action_id: 's', placeholder: { type: 'plain_text', text: 'p' } })], pointer: '/blocks/0/elements/0' },
      { blocks: [actions({ ...select([opt('a')]), placeholder: { type: 'plain_text', text: 'p'.repeat(151) } })], pointer: '/blocks/0/elements/0/placeholder/text' },
      { blocks: [actions({ type: 'overflow', action_id: 'o', options: Array.from({ length: 6 }, (_, i) => opt(`o${i}`)) })], pointer: '/blocks/0/elements/0/options' },
      { blocks: [actions({ type: 'overflow', action_id: 'o', options: [opt('only')] })], pointer: '/blocks/0/elements/0/options' },
      { blocks: [actions(button('same'), select([opt('a')], 'same'))], pointer: '/blocks/0/elements/1/action_id' },
    ];
    for (const c of cases) {
      const err = await rejection<WebAPIPlatformError>(
        client.chat.postMessage({ channel: CHANNEL, text: 'fallback', blocks: c.blocks as never }),
      );
      expect(err.code).toBe(ErrorCode.PlatformError);
      expect(err.data.error).toBe('invalid_blocks');
      const errors = (err.data as unknown as { errors: string[] }).errors;
      expect(errors.some((e) => e.endsWith(`[json-pointer:${c.pointer}]`)), `${c.pointer} in ${errors.join(' | ')}`).toBe(true);
    }
    expect(slack.allMessages()).toHaveLength(0);

    // The same limits apply to chat.update.
    const ok = await client.chat.postMessage({ channel: CHANNEL, text: 'fine' });
    const upd = await rejection<WebAPIPlatformError>(
      client.chat.update({
        channel: CHANNEL,
        ts: ok.ts!,
        text: 'x',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }],
      }),
    );
    expect(upd.data.error).toBe('invalid_blocks');

    const tooLong = await rejection<WebAPIPlatformError>(
      client.chat.postMessage({ channel: CHANNEL, text: 'x'.repeat(40001) }),
    );
    expect(tooLong.data.error).toBe('msg_too_long');
  });

  it('refuses missing and wrong tokens like Slack (HTTP 200, ok:false)', async () => {
    const wrong = await rejection<WebAPIPlatformError>(clientFor(slack, 'xoxb-wrong').auth.test());
    expect(wrong.data.error).toBe('invalid_auth');
    const none = await rejection<WebAPIPlatformError>(new WebClient(undefined, { slackApiUrl: slack.url, retryConfig: { retries: 0 } }).auth.test());
    expect(none.data.error).toBe('not_authed');
    expect(slack.calls.filter((c) => c.method === 'auth.test').map((c) => c.status)).toEqual([200, 200]);
  });

  it('answers unknown methods with 404 unknown_method', async () => {
    const err = await rejection<WebAPIHTTPError>(client.apiCall('chat.nonexistent', {}));
    expect(err.code).toBe(ErrorCode.HTTPError);
    expect(err.statusCode).toBe(404);
    expect(slack.callsTo('chat.nonexistent')[0]?.response).toMatchObject({ ok: false, error: 'unknown_method' });
  });

  it('rate limits chat.postMessage per channel with 429 + Retry-After', async () => {
    slack.setRateLimit(true); // defaults: 1 post/s per channel, burst of 3
    const rejecting = clientFor(slack, slack.token, { rejectRateLimitedCalls: true });
    for (let i = 0; i < 3; i++) await rejecting.chat.postMessage({ channel: CHANNEL, text: `burst ${i}` });
    const err = await rejection<WebAPIRateLimitedError>(rejecting.chat.postMessage({ channel: CHANNEL, text: 'one too many' }));
    expect(err.code).toBe(ErrorCode.RateLimitedError);
    expect(err.code).toBe('slack_webapi_rate_limited_error');
    expect(err.retryAfter).toBe(1);
    expect(slack.rateLimited).toBe(1);
    // Another channel has its own bucket.
    await rejecting.chat.postMessage({ channel: 'C0OTHER', text: 'elsewhere' });
    const last = slack.calls.at(-2);
    expect(last).toMatchObject({ method: 'chat.postMessage', status: 429, response: { ok: false, error: 'ratelimited' } });
  });

  it('rate limits chat.update for the whole workspace (tier 3), apart from posts, with 429 + Retry-After', async () => {
    const rejecting = clientFor(slack, slack.token, { rejectRateLimitedCalls: true });
    const a = await rejecting.chat.postMessage({ channel: CHANNEL, text: 'a' });
    const b = await rejecting.chat.postMessage({ channel: 'C0OTHER', text: 'b' });
    slack.setRateLimit({ postsPerSecondPerChannel: 1, burst: 1, updatesPerMinute: 30, updateBurst: 2 });
    // Updates do not spend the channel's posts, and count across channels.
    await rejecting.chat.update({ channel: CHANNEL, ts: a.ts!, text: 'a1' });
    await rejecting.chat.update({ channel: 'C0OTHER', ts: b.ts!, text: 'b1' });
    const err = await rejection<WebAPIRateLimitedError>(rejecting.chat.update({ channel: CHANNEL, ts: a.ts!, text: 'a2' }));
    expect(err.code).toBe(ErrorCode.RateLimitedError);
    expect(err.retryAfter).toBe(2); // one update every 2 s at 30 a minute
    expect(slack.rateLimited).toBe(1);
    expect(slack.topLevel(CHANNEL)[0]?.text).toBe('a1');
    await rejecting.chat.postMessage({ channel: CHANNEL, text: 'a post still goes' });
    expect(slack.rateLimited).toBe(1);
  });

  it('lets a retrying WebClient wait out the 429 and succeed', async () => {
    slack.setRateLimit({ postsPerSecondPerChannel: 1, burst: 1 });
    const retrying = clientFor(slack, slack.token, { retryConfig: { retries: 2, minTimeout: 0, maxTimeout: 0 } });
    const started = Date.now();
    await retrying.chat.postMessage({ channel: CHANNEL, text: 'first' });
    const second = await retrying.chat.postMessage({ channel: CHANNEL, text: 'second' });
    expect(second.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // paused for Retry-After: 1
    expect(slack.rateLimited).toBe(1);
    expect(slack.topLevel(CHANNEL).map((m) => m.text)).toEqual(['first', 'second']);
  });

  it('holds every answer back by latencyMs, like a round trip to slack.com', async () => {
    const slow = await startFakeSlack({ rateLimit: false, latencyMs: 120 });
    try {
      const started = performance.now();
      const res = await clientFor(slow).chat.postMessage({ channel: CHANNEL, text: 'hello' });
      expect(res.ok).toBe(true);
      expect(performance.now() - started).toBeGreaterThanOrEqual(115);
      expect(slow.topLevel(CHANNEL).map((m) => m.text)).toEqual(['hello']);
    } finally {
      await slow.close();
    }
  });

  it('injects faults with failNext', async () => {
    slack.failNext('chat.postMessage', 1, { status: 429, retryAfter: 7 });
    slack.failNext('chat.update', 1, { status: 500 });
    const rejecting = clientFor(slack, slack.token, { rejectRateLimitedCalls: true });
    const limited = await rejection<WebAPIRateLimitedError>(rejecting.chat.postMessage({ channel: CHANNEL, text: 'x' }));
    expect(limited.retryAfter).toBe(7);
    const posted = await rejecting.chat.postMessage({ channel: CHANNEL, text: 'x' });
    const http = await rejection<WebAPIHTTPError>(rejecting.chat.update({ channel: CHANNEL, ts: posted.ts!, text: 'y' }));
    expect(http.statusCode).toBe(500);
    expect(slack.calls.filter((c) => c.injected)).toHaveLength(2);
    expect(slack.rateLimited).toBe(0);
  });

  it('stamps messages with the wall clock', async () => {
    const before = Date.now() / 1000;
    const a = await client.chat.postMessage({ channel: CHANNEL, text: 'a' });
    const b = await client.chat.postMessage({ channel: CHANNEL, text: 'b' });
    expect(Number(a.ts)).toBeGreaterThanOrEqual(Math.floor(before));
    expect(Number(a.ts)).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    expect(b.ts! > a.ts!).toBe(true);
  });

  it('stores message metadata; chat.update keeps it unless given', async () => {
    const metadata = { event_type: 'chatops_delivery', event_payload: { key: 'outbox:1' } };
    const posted = await client.chat.postMessage({ channel: CHANNEL, text: 'card', metadata });
    expect(slack.callsTo('chat.postMessage')[0]?.args.metadata).toEqual(metadata);
    expect(slack.message(CHANNEL, posted.ts!)?.metadata).toEqual(metadata);
    await client.chat.update({ channel: CHANNEL, ts: posted.ts!, text: 'card v2' });
    expect(slack.message(CHANNEL, posted.ts!)?.metadata).toEqual(metadata);
    const replaced = { event_type: 'chatops_delivery', event_payload: { key: 'outbox:2' } };
    await client.chat.update({ channel: CHANNEL, ts: posted.ts!, text: 'card v3', metadata: replaced });
    expect(slack.message(CHANNEL, posted.ts!)?.metadata).toEqual(replaced);

    const bad = await rejection<WebAPIPlatformError>(
      client.apiCall('chat.postMessage', { channel: CHANNEL, text: 'x', metadata: JSON.stringify({ event_payload: {} }) }),
    );
    expect(bad.data.error).toBe('invalid_metadata_format');
  });

  it('answers conversations.history newest first, top-level only, metadata only with include_all_metadata', async () => {
    const meta = (key: string) => ({ event_type: 'chatops_delivery', event_payload: { key } });
    const one = await client.chat.postMessage({ channel: CHANNEL, text: 'one', metadata: meta('k1') });
    await client.chat.postMessage({ channel: CHANNEL, thread_ts: one.ts!, text: 'a reply', metadata: meta('k-reply') });
    const two = await client.chat.postMessage({ channel: CHANNEL, text: 'two' });
    const three = await client.chat.postMessage({ channel: CHANNEL, text: 'three', metadata: meta('k3') });

    const plain = await client.conversations.history({ channel: CHANNEL });
    expect(plain.messages?.map((m) => m.text)).toEqual(['three', 'two', 'one']);
    expect(plain.messages?.some((m) => 'metadata' in m)).toBe(false);
    expect(plain.has_more).toBe(false);
    expect(plain.messages?.[2]).toMatchObject({ ts: one.ts, thread_ts: one.ts, reply_count: 1 });

    const full = await client.conversations.history({ channel: CHANNEL, include_all_metadata: true });
    const keyOf = (payload: { key?: unknown } | undefined) => payload?.key;
    expect(full.messages?.map((m) => keyOf(m.metadata?.event_payload))).toEqual(['k3', undefined, 'k1']);

    // oldest and latest are exclusive unless inclusive.
    const window = await client.conversations.history({ channel: CHANNEL, oldest: one.ts!, latest: three.ts! });
    expect(window.messages?.map((m) => m.ts)).toEqual([two.ts]);
    const inclusive = await client.conversations.history({ channel: CHANNEL, oldest: one.ts!, latest: three.ts!, inclusive: true });
    expect(inclusive.messages?.map((m) => m.text)).toEqual(['three', 'two', 'one']);
    expect((await client.conversations.history({ channel: CHANNEL, oldest: String(Math.ceil(Date.now() / 1000) + 60) })).messages).toEqual([]);

    // Pages: limit, has_more and a cursor to the next page.
    const first = await client.conversations.history({ channel: CHANNEL, limit: 2 });
    expect(first.messages?.map((m) => m.text)).toEqual(['three', 'two']);
    expect(first.has_more).toBe(true);
    const cursor = first.response_metadata?.next_cursor;
    expect(cursor).toBeTruthy();
    const second = await client.conversations.history({ channel: CHANNEL, limit: 2, cursor: cursor! });
    expect(second.messages?.map((m) => m.text)).toEqual(['one']);
    expect(second.has_more).toBe(false);
    const badCursor = await rejection<WebAPIPlatformError>(client.conversations.history({ channel: CHANNEL, cursor: 'bm9wZQ==' }));
    expect(badCursor.data.error).toBe('invalid_cursor');
  });

  it('answers conversations.replies with the parent and its replies, oldest first', async () => {
    const parent = await client.chat.postMessage({ channel: CHANNEL, text: 'card' });
    const r1 = await client.chat.postMessage({ channel: CHANNEL, thread_ts: parent.ts!, text: 'r1', metadata: { event_type: 'chatops_delivery', event_payload: { key: 'k-r1' } } });
    await client.chat.postMessage({ channel: CHANNEL, thread_ts: parent.ts!, text: 'r2' });
    await client.chat.postMessage({ channel: CHANNEL, text: 'unrelated' });

    const thread = await client.conversations.replies({ channel: CHANNEL, ts: parent.ts! });
    expect(thread.messages?.map((m) => m.text)).toEqual(['card', 'r1', 'r2']);
    expect(thread.messages?.some((m) => 'metadata' in m)).toBe(false);
    const withMeta = await client.conversations.replies({ channel: CHANNEL, ts: parent.ts!, include_all_metadata: true });
    expect(withMeta.messages?.[1]).toMatchObject({ ts: r1.ts, thread_ts: parent.ts, metadata: { event_type: 'chatops_delivery', event_payload: { key: 'k-r1' } } });
    // A reply's ts stands for its thread; oldest filters the replies.
    expect((await client.conversations.replies({ channel: CHANNEL, ts: r1.ts!, oldest: r1.ts! })).messages?.map((m) => m.text)).toEqual(['card', 'r2']);
    const paged = await client.conversations.replies({ channel: CHANNEL, ts: parent.ts!, limit: 2 });
    expect(paged.messages?.map((m) => m.text)).toEqual(['card', 'r1']);
    expect(paged.has_more).toBe(true);
    const rest = await client.conversations.replies({ channel: CHANNEL, ts: parent.ts!, limit: 2, cursor: paged.response_metadata!.next_cursor! });
    expect(rest.messages?.map((m) => m.text)).toEqual(['r2']);

    const missing = await rejection<WebAPIPlatformError>(client.conversations.replies({ channel: CHANNEL, ts: '1600000000.000100' }));
    expect(missing.data.error).toBe('thread_not_found');
  });

  it('answers missing_scope for methods needing a scope the token lacks', async () => {
    const narrow = await startFakeSlack({ missingScopes: ['channels:history', 'groups:history'], rateLimit: false });
    try {
      const c = clientFor(narrow);
      await c.chat.postMessage({ channel: CHANNEL, text: 'posting still works' });
      const refused = await rejection<WebAPIPlatformError>(c.conversations.history({ channel: CHANNEL }));
      expect(refused.data).toMatchObject({ ok: false, error: 'missing_scope', needed: 'channels:history' });
      const provided = String((refused.data as { provided?: unknown }).provided);
      expect(provided).toContain('chat:write');
      expect(provided).not.toContain('history');
      const privateChannel = await rejection<WebAPIPlatformError>(c.conversations.replies({ channel: 'G0PRIVATE', ts: '1600000000.000100' }));
      expect(privateChannel.data).toMatchObject({ error: 'missing_scope', needed: 'groups:history' });
    } finally {
      await narrow.close();
    }
  });

  it('accepts JSON bodies with a bearer token, and waitFor polls', async () => {
    const later = setTimeout(() => {
      void fetch(`${slack.url}chat.postMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${slack.token}` },
        body: JSON.stringify({ channel: CHANNEL, text: 'json body' }),
      });
    }, 50);
    const m = await slack.waitFor(() => slack.topLevel(CHANNEL)[0], 2000, 'the JSON post');
    clearTimeout(later);
    expect(m.text).toBe('json body');
    await expect(slack.waitFor(() => false, 50, 'never')).rejects.toThrow(/timed out after 50 ms waiting for never/);
  });
});

describe('Slack request signing and payload builders', () => {
  it('matches the example in Slack\'s verifying-requests documentation', () => {
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V' +
      '&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=' +
      '&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN' +
      '&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    const headers = signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', body, 1531420618);
    expect(headers).toEqual({
      'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
      'x-slack-request-timestamp': '1531420618',
      'content-type': 'application/x-www-form-urlencoded',
    });
  });

  it('signs with the current time by default and JSON bodies as JSON', () => {
    const body = '{"type":"event_callback"}';
    const h = signSlackRequest('s3cret', body);
    expect(Math.abs(Number(h['x-slack-request-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    const expected = createHmac('sha256', 's3cret').update(`v0:${h['x-slack-request-timestamp']}:${body}`).digest('hex');
    expect(h['x-slack-signature']).toBe(`v0=${expected}`);
    expect(h['content-type']).toBe('application/json');
  });

  it('builds block_actions and slash command bodies shaped like Slack\'s', () => {
    const body = blockActionsBody({
      user: { id: 'U0ALICE', name: 'alice' },
      channel: CHANNEL,
      messageTs: '1700000000.000100',
      actionId: 'ack',
      value: 'inc-1',
      blockId: 'incident-actions',
    });
    const params = new URLSearchParams(body);
    expect([...params.keys()]).toEqual(['payload']);
    const payload = JSON.parse(params.get('payload')!) as Record<string, unknown>;
    expect(payload).toMatchObject({
      type: 'block_actions',
      user: { id: 'U0ALICE', username: 'alice', name: 'alice', team_id: 'T0FAKE' },
      container: { type: 'message', message_ts: '1700000000.000100', channel_id: CHANNEL, is_ephemeral: false },
      channel: { id: CHANNEL },
      message: { ts: '1700000000.000100' },
      actions: [
        { action_id: 'ack', block_id: 'incident-actions', value: 'inc-1', type: 'button', text: { type: 'plain_text' } },
      ],
    });
    expect(typeof payload.trigger_id).toBe('string');
    expect(typeof payload.response_url).toBe('string');

    const cmd = new URLSearchParams(slashCommandBody({ command: '/incident', text: 'list', user_id: 'U0BOB', channel_id: CHANNEL }));
    expect(Object.fromEntries(cmd)).toMatchObject({ command: '/incident', text: 'list', user_id: 'U0BOB', channel_id: CHANNEL });
    expect(cmd.get('response_url')).toMatch(/^https:\/\/hooks\.slack\.com\/commands\//);
  });
});
