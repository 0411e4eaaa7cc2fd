import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { REST } from '@discordjs/rest';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDiscordInteractionsHandler, type DiscordInteractionsHandler } from '../../../src/bot/discord/interactions.js';
import { createDiscordRest, DiscordPlatform } from '../../../src/bot/discord/platform.js';
import type { Engine } from '../../../src/core/engine.js';
import { NotAllowedError } from '../../../src/domain/errors.js';
import { startFakeDiscord, type FakeDiscord } from '../../fakes/discord-api.js';
import {
  DEFAULT_APPLICATION_ID,
  DEFAULT_ROLE_IDS,
  commandInteraction,
  componentInteraction,
  createTestKeyPair,
  discordTimestamp,
  pingInteraction,
  signInteraction,
  type DiscordSignedHeaders,
  type JsonObject,
} from '../../fakes/discord-signing.js';

const ALICE = '1200000000000000001';

interface Call {
  method: 'requestStep' | 'decide' | 'acknowledge';
  args: unknown[];
}

/**
 * The engine's two methods a button reaches, recording their calls. Each call waits until the
 * test releases it, so the test can see the HTTP answer arrive while the engine is still working.
 */
function fakeEngine() {
  const calls: Call[] = [];
  let release: () => void = () => undefined;
  let gate = Promise.resolve();
  let failWith: Error | undefined;
  const record = async (method: Call['method'], args: unknown[]) => {
    calls.push({ method, args });
    await gate;
    if (failWith) throw failWith;
  };
  return {
    calls,
    engine: {
      requestStep: (...args: unknown[]) => record('requestStep', args),
      decide: (...args: unknown[]) => record('decide', args),
      acknowledge: (...args: unknown[]) => record('acknowledge', args),
      // Every interaction of these tests is new (replays are tested end to end, on the store).
      firstSighting: () => Promise.resolve(true),
    } as unknown as Engine,
    hold() {
      gate = new Promise((resolve) => (release = resolve));
    },
    release: () => release(),
    fail(error: Error | undefined) {
      failWith = error;
    },
  };
}

