import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { DiscordAPIError, HTTPError, RateLimitError, REST, type RESTOptions } from '@discordjs/rest';
import { Routes, type APIMessage, type APIThreadChannel } from 'discord-api-types/v10';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MEMBERS, startFakeDiscord, type FakeDiscord, type RecordedCall } from '../../fakes/discord-api.js';
import {
  commandInteraction,
  componentInteraction,
  createTestKeyPair,
  DEFAULT_CHANNEL_ID,
  pingInteraction,
  signInteraction,
} from '../../fakes/discord-signing.js';

const CHANNEL = '1100000000000000003';
const OTHER_CHANNEL = '1100000000000000004';
const ALICE = '1200000000000000001';

let discord: FakeDiscord;
let rest: REST;

function restFor(fake: FakeDiscord, token = fake.token, extra: Partial<RESTOptions> = {}): REST {
  return new REST({ api: fake.url, retries: 0, ...extra }).setToken(token);
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

/** The `_errors` list at a dotted path of a Discord `errors` tree (`embeds.0.title`; '' for the root). */
function errorsAt(rawError: unknown, path: string): Array<{ code: string; message: string }> | undefined {
  let node = (rawError as { errors?: unknown }).errors;
  for (const seg of path === '' ? [] : path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[seg];
  }
  if (typeof node !== 'object' || node === null) return undefined;
  return (node as { _errors?: Array<{ code: string; message: string }> })._errors;
}

const button = (customId: string, extra: Record<string, unknown> = {}) => ({ type: 2, style: 1, label: 'Go', custom_id: customId, ...extra });
const row = (...components: unknown[]) => ({ type: 1, components });

beforeEach(async () => {
  // Functional tests post more than a channel bucket allows; the rate limit tests turn it back on.
  discord = await startFakeDiscord({ channels: [CHANNEL, OTHER_CHANNEL], rateLimit: false });
  rest = restFor(discord);
});

afterEach(async () => {
  await discord.close();
});

describe('fake Discord REST API driven by the real @discordjs/rest client', () => {
  it('creates messages like Discord and records allowed_mentions', async () => {
    const embeds = [{ title: 'DiskFull on db-1', description: 'disk 97% full', fields: [{ name: 'severity', value: 'critical' }] }];
    const components = [row(button('ack:inc-1', { label: 'Acknowledge' }), button('runbook:inc-1', { style: 2, label: 'Runbook' }))];
    const msg = (await rest.post(Routes.channelMessages(CHANNEL), {
      body: { content: 'Incident <@1200000000000000002> @everyone', embeds, components, allowed_mentions: { parse: [] } },
    })) as APIMessage;
    expect(msg).toMatchObject({
      channel_id: CHANNEL,
      content: 'Incident <@1200000000000000002> @everyone',
      embeds,
      components,
      author: { id: discord.applicationId, bot: true },
      mention_everyone: false,
      mentions: [],
      type: 0,
    });
    expect(msg.id).toMatch(/^\d{17,20}$/);
    expect(new Date(msg.timestamp).getTime()).toBeGreaterThan(Date.now() - 60_000);

    const second = (await rest.post(Routes.channelMessages(CHANNEL), { body: { content: 'ping <@1200000000000000002>' } })) as APIMessage;
    expect(BigInt(second.id) > BigInt(msg.id)).toBe(true);
    expect(second.mentions.map((u) => u.id)).toEqual(['1200000000000000002']); // no allowed_mentions: parsed

    const stored = discord.messages(CHANNEL);
    expect(stored.map((m) => m.id)).toEqual([msg.id, second.id]);
    expect(stored[0]?.allowed_mentions).toEqual({ parse: [] });
    expect(stored[0]?.pinged).toEqual({ users: [], roles: [], everyone: false });
    expect(stored[1]?.allowed_mentions).toBeUndefined();
    expect(discord.message(msg.id)?.embeds).toEqual(embeds);
    expect(discord.callsTo('POST /channels/:id/messages')[0]).toMatchObject({
      path: `/channels/${CHANNEL}/messages`,
      status: 200,
      body: { allowed_mentions: { parse: [] } },
    });

    const unknownChannel = await rejection<DiscordAPIError>(rest.post(Routes.channelMessages('1100000000000000099'), { body: { content: 'x' } }));
    expect(unknownChannel).toBeInstanceOf(DiscordAPIError);
    expect(unknownChannel).toMatchObject({ status: 404, code: 10003, rawError: { message: 'Unknown Channel', code: 10003 } });

    const notSnowflake = await rejection<DiscordAPIError>(rest.post(Routes.channelMessages('C0INCIDENTS'), { body: { content: 'x' } }));
    expect(notSnowflake.status).toBe(404);

    const empty = await rejection<DiscordAPIError>(rest.post(Routes.channelMessages(CHANNEL), { body: { content: '' } }));
    expect(empty).toMatchObject({ status: 400, code: 50006, message: 'Cannot send an empty message' });
  });

  it('starts a thread from a message, posts in it and refuses a second thread', async () => {
    const card = (await rest.post(Routes.channelMessages(CHANNEL), { body: { content: 'card' } })) as APIMessage;
    const thread = (await rest.post(Routes.threads(CHANNEL, card.id), {
      body: { name: 'inc-1 DiskFull', auto_archive_duration: 1440 },
    })) as APIThreadChannel;
    expect(thread).toMatchObject({ id: card.id, type: 11, parent_id: CHANNEL, name: 'inc-1 DiskFull' });
    expect(discord.callsTo('POST /channels/:id/messages/:id/threads')[0]?.status).toBe(201);

    const again = await rejection<DiscordAPIError>(rest.post(Routes.threads(CHANNEL, card.id), { body: { name: 'again' } }));
    expect(again).toMatchObject({ status: 400, code: 160004, message: 'A thread has already been created for this message' });

    const r1 = (await rest.post(Routes.channelMessages(thread.id), { body: { content: 'acknowledged by alice' } })) as APIMessage;
    await rest.post(Routes.channelMessages(thread.id), { body: { content: 'step 1 done' } });
    expect(r1.channel_id).toBe(thread.id);
    expect(discord.thread(thread.id).map((m) => m.content)).toEqual(['acknowledged by alice', 'step 1 done']);
    expect(discord.messages(CHANNEL).map((m) => m.content)).toEqual(['card']);
    expect(discord.threads.get(thread.id)).toMatchObject({ parent_id: CHANNEL, message_count: 2 });
    const parent = (await rest.get(Routes.channelMessage(CHANNEL, card.id))) as APIMessage;
    expect(parent.thread?.id).toBe(thread.id);
    expect((parent.flags ?? 0) & 32).toBe(32);

    // No thread inside a thread; field checks answer 50035 at the field.
    const inThread = await rejection<DiscordAPIError>(rest.post(Routes.threads(thread.id, r1.id), { body: { name: 'nested' } }));
    expect(inThread.code).toBe(50024);
    const other = (await rest.post(Routes.channelMessages(CHANNEL), { body: { content: 'other' } })) as APIMessage;
    const badName = await rejection<DiscordAPIError>(rest.post(Routes.threads(CHANNEL, other.id), { body: { name: 'n'.repeat(101) } }));
    expect(badName.code).toBe(50035);
    expect(errorsAt(badName.rawError, 'name')?.[0]?.code).toBe('BASE_TYPE_BAD_LENGTH');
    const badDuration = await rejection<DiscordAPIError>(
      rest.post(Routes.threads(CHANNEL, other.id), { body: { name: 'ok', auto_archive_duration: 30 } }),
    );
    expect(errorsAt(badDuration.rawError, 'auto_archive_duration')?.[0]?.code).toBe('BASE_TYPE_CHOICES');
    const unknownMessage = await rejection<DiscordAPIError>(
      rest.post(Routes.threads(CHANNEL, '1100000000000000098'), { body: { name: 'x' } }),
    );
    expect(unknownMessage.code).toBe(10008);
  });

  it('edits messages, keeping fields left out and the history', async () => {
    const components = [row(button('ack:inc-1'))];
    const msg = (await rest.post(Routes.channelMessages(CHANNEL), {
      body: { content: 'firing', embeds: [{ title: 'DiskFull' }], components },
    })) as APIMessage;
    const edited = (await rest.patch(Routes.channelMessage(CHANNEL, msg.id), {
      body: { content: 'acknowledged', components: [], allowed_mentions: { parse: [] } },
    })) as APIMessage;
    expect(edited).toMatchObject({ id: msg.id, content: 'acknowledged', embeds: [{ title: 'DiskFull' }], components: [] });
    expect(edited.edited_timestamp).not.toBeNull();
    const stored = discord.message(msg.id);
    expect(stored?.history).toEqual([expect.objectContaining({ content: 'firing', components })]);
    expect(stored?.allowed_mentions).toEqual({ parse: [] });
    expect(stored?.updatedAt).toBeTypeOf('number');

    const unknownMessage = await rejection<DiscordAPIError>(
      rest.patch(Routes.channelMessage(CHANNEL, '1100000000000000097'), { body: { content: 'x' } }),
    );
    expect(unknownMessage).toMatchObject({ status: 404, code: 10008, message: 'Unknown Message' });
    const wrongChannel = await rejection<DiscordAPIError>(rest.patch(Routes.channelMessage(OTHER_CHANNEL, msg.id), { body: { content: 'x' } }));
    expect(wrongChannel.code).toBe(10008);
    const emptied = await rejection<DiscordAPIError>(
      rest.patch(Routes.channelMessage(CHANNEL, msg.id), { body: { content: '', embeds: [] } }),
    );
    expect(emptied.code).toBe(50006);
    const tooLong = await rejection<DiscordAPIError>(rest.patch(Routes.channelMessage(CHANNEL, msg.id), { body: { content: 'x'.repeat(2001) } }));
    expect(errorsAt(tooLong.rawError, 'content')?.[0]).toEqual({ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' });
    expect(discord.message(msg.id)?.history).toHaveLength(1);
  });

  it('takes interaction follow-ups and @original edits on the webhook routes', async () => {
    const card = (await rest.post(Routes.channelMessages(CHANNEL), { body: { content: 'card', components: [row(button('ack:1'))] } })) as APIMessage;
    const click = componentInteraction({ customId: 'ack:1', channelId: CHANNEL, messageId: card.id });
    const token = click.token as string;
    const anonymous = new REST({ api: discord.url, retries: 0 }); // follow-ups need no bot token

    const notRegistered = await rejection<DiscordAPIError>(
      anonymous.post(Routes.webhook(discord.applicationId, token), { body: { content: 'hi' }, auth: false }),
    );
    expect(notRegistered).toMatchObject({ status: 404, code: 10015, message: 'Unknown Webhook' });

    discord.registerInteraction(token, { channelId: CHANNEL, messageId: card.id });
    const followUp = (await anonymous.post(Routes.webhook(discord.applicationId, token), {
      body: { content: 'You are not on call for this service.', flags: 64 },
      auth: false,
    })) as APIMessage;
    expect(followUp).toMatchObject({ content: 'You are not on call for this service.', flags: 64, webhook_id: discord.applicationId });
    expect(discord.followUps(token)).toEqual([expect.objectContaining({ token, ephemeral: true, flags: 64, content: 'You are not on call for this service.' })]);
    expect(discord.followUps()).toHaveLength(1);
    expect(discord.messages(CHANNEL)).toHaveLength(1); // follow-ups are kept apart from channel posts

    // After a deferred update (type 6), @original is the clicked message.
    const updated = (await anonymous.patch(Routes.webhookMessage(discord.applicationId, token), {
      body: { content: 'card (acked)', components: [] },
      auth: false,
    })) as APIMessage;
    expect(updated.id).toBe(card.id);
    expect(discord.message(card.id)).toMatchObject({ content: 'card (acked)', components: [] });

    const editFollowUp = (await anonymous.patch(Routes.webhookMessage(discord.applicationId, token, followUp.id), {
      body: { content: 'edited' },
      auth: false,
    })) as APIMessage;
    expect(editFollowUp.content).toBe('edited');

    // A slash command answered with a deferred message (type 5): @original is the bot's own response.
    const cmd = commandInteraction({ name: 'incident', options: [{ name: 'list', type: 1 }] });
    discord.registerInteraction(cmd.token as string, { channelId: CHANNEL, initialResponse: 5 });
    await anonymous.patch(Routes.webhookMessage(discord.applicationId, cmd.token as string), {
      body: { content: '2 open incidents' },
      auth: false,
    });
    expect(discord.original(cmd.token as string)?.content).toBe('2 open incidents');

    // Tokens live 15 minutes; the application id must be ours.
    const old = 'b2xkLXRva2Vu';
    discord.registerInteraction(old, { createdAt: Date.now() - 15 * 60 * 1000 - 1 });
    const expired = await rejection<DiscordAPIError>(anonymous.post(Routes.webhook(discord.applicationId, old), { body: { content: 'late' }, auth: false }));
    expect(expired.code).toBe(10015);
    const wrongApp = await rejection<DiscordAPIError>(anonymous.post(Routes.webhook('1100000000000000042', token), { body: { content: 'x' }, auth: false }));
    expect(wrongApp.code).toBe(10015);

    const invalid = await rejection<DiscordAPIError>(
      anonymous.post(Routes.webhook(discord.applicationId, token), { body: { content: 'x'.repeat(2001), flags: 64 }, auth: false }),
    );
    expect(errorsAt(invalid.rawError, 'content')).toBeDefined();
  });

  it('answers interaction callbacks (gateway mode) once, within 3 seconds', async () => {
    const card = (await rest.post(Routes.channelMessages(CHANNEL), { body: { content: 'card', components: [row(button('ack:1'))] } })) as APIMessage;
    const click = componentInteraction({ customId: 'ack:1', channelId: CHANNEL, messageId: card.id });
    const [id, token] = [click.id as string, click.token as string];
    discord.registerInteraction(token, { interactionId: id, channelId: CHANNEL, messageId: card.id });
    const anonymous = new REST({ api: discord.url, retries: 0 });
    await anonymous.post(Routes.interactionCallback(id, token), { body: { type: 7, data: { content: 'acked', components: [] } }, auth: false });
    expect(discord.message(card.id)?.content).toBe('acked');
    expect(discord.interactionResponses).toEqual([expect.objectContaining({ interactionId: id, token, type: 7 })]);
    const twice = await rejection<DiscordAPIError>(anonymous.post(Routes.interactionCallback(id, token), { body: { type: 6 }, auth: false }));
    expect(twice.code).toBe(40060);

    const late = componentInteraction({ customId: 'ack:1' });
    discord.registerInteraction(late.token as string, { createdAt: Date.now() - 3001 });
    const tooLate = await rejection<DiscordAPIError>(
      anonymous.post(Routes.interactionCallback(late.id as string, late.token as string), { body: { type: 6 }, auth: false }),
    );
    expect(tooLate).toMatchObject({ status: 404, code: 10062 });

    const badData = componentInteraction({ customId: 'ack:1', channelId: CHANNEL, messageId: card.id });
    discord.registerInteraction(badData.token as string, { messageId: card.id });
    const invalid = await rejection<DiscordAPIError>(
      anonymous.post(Routes.interactionCallback(badData.id as string, badData.token as string), {
        body: { type: 4, data: { embeds: [{ title: 't'.repeat(257) }] } },
        auth: false,
      }),
    );
    expect(errorsAt(invalid.rawError, 'data.embeds.0.title')?.[0]?.code).toBe('BASE_TYPE_MAX_LENGTH');
  });

  it('refuses every documented message limit with 50035 at the offending path', async () => {
    const field = (name = 'n', value = 'v') => ({ name, value });
    const cases: Array<{ name: string; body: Record<string, unknown>; path: string; code?: string }> = [
      { name: 'content > 2000', body: { content: 'x'.repeat(2001) }, path: 'content', code: 'BASE_TYPE_MAX_LENGTH' },
      { name: '> 10 embeds', body: { embeds: Array.from({ length: 11 }, () => ({ title: 't' })) }, path: 'embeds', code: 'BASE_TYPE_MAX_LENGTH' },
      { name: 'title > 256', body: { embeds: [{ title: 't'.repeat(257) }] }, path: 'embeds.0.title', code: 'BASE_TYPE_MAX_LENGTH' },
      { name: 'description > 4096', body: { embeds: [{ title: 'ok' }, { description: 'd'.repeat(4097) }] }, path: 'embeds.1.description' },
      { name: '> 25 fields', body: { embeds: [{ fields: Array.from({ length: 26 }, () => field()) }] }, path: 'embeds.0.fields' },
      { name: 'field name > 256', body: { embeds: [{ fields: [field('n'.repeat(257))] }] }, path: 'embeds.0.fields.0.name' },
      { name: 'field value > 1024', body: { embeds: [{ fields: [field(), field('n', 'v'.repeat(1025))] }] }, path: 'embeds.0.fields.1.value' },
      { name: 'field without value', body: { embeds: [{ fields: [{ name: 'n' }] }] }, path: 'embeds.0.fields.0.value', code: 'BASE_TYPE_REQUIRED' },
      { name: 'footer > 2048', body: { embeds: [{ footer: { text: 'f'.repeat(2049) } }] }, path: 'embeds.0.footer.text' },
      { name: 'author > 256', body: { embeds: [{ author: { name: 'a'.repeat(257) } }] }, path: 'embeds.0.author.name' },
      {
        name: '> 6000 across embeds',
        body: { embeds: [{ description: 'd'.repeat(4000) }, { description: 'd'.repeat(1990), title: 't'.repeat(11) }] },
        path: 'embeds',
        code: 'MAX_EMBED_SIZE_EXCEEDED',
      },
      { name: '> 5 action rows', body: { components: Array.from({ length: 6 }, (_, i) => row(button(`b${i}`))) }, path: 'components' },
      {
        name: '> 5 buttons in a row',
        body: { components: [row(...Array.from({ length: 6 }, (_, i) => button(`b${i}`)))] },
        path: 'components.0.components',
        code: 'BASE_TYPE_BAD_LENGTH',
      },
      { name: 'custom_id > 100', body: { components: [row(button('c'.repeat(101)))] }, path: 'components.0.components.0.custom_id' },
      { name: 'empty custom_id', body: { components: [row(button(''))] }, path: 'components.0.components.0.custom_id' },
      { name: 'missing custom_id', body: { components: [row({ type: 2, style: 1, label: 'x' })] }, path: 'components.0.components.0.custom_id', code: 'BASE_TYPE_REQUIRED' },
      {
        name: 'duplicate custom_id across rows',
        body: { content: 'x', components: [row(button('same')), row(button('other'), button('same'))] },
        path: 'components.1.components.1.custom_id',
        code: 'COMPONENT_CUSTOM_ID_DUPLICATED',
      },
      { name: 'label > 80', body: { components: [row(button('b', { label: 'l'.repeat(81) }))] }, path: 'components.0.components.0.label' },
      { name: 'style 6', body: { components: [row(button('b', { style: 6 }))] }, path: 'components.0.components.0.style', code: 'BASE_TYPE_CHOICES' },
      { name: 'style 0', body: { components: [row(button('b', { style: 0 }))] }, path: 'components.0.components.0.style' },
      {
        name: 'link button without url',
        body: { components: [row({ type: 2, style: 5, label: 'Docs' })] },
        path: 'components.0.components.0.url',
        code: 'BASE_TYPE_REQUIRED',
      },
      {
        name: 'link button with custom_id',
        body: { components: [row({ type: 2, style: 5, label: 'Docs', url: 'https://example.com', custom_id: 'x' })] },
        path: 'components.0.components.0.custom_id',
      },
      {
        name: 'select sharing a row',
        body: { components: [row({ type: 3, custom_id: 's', options: [{ label: 'a', value: 'a' }] }, button('b'))] },
        path: 'components.0.components',
        code: 'COMPONENT_LAYOUT_WIDTH_EXCEEDED',
      },
      { name: 'not an action row', body: { components: [button('b')] }, path: 'components.0.type' },
      {
        name: '> 25 select options',
        body: { components: [row({ type: 3, custom_id: 's', options: Array.from({ length: 26 }, (_, i) => ({ label: `o${i}`, value: `o${i}` })) })] },
        path: 'components.0.components.0.options',
        code: 'BASE_TYPE_BAD_LENGTH',
      },
      { name: 'select without options', body: { components: [row({ type: 3, custom_id: 's' })] }, path: 'components.0.components.0.options', code: 'BASE_TYPE_REQUIRED' },
      {
        name: 'select option label > 100',
        body: { components: [row({ type: 3, custom_id: 's', options: [{ label: 'l'.repeat(101), value: 'a' }] })] },
        path: 'components.0.components.0.options.0.label',
      },
      {
        name: 'select option description > 100',
        body: { components: [row({ type: 3, custom_id: 's', options: [{ label: 'a', value: 'a', description: 'd'.repeat(101) }] })] },
        path: 'components.0.components.0.options.0.description',
      },
      {
        name: 'select placeholder > 150',
        body: { components: [row({ type: 3, custom_id: 's', placeholder: 'p'.repeat(151), options: [{ label: 'a', value: 'a' }] })] },
        path: 'components.0.components.0.placeholder',
      },
      {
        name: 'select max_values > 25',
        body: { components: [row({ type: 3, custom_id: 's', max_values: 26, options: [{ label: 'a', value: 'a' }] })] },
        path: 'components.0.components.0.max_values',
        code: 'NUMBER_TYPE_MAX',
      },
      {
        name: 'select custom_id shared with a button',
        body: { components: [row(button('same')), row({ type: 3, custom_id: 'same', options: [{ label: 'a', value: 'a' }] })] },
        path: 'components.1.components.0.custom_id',
        code: 'COMPONENT_CUSTOM_ID_DUPLICATED',
      },
      {
        name: 'parse users with a users list',
        body: { content: 'x', allowed_mentions: { parse: ['users'], users: [ALICE] } },
        path: 'allowed_mentions',
        code: 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE',
      },
    ];
    for (const c of cases) {
      const err = await rejection<DiscordAPIError>(rest.post(Routes.channelMessages(CHANNEL), { body: c.body }));
      expect(err, c.name).toBeInstanceOf(DiscordAPIError);
      expect(err.status, c.name).toBe(400);
      expect(err.code, c.name).toBe(50035);
      expect((err.rawError as { message: string }).message, c.name).toBe('Invalid Form Body');
      const found = errorsAt(err.rawError, c.path);
      expect(found, `${c.name}: ${JSON.stringify((err.rawError as { errors: unknown }).errors)}`).toBeDefined();
      if (c.code) expect(found?.map((e) => e.code), c.name).toContain(c.code);
    }
    expect(discord.messages(CHANNEL)).toHaveLength(0);

    // discord.js flattens the tree into its message, as it does for the real API.
    const err = await rejection<DiscordAPIError>(rest.post(Routes.channelMessages(CHANNEL), { body: { embeds: [{ title: 't'.repeat(257) }] } }));
    expect(err.message).toBe('Invalid Form Body\nembeds[0].title[BASE_TYPE_MAX_LENGTH]: Must be 256 or fewer in length.');

    // Exactly at the limits is fine.
    const atLimits = {
      content: 'x'.repeat(2000),
      embeds: [
        {
          title: 't'.repeat(256),
          description: 'd'.repeat(4096 - 256 - 200),
          fields: Array.from({ length: 25 }, (_, i) => ({ name: `n${String(i).padStart(2, '0')}`, value: 'v'.repeat(5) })),
          footer: { text: 'f'.repeat(1000) },
          author: { name: 'a'.repeat(200 + 25 * 0) },
        },
      ],
      components: Array.from({ length: 5 }, (_, r) =>
        row(...Array.from({ length: 5 }, (_, b) => button(`${r}-${b}-${'c'.repeat(96)}`, { label: 'l'.repeat(80) }))),
      ),
    };
    // title 256 + description 3640 + fields 25×(3+5)=200 + footer 1000 + author 200 = 5296
    await rest.post(Routes.channelMessages(CHANNEL), { body: atLimits });
    const sixThousand = { embeds: [{ description: 'd'.repeat(4096) }, { description: 'd'.repeat(1904) }] };
    await rest.post(Routes.channelMessages(CHANNEL), { body: sixThousand });
    // Code points, not UTF-16 units: 2000 emoji are 4000 UTF-16 units but fit.
    await rest.post(Routes.channelMessages(CHANNEL), { body: { content: '🔥'.repeat(2000) } });
    const link = { components: [row({ type: 2, style: 5, label: 'Runbook', url: 'https://runbooks.example/disk' })] };
    await rest.post(Routes.channelMessages(CHANNEL), { body: link });
    // A select of 25 options at every text limit, in a row of its own beside four rows of buttons.
    const option = (i: number) => ({ label: 'l'.repeat(99) + String(i % 10), value: `${String(i).padStart(2, '0')}${'v'.repeat(98)}`, description: 'd'.repeat(100) });
    const menu = {
      components: [
        ...Array.from({ length: 4 }, (_, r) => row(button(`r${r}`))),
        row({ type: 3, custom_id: 'menu', placeholder: 'p'.repeat(150), options: Array.from({ length: 25 }, (_, i) => option(i)) }),
      ],
    };
    await rest.post(Routes.channelMessages(CHANNEL), { body: menu });
    expect(discord.messages(CHANNEL)).toHaveLength(5);
  });

  it('refuses missing and wrong bot tokens with 401', async () => {
    const wrong = await rejection<DiscordAPIError>(restFor(discord, 'not-the-token').post(Routes.channelMessages(CHANNEL), { body: { content: 'x' } }));
    expect(wrong).toBeInstanceOf(DiscordAPIError);
    expect(wrong).toMatchObject({ status: 401, code: 0, rawError: { message: '401: Unauthorized', code: 0 } });
    const res = await fetch(`${discord.url}/v10/channels/${CHANNEL}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'x' }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ message: '401: Unauthorized', code: 0 });
    const bearer = await fetch(`${discord.url}/v10/users/@me`, { headers: { authorization: `Bearer ${discord.token}` } });
    expect(bearer.status).toBe(401);
    expect(discord.messages(CHANNEL)).toHaveLength(0);
    expect(await rest.get(Routes.user())).toMatchObject({ id: discord.applicationId, bot: true });
  });

  it('answers unknown routes 404 and refuses multipart and invalid JSON bodies', async () => {
    const unknownRoute = await rejection<DiscordAPIError>(rest.get('/nothing/here'));
    expect(unknownRoute).toMatchObject({ status: 404, rawError: { message: '404: Not Found', code: 0 } });
    const multipart = await rejection<DiscordAPIError>(
      rest.post(Routes.channelMessages(CHANNEL), { body: { content: 'with file' }, files: [{ name: 'a.txt', data: Buffer.from('hi') }] }),
    );
    expect(multipart).toMatchObject({ status: 400, code: 50035 });
    expect(errorsAt(multipart.rawError, 'files')?.[0]?.code).toBe('FAKE_UNSUPPORTED');
    const badJson = await fetch(`${discord.url}/v10/channels/${CHANNEL}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bot ${discord.token}` },
      body: '{"content":',
    });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ code: 50109 });
  });

  it('rate limits message creation per channel with 429, Retry-After and X-RateLimit headers', async () => {
    discord.setRateLimit({ perChannelPerSecond: 1, burst: 2 });
    const rejecting = restFor(discord, discord.token, { rejectOnRateLimit: () => true });
    await rejecting.post(Routes.channelMessages(CHANNEL), { body: { content: 'one' } });
    const ok = discord.calls.at(-1);
    expect(ok?.responseHeaders).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1' });
    expect(Number(ok?.responseHeaders['x-ratelimit-reset-after'])).toBeGreaterThan(0);
    expect(ok?.responseHeaders['x-ratelimit-bucket']).toMatch(/^[0-9a-f]{32}$/);
    await rejecting.post(Routes.channelMessages(CHANNEL), { body: { content: 'two' } });
    expect(discord.calls.at(-1)?.responseHeaders['x-ratelimit-remaining']).toBe('0');

    // The client read Remaining: 0 and refuses locally, without a request.
    const callsBefore = discord.calls.length;
    const local = await rejection<RateLimitError>(rejecting.post(Routes.channelMessages(CHANNEL), { body: { content: 'three' } }));
    expect(local).toBeInstanceOf(RateLimitError);
    expect(discord.calls.length).toBe(callsBefore);

    // A second replica that knows nothing of the bucket gets the real 429.
    const replica = restFor(discord, discord.token, { rejectOnRateLimit: () => true });
    const limited = await rejection<RateLimitError>(replica.post(Routes.channelMessages(CHANNEL), { body: { content: 'three' } }));
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.global).toBe(false);
    // Retry-After: 1 (whole seconds, rounded up), plus the client's default 50 ms offset.
    expect(limited.retryAfter).toBeGreaterThanOrEqual(1000);
    expect(limited.retryAfter).toBeLessThan(1100);
    const refused = discord.calls.at(-1) as RecordedCall;
    expect(refused.status).toBe(429);
    expect(refused.response).toMatchObject({ message: 'You are being rate limited.', global: false });
    const retryAfter = (refused.response as { retry_after: number }).retry_after;
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(1);
    expect(refused.responseHeaders).toMatchObject({ 'retry-after': '1', 'x-ratelimit-scope': 'user', 'x-ratelimit-remaining': '0' });
    expect(discord.rateLimited).toBe(1);

    // Another channel has its own bucket; so do edits.
    await replica.post(Routes.channelMessages(OTHER_CHANNEL), { body: { content: 'elsewhere' } });
    const first = discord.messages(CHANNEL)[0];
    await replica.patch(Routes.channelMessage(CHANNEL, first?.id ?? ''), { body: { content: 'edited' } });
    expect(discord.messages(CHANNEL).map((m) => m.content)).toEqual(['edited', 'two']);
  });

  it('lets a default client wait out a 429 and succeed', async () => {
    discord.setRateLimit({ perChannelPerSecond: 2, burst: 1 });
    await restFor(discord).post(Routes.channelMessages(CHANNEL), { body: { content: 'from replica A' } });
    const started = Date.now();
    const waiting = restFor(discord); // default: waits out 429s
    const msg = (await waiting.post(Routes.channelMessages(CHANNEL), { body: { content: 'from replica B' } })) as APIMessage;
    expect(msg.content).toBe('from replica B');
    const posts = discord.callsTo('POST /channels/:id/messages');
    expect(posts.map((c) => c.status)).toEqual([200, 429, 200]);
    // The client read X-RateLimit-Remaining: 0 / Reset-After off the 429 and waited that long (≈ 0.5 s).
    const retryAfter = (posts[1]?.response as { retry_after: number }).retry_after;
    expect(retryAfter).toBeGreaterThan(0.3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(retryAfter * 1000 - 20);
    expect((posts[2]?.at ?? 0) - (posts[1]?.at ?? 0)).toBeGreaterThanOrEqual(retryAfter * 1000 - 20);
    expect(discord.messages(CHANNEL).map((m) => m.content)).toEqual(['from replica A', 'from replica B']);
  });

  it('injects failures with failNext', async () => {
    discord.failNext('POST /channels/:id/messages', 1, { status: 500 });
    const http = await rejection<HTTPError>(rest.post(Routes.channelMessages(CHANNEL), { body: { content: 'x' } }));
    expect(http).toBeInstanceOf(HTTPError);
    expect(http.status).toBe(500);
    const msg = (await rest.post(Routes.channelMessages(CHANNEL), { body: { content: 'x' } })) as APIMessage;

    // Route keys may name a literal path too; the default client retries the injected 429.
    discord.failNext(`PATCH /channels/${CHANNEL}/messages/${msg.id}`, 1, { status: 429, retryAfter: 0.2 });
    await rest.patch(Routes.channelMessage(CHANNEL, msg.id), { body: { content: 'y' } });
    expect(discord.message(msg.id)?.content).toBe('y');
    const injected = discord.calls.filter((c) => c.injected);
    expect(injected.map((c) => c.status)).toEqual([500, 429]);
    expect(injected[1]?.response).toEqual({ message: 'You are being rate limited.', retry_after: 0.2, global: false });
    expect(discord.rateLimited).toBe(0);

    discord.failNext('GET /guilds/:id/members/:id', 1, { status: 403, body: { message: 'Missing Access', code: 50001 } });
    const forbidden = await rejection<DiscordAPIError>(rest.get(Routes.guildMember(discord.guildId, ALICE)));
    expect(forbidden).toMatchObject({ status: 403, code: 50001 });
  });

  it('replaces, validates and lists application commands', async () => {
    const commands = [
      { name: 'incident', description: 'Incident tools', options: [{ type: 1, name: 'list', description: 'Open incidents' }] },
      { name: 'ack', description: 'Acknowledge an incident' },
    ];
    const put = (await rest.put(Routes.applicationCommands(discord.applicationId), { body: commands })) as Array<{ id: string; name: string }>;
    expect(put).toEqual([
      expect.objectContaining({ name: 'incident', type: 1, application_id: discord.applicationId, id: expect.stringMatching(/^\d+$/) as unknown }),
      expect.objectContaining({ name: 'ack', description: 'Acknowledge an incident' }),
    ]);
    expect(await rest.get(Routes.applicationCommands(discord.applicationId))).toEqual(put);
    // Bulk overwrite keeps the ids of commands that stay and drops the others.
    const again = (await rest.put(Routes.applicationCommands(discord.applicationId), { body: [commands[0]] })) as Array<{ id: string }>;
    expect(again.map((c) => c.id)).toEqual([put[0]?.id]);
    expect(discord.commands()).toHaveLength(1);

    await rest.put(Routes.applicationGuildCommands(discord.applicationId, discord.guildId), { body: [commands[1]] });
    expect(discord.commands(discord.guildId).map((c) => c.name)).toEqual(['ack']);
    const otherGuild = await rejection<DiscordAPIError>(
      rest.put(Routes.applicationGuildCommands(discord.applicationId, '1100000000000000077'), { body: [] }),
    );
    expect(otherGuild).toMatchObject({ status: 403, code: 50001 });

    const bad = await rejection<DiscordAPIError>(
      rest.put(Routes.applicationCommands(discord.applicationId), {
        body: [
          { name: 'ok', description: 'fine' },
          { name: 'Bad Name', description: 'd' },
          { name: 'x'.repeat(33), description: 'd' },
          { name: 'desc', description: 'd'.repeat(101) },
          { name: 'nodesc' },
          { name: 'opt', description: 'd', options: [{ type: 3, name: 'Upper', description: 'd' }] },
          { name: 'ok', description: 'again' },
        ],
      }),
    );
    expect(bad.code).toBe(50035);
    expect(errorsAt(bad.rawError, '1.name')?.[0]?.code).toBe('APPLICATION_COMMAND_INVALID_NAME');
    expect(errorsAt(bad.rawError, '2.name')?.[0]?.code).toBe('BASE_TYPE_BAD_LENGTH');
    expect(errorsAt(bad.rawError, '3.description')?.[0]?.code).toBe('BASE_TYPE_BAD_LENGTH');
    expect(errorsAt(bad.rawError, '4.description')?.[0]?.code).toBe('BASE_TYPE_REQUIRED');
    expect(errorsAt(bad.rawError, '5.options.0.name')?.[0]?.code).toBe('APPLICATION_COMMAND_INVALID_NAME');
    expect(errorsAt(bad.rawError, '6.name')?.[0]?.code).toBe('APPLICATION_COMMANDS_DUPLICATE_NAME');
    expect(errorsAt(bad.rawError, '0')).toBeUndefined();
    expect(bad.message).toContain('\n1.name[APPLICATION_COMMAND_INVALID_NAME]: Command name is invalid');
    expect(bad.message).toContain('\n5.options[0].name[APPLICATION_COMMAND_INVALID_NAME]');

    const tooMany = await rejection<DiscordAPIError>(
      rest.put(Routes.applicationCommands(discord.applicationId), {
        body: Array.from({ length: 101 }, (_, i) => ({ name: `c${i}`, description: 'd' })),
      }),
    );
    expect(errorsAt(tooMany.rawError, '')?.[0]?.code).toBe('BASE_TYPE_MAX_LENGTH');
    // Unicode letters are fine; a refused PUT changes nothing.
    await rest.put(Routes.applicationCommands(discord.applicationId), { body: [{ name: 'störung', description: 'ok' }] });
    expect(discord.commands().map((c) => c.name)).toEqual(['störung']);
  });

  it('looks up guild members and opens DM channels', async () => {
    const member = await rest.get(Routes.guildMember(discord.guildId, ALICE));
    expect(member).toMatchObject({ user: { id: ALICE, username: 'alice' }, nick: 'Alice Oncall', roles: DEFAULT_MEMBERS[ALICE]?.roles });
    const nobody = await rejection<DiscordAPIError>(rest.get(Routes.guildMember(discord.guildId, '1200000000000000099')));
    expect(nobody).toMatchObject({ status: 404, code: 10007, message: 'Unknown Member' });
    const otherGuild = await rejection<DiscordAPIError>(rest.get(Routes.guildMember('1100000000000000077', ALICE)));
    expect(otherGuild.code).toBe(10004);

    const dm = (await rest.post(Routes.userChannels(), { body: { recipient_id: ALICE } })) as { id: string; type: number };
    expect(dm.type).toBe(1);
    expect((await rest.post(Routes.userChannels(), { body: { recipient_id: ALICE } })) as { id: string }).toMatchObject({ id: dm.id });
    expect(discord.dmChannel(ALICE)).toBe(dm.id);
    const sent = (await rest.post(Routes.channelMessages(dm.id), { body: { content: 'you are paged' } })) as APIMessage;
    expect(sent).not.toHaveProperty('guild_id');
    expect(discord.messages(dm.id).map((m) => m.content)).toEqual(['you are paged']);

    discord.addMember('1200000000000000009', { username: 'dave', roles: [], dmsClosed: true });
    const closed = (await rest.post(Routes.userChannels(), { body: { recipient_id: '1200000000000000009' } })) as { id: string };
    const refused = await rejection<DiscordAPIError>(rest.post(Routes.channelMessages(closed.id), { body: { content: 'hi' } }));
    expect(refused).toMatchObject({ status: 403, code: 50007 });
  });

  it('answers a repeated enforced nonce with the message it made, for 2 minutes', async () => {
    const create = (body: Record<string, unknown>, channel = CHANNEL) => rest.post(Routes.channelMessages(channel), { body }) as Promise<APIMessage>;
    const first = await create({ content: 'card', nonce: 'n-1', enforce_nonce: true });
    expect(first.nonce).toBe('n-1');
    // The same nonce again (a retry whose first answer was lost): the same message, nothing new.
    const again = await create({ content: 'card', nonce: 'n-1', enforce_nonce: true });
    expect(again.id).toBe(first.id);
    // Per author, not per channel.
    expect((await create({ content: 'elsewhere', nonce: 'n-1', enforce_nonce: true }, OTHER_CHANNEL)).id).toBe(first.id);
    expect(discord.allMessages().map((m) => m.id)).toEqual([first.id]);

    // Without enforce_nonce the nonce is only echoed back; other nonces make other messages.
    const plain = await create({ content: 'plain', nonce: 'n-1' });
    const other = await create({ content: 'other', nonce: 'n-2', enforce_nonce: true });
    const number = await create({ content: 'number', nonce: 12345, enforce_nonce: true });
    expect(new Set([first.id, plain.id, other.id, number.id]).size).toBe(4);
    expect((await create({ content: 'number', nonce: '12345', enforce_nonce: true })).id).toBe(number.id);

    // Past the window the nonce is free again.
    discord.message(first.id)!.postedAt -= 2 * 60_000 + 1;
    const later = await create({ content: 'card', nonce: 'n-1', enforce_nonce: true });
    expect(later.id).not.toBe(first.id);
    expect(discord.messages(CHANNEL)).toHaveLength(5);

    const tooLong = await rejection<DiscordAPIError>(create({ content: 'x', nonce: 'n'.repeat(26), enforce_nonce: true }));
    expect(tooLong).toMatchObject({ status: 400, code: 50035 });
    expect(errorsAt(tooLong.rawError, 'nonce')?.[0]?.code).toBe('BASE_TYPE_MAX_LENGTH');
  });

  it('waitFor polls and reset forgets state', async () => {
    const later = setTimeout(() => {
      void rest.post(Routes.channelMessages(CHANNEL), { body: { content: 'later' } });
    }, 50);
    const m = await discord.waitFor(() => discord.messages(CHANNEL)[0], 2000, 'the post');
    clearTimeout(later);
    expect(m.content).toBe('later');
    await expect(discord.waitFor(() => false, 50, 'never')).rejects.toThrow(/timed out after 50 ms waiting for never/);
    discord.reset();
    expect(discord.calls).toHaveLength(0);
    expect(discord.allMessages()).toHaveLength(0);
  });
});

/** The Ed25519 public key object from the 64 hex characters of DISCORD_PUBLIC_KEY. */
function publicKeyFromRaw(publicKeyHex: string): KeyObject {
  return createPublicKey({ key: Buffer.from(`302a300506032b6570032100${publicKeyHex}`, 'hex'), format: 'der', type: 'spki' });
}

describe('Discord interaction signing and payload builders', () => {
  it('signs timestamp + body with Ed25519 so that the raw public key verifies it', () => {
    const keys = createTestKeyPair();
    expect(keys.publicKeyHex).toMatch(/^[0-9a-f]{64}$/);
    const body = JSON.stringify(componentInteraction({ customId: 'ack:inc-1' }));
    const headers = signInteraction(keys.privateKey, body);
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-signature-ed25519']).toMatch(/^[0-9a-f]{128}$/);
    const ts = headers['x-signature-timestamp'];
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5);
    const key = publicKeyFromRaw(keys.publicKeyHex);
    const sig = Buffer.from(headers['x-signature-ed25519'], 'hex');
    expect(verify(null, Buffer.from(ts + body), key, sig)).toBe(true);
    expect(verify(null, Buffer.from(ts + body.replace('ack:inc-1', 'ack:inc-2')), key, sig)).toBe(false);
    expect(verify(null, Buffer.from(String(Number(ts) + 1) + body), key, sig)).toBe(false);
    expect(verify(null, Buffer.from(ts + body), publicKeyFromRaw(createTestKeyPair().publicKeyHex), sig)).toBe(false);

    const fixed = signInteraction(keys.privateKey, '{}', '1700000000');
    expect(fixed['x-signature-timestamp']).toBe('1700000000');
    expect(verify(null, Buffer.from('1700000000{}'), key, Buffer.from(fixed['x-signature-ed25519'], 'hex'))).toBe(true);
  });

  it('builds PING, component and command interactions shaped like Discord\'s', () => {
    expect(pingInteraction()).toMatchObject({ type: 1, version: 1, application_id: '1100000000000000001' });

    const click = componentInteraction({
      applicationId: '1100000000000000001',
      token: 'tok',
      guildId: '1100000000000000002',
      channelId: CHANNEL,
      messageId: '1100000000000000050',
      userId: '1200000000000000002',
      username: 'bob',
      roles: ['1300000000000000002'],
      customId: 'run:inc-1:step-2',
      componentType: 2,
    });
    expect(click).toMatchObject({
      type: 3,
      version: 1,
      token: 'tok',
      application_id: '1100000000000000001',
      guild_id: '1100000000000000002',
      channel_id: CHANNEL,
      member: { user: { id: '1200000000000000002', username: 'bob', global_name: null }, roles: ['1300000000000000002'], nick: 'Bob Lead' },
      message: { id: '1100000000000000050', channel_id: CHANNEL, author: { bot: true } },
      data: { custom_id: 'run:inc-1:step-2', component_type: 2 },
      locale: 'en-US',
    });
    expect(typeof click.app_permissions).toBe('string');
    expect(click.id).toMatch(/^\d+$/);
    expect(click).not.toHaveProperty('user');

    const defaults = componentInteraction({ customId: 'x' });
    expect(defaults).toMatchObject({ channel_id: DEFAULT_CHANNEL_ID, member: { user: { id: ALICE, username: 'alice' }, roles: DEFAULT_MEMBERS[ALICE]?.roles } });
    expect(defaults.token).toMatch(/^[A-Za-z0-9_-]{60,}$/);

    const dm = componentInteraction({ customId: 'x', guildId: null, userId: ALICE });
    expect(dm).toMatchObject({ user: { id: ALICE }, context: 1 });
    expect(dm).not.toHaveProperty('member');
    expect(dm).not.toHaveProperty('guild_id');

    const cmd = commandInteraction({ name: 'incident', options: [{ name: 'list', type: 1 }] });
    expect(cmd).toMatchObject({ type: 2, data: { name: 'incident', type: 1, options: [{ name: 'list', type: 1 }] } });
  });
});