describe('Discord interactions endpoint on a node:http server', () => {
  const keys = createTestKeyPair();
  const logged: Array<{ level: number; msg?: string }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as { level: number; msg?: string }) });
  let discord: FakeDiscord;
  let rest: REST;
  let server: http.Server;
  let url: string;
  let handler: DiscordInteractionsHandler;
  let engine: ReturnType<typeof fakeEngine>;
  let engineReady = true;

  beforeAll(async () => {
    discord = await startFakeDiscord({ rateLimit: false });
    rest = createDiscordRest({ botToken: discord.token, apiUrl: discord.url });
    engine = fakeEngine();
    handler = createDiscordInteractionsHandler({
      publicKeyHex: keys.publicKeyHex,
      applicationId: DEFAULT_APPLICATION_ID,
      rest,
      getEngine: () => {
        if (!engineReady) throw new Error('engine not ready');
        return engine.engine;
      },
      platform: new DiscordPlatform(rest, { guildId: discord.guildId }),
      log,
      bodyLimit: 64 * 1024,
    });
    server = http.createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/discord/interactions') handler(req, res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/discord/interactions`;
  });
  afterAll(async () => {
    rest.clearHashSweeper();
    rest.clearHandlerSweeper();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await discord.close();
  });
  beforeEach(() => {
    discord.reset();
    engine.calls.length = 0;
    engine.fail(undefined);
    engineReady = true;
    logged.length = 0;
  });

  const post = async (payload: JsonObject | string, headers: Partial<DiscordSignedHeaders> = signInteraction(keys.privateKey, typeof payload === 'string' ? payload : JSON.stringify(payload))) => {
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const started = performance.now();
    const res = await fetch(url, { method: 'POST', headers: headers as Record<string, string>, body });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined, ms: performance.now() - started };
  };

  /** A signed button press, its token registered with the fake as Discord would know it. */
  const press = (customId: string, over: Partial<Parameters<typeof componentInteraction>[0]> = {}) => {
    const payload = componentInteraction({ customId, ...over });
    const message = payload.message as { id: string; channel_id: string };
    discord.registerInteraction(payload.token as string, { interactionId: payload.id as string, channelId: message.channel_id, messageId: message.id, initialResponse: 6 });
    return payload;
  };

  it('answers a signed PING with {"type":1}', async () => {
    expect(await post(pingInteraction())).toMatchObject({ status: 200, body: { type: 1 } });
  });

  it('refuses a bad signature with 401 and does no work', async () => {
    const payload = press('run-step:7:gitcortex:health');
    const forged = signInteraction(createTestKeyPair().privateKey, JSON.stringify(payload));
    expect(await post(payload, forged)).toMatchObject({ status: 401, body: { message: 'invalid request signature' } });
    const tampered = { ...signInteraction(keys.privateKey, JSON.stringify(payload)) };
    expect(await post({ ...payload, data: { component_type: 2, custom_id: 'approve:1' } }, tampered)).toMatchObject({ status: 401 });
    const { 'x-signature-ed25519': _, ...unsigned } = tampered;
    expect(await post(payload, unsigned)).toMatchObject({ status: 401 });
    await handler.idle();
    expect(engine.calls).toEqual([]);
    expect(discord.calls).toEqual([]);
  });

  it('refuses a replayed (stale) or future-stamped request with 401', async () => {
    const payload = pingInteraction();
    const body = JSON.stringify(payload);
    const old = discordTimestamp(new Date(Date.now() - 10 * 60_000));
    const future = discordTimestamp(new Date(Date.now() + 10 * 60_000));
    expect((await post(body, signInteraction(keys.privateKey, body, old))).status).toBe(401);
    expect((await post(body, signInteraction(keys.privateKey, body, future))).status).toBe(401);
  });

  it('refuses a body over the limit with 413', async () => {
    const huge = JSON.stringify({ type: 1, pad: 'x'.repeat(70 * 1024) });
    expect((await post(huge, signInteraction(keys.privateKey, huge))).status).toBe(413);
  });

  it('acknowledges a button at once with {"type":6} while the engine is still working, then runs the step request', async () => {
    engine.hold();
    const payload = press('run-step:7:gitcortex:health');
    const answer = await post(payload);
    expect(answer).toMatchObject({ status: 200, body: { type: 6 } });
    expect(answer.ms).toBeLessThan(500);
    // The engine call started after the answer and is still waiting.
    await discord.waitFor(() => engine.calls.length > 0);
    expect(engine.calls).toEqual([
      { method: 'requestStep', args: [{ id: ALICE, name: 'Alice Oncall', groups: [DEFAULT_ROLE_IDS.oncall], platform: 'discord' }, 7, 'gitcortex', 'health'] },
    ]);
    engine.release();
    await handler.idle();
    // Nothing to tell: no follow-up, and no member look-up (the payload said who pressed).
    expect(discord.followUps()).toEqual([]);
    expect(discord.callsTo('GET /guilds/:id/members/:id')).toEqual([]);
  });

  it('tells a refusal privately as an ephemeral follow-up through the interaction token', async () => {
    engine.fail(new NotAllowedError('You asked for this step: someone else must approve it. @everyone'));
    const payload = press('approve:12');
    expect(await post(payload)).toMatchObject({ status: 200, body: { type: 6 } });
    await handler.idle();
    expect(engine.calls.map((c) => [c.method, c.args.slice(1)])).toEqual([['decide', [12, 'approve']]]);
    const [followUp] = discord.followUps(payload.token as string);
    expect(followUp).toMatchObject({ ephemeral: true, content: 'You asked for this step: someone else must approve it. @\u200beveryone', allowed_mentions: { parse: [] } });
    expect(followUp?.pinged.everyone).toBe(false);
  });

  it('answers a button it does not know, and an engine that is not ready, with a private message', async () => {
    const unknown = press('launch-missiles:1');
    await post(unknown);
    const broken = press('deny:3');
    engineReady = false;
    await post(broken);
    await handler.idle();
    expect(engine.calls).toEqual([]);
    expect(discord.followUps(unknown.token as string)[0]?.content).toContain('not one the incident bot knows');
    expect(discord.followUps(broken.token as string)[0]?.content).toContain('Something went wrong');
    expect(logged.some((l) => l.level === 50 && l.msg === 'discord button press failed')).toBe(true);
  });

  it('takes the presser from the member: global name without a nickname, no roles', async () => {
    const thread = '1500000000000000001';
    const payload = press('run-step:7:gitcortex:health', {
      channelId: thread,
      message: { channel_id: thread },
      roles: [],
      nick: null,
      globalName: 'Carol C',
      userId: '1200000000000000003',
    });
    await post(payload);
    await handler.idle();
    expect(engine.calls[0]?.args[0]).toEqual({ id: '1200000000000000003', name: 'Carol C', groups: [], platform: 'discord' });
  });

  it('defers a slash command privately at once, runs it, then puts the answer in the deferred response', async () => {
    engine.hold();
    const payload = commandInteraction({ name: 'incident', options: [{ name: 'ack', type: 1, options: [{ name: 'id', type: 4, value: 3 }] }] });
    discord.registerInteraction(payload.token as string, { interactionId: payload.id as string, channelId: payload.channel_id as string, initialResponse: 5 });
    const answer = await post(payload);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ type: 5, data: { flags: 64 } });
    expect(discord.original(payload.token as string)).toBeUndefined();
    engine.release();
    await handler.idle();
    expect(engine.calls.map((c) => c.method)).toEqual(['acknowledge']);
    expect(engine.calls[0]?.args).toEqual([{ id: ALICE, name: 'Alice Oncall', groups: [DEFAULT_ROLE_IDS.oncall], platform: 'discord' }, 3]);
    expect(discord.original(payload.token as string)?.content).toBe('You acknowledged incident #3; it is yours now.');
  });

  it('answers a slash command with bad arguments with its usage, without touching the engine', async () => {
    const payload = commandInteraction({ name: 'incident', options: [{ name: 'silence', type: 1, options: [{ name: 'id', type: 4, value: 3 }, { name: 'duration', type: 3, value: '9y' }] }] });
    discord.registerInteraction(payload.token as string, { interactionId: payload.id as string, channelId: payload.channel_id as string, initialResponse: 5 });
    expect((await post(payload)).body).toEqual({ type: 5, data: { flags: 64 } });
    await handler.idle();
    const content = discord.original(payload.token as string)?.content ?? '';
    expect(content).toContain('"9y" is not a duration');
    expect(content).toContain('/incident silence <id> <duration>');
    expect(engine.calls).toEqual([]);
  });

  it('takes a choice in a card\'s "More steps" select as the press of the button it stands for', async () => {
    const answer = await post(press('more-steps', { componentType: 3, values: ['run-step:7:gitcortex:restart'] }));
    expect(answer).toMatchObject({ status: 200, body: { type: 6 } });
    await handler.idle();
    expect(engine.calls).toEqual([
      { method: 'requestStep', args: [{ id: ALICE, name: 'Alice Oncall', groups: [DEFAULT_ROLE_IDS.oncall], platform: 'discord' }, 7, 'gitcortex', 'restart'] },
    ]);
  });

  it('answers 400 to unsupported interactions and to signed garbage', async () => {
    const modal = { ...componentInteraction({ customId: 'x' }), type: 5, data: { custom_id: 'x', components: [] } };
    expect((await post(modal)).status).toBe(400);
    // A user select (type 5) is none of ours; a string select with nothing chosen says no button.
    const userSelect = componentInteraction({ customId: 'x', componentType: 5, values: [ALICE] });
    expect((await post(userSelect)).status).toBe(400);
    const empty = componentInteraction({ customId: 'more-steps', componentType: 3, values: [] });
    expect((await post(empty)).status).toBe(400);
    expect((await post('not json')).status).toBe(400);
    expect((await post('[1,2,3]')).status).toBe(400);
    expect((await post('{"type":3}')).status).toBe(400);
    await handler.idle();
    expect(engine.calls).toEqual([]);
  });
});
