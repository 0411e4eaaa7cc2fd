import { describe, expect, it } from 'vitest';
import { parseInteraction } from '../../../src/bot/discord/interactions.js';

const member = {
  user: { id: '1200000000000000001', username: 'alice', global_name: 'Alice A', discriminator: '0' },
  nick: 'Alice Oncall',
  roles: ['1300000000000000001', '1300000000000000002'],
  permissions: '0',
};
const guildChannel = { id: '1100000000000000003', type: 0, guild_id: '1100000000000000002', name: 'incidents' };
const base = { application_id: '1100000000000000001', id: '1400000000000000001', token: 'tok-1', version: 1, guild_id: '1100000000000000002' };

function button(channel: { id: string; type: number }, message: { id: string; channel_id: string }, extra: object = {}) {
  return { ...base, type: 3, channel, channel_id: channel.id, member, data: { component_type: 2, custom_id: 'approve:12' }, message, ...extra };
}

describe('parseInteraction', () => {
  it('reads a PING', () => {
    expect(parseInteraction({ type: 1, id: '1', application_id: '2', token: 't', version: 1, user: { id: '3', username: 'discord' } })).toEqual({ kind: 'ping' });
  });

  it('reads a button on the card in a guild channel: the thread is the card message itself', () => {
    const parsed = parseInteraction(button(guildChannel, { id: '1500000000000000001', channel_id: guildChannel.id }));
    expect(parsed).toEqual({
      kind: 'button',
      userId: '1200000000000000001',
      user: { id: '1200000000000000001', name: 'Alice Oncall', groups: ['1300000000000000001', '1300000000000000002'] },
      channelId: '1100000000000000003',
      messageId: '1500000000000000001',
      threadId: '1500000000000000001',
      customId: 'approve:12',
      token: 'tok-1',
      applicationId: '1100000000000000001',
      interactionId: '1400000000000000001',
    });
  });

  it('reads a button on a message in a thread: the thread is the message channel', () => {
    const thread = { id: '1500000000000000001', type: 11, guild_id: '1100000000000000002', parent_id: guildChannel.id };
    const parsed = parseInteraction(button(thread, { id: '1500000000000000009', channel_id: thread.id }));
    expect(parsed).toMatchObject({ kind: 'button', channelId: thread.id, messageId: '1500000000000000009', threadId: thread.id });
  });

  it('falls back from nickname to global name to username', () => {
    const noNick = button(guildChannel, { id: '15', channel_id: guildChannel.id }, { member: { ...member, nick: null } });
    expect(parseInteraction(noNick)).toMatchObject({ user: { name: 'Alice A' } });
    const plain = button(guildChannel, { id: '15', channel_id: guildChannel.id }, { member: { ...member, nick: null, user: { id: '9', username: 'bob', global_name: null } } });
    expect(parseInteraction(plain)).toMatchObject({ userId: '9', user: { name: 'bob' } });
  });

  it('reads a choice in a card\'s "More steps" select as the press of the button it stands for', () => {
    const select = { component_type: 3, custom_id: 'more-steps', values: ['run-step:7:gitcortex:restart'] };
    const parsed = parseInteraction(button(guildChannel, { id: '1500000000000000001', channel_id: guildChannel.id }, { data: select }));
    expect(parsed).toMatchObject({ kind: 'button', customId: 'run-step:7:gitcortex:restart', threadId: '1500000000000000001', messageId: '1500000000000000001' });
  });

  it('leaves a select with no value, several values or a value over 100 characters unsupported', () => {
    for (const values of [[], ['ack:1', 'ack:2'], ['x'.repeat(101)], [''], undefined]) {
      const data = { component_type: 3, custom_id: 'more-steps', ...(values ? { values } : {}) };
      expect(parseInteraction(button(guildChannel, { id: '15', channel_id: guildChannel.id }, { data })), JSON.stringify(values)).toEqual({ kind: 'unsupported', type: 3 });
    }
  });

  it('reads a button in a DM: user instead of member, no roles', () => {
    const dm = { ...base, guild_id: undefined, type: 3, channel: { id: '77', type: 1 }, channel_id: '77', user: { id: '5', username: 'dave', global_name: null }, data: { component_type: 2, custom_id: 'deny:3' }, message: { id: '88', channel_id: '77' } };
    expect(parseInteraction(dm)).toMatchObject({ kind: 'button', userId: '5', user: { id: '5', name: 'dave', groups: [] }, channelId: '77', threadId: '88', customId: 'deny:3' });
  });

  it('reads a slash command with a subcommand and its options', () => {
    const command = {
      ...base,
      type: 2,
      channel: guildChannel,
      channel_id: guildChannel.id,
      member,
      data: { id: '9', name: 'incident', type: 1, options: [{ name: 'resolve', type: 1, options: [{ name: 'id', type: 4, value: 12 }, { name: 'note', type: 3, value: 'disk freed' }] }] },
    };
    expect(parseInteraction(command)).toEqual({
      kind: 'command',
      name: 'incident',
      subcommand: 'resolve',
      options: { id: 12, note: 'disk freed' },
      userId: '1200000000000000001',
      user: { id: '1200000000000000001', name: 'Alice Oncall', groups: ['1300000000000000001', '1300000000000000002'] },
      channelId: guildChannel.id,
      token: 'tok-1',
      interactionId: '1400000000000000001',
    });
    expect(parseInteraction({ ...command, data: { name: 'runbook', options: [{ name: 'list', type: 1 }] } })).toMatchObject({ subcommand: 'list', options: {} });
  });

  it('says unsupported for other interaction types and components (select menus, autocomplete, modals)', () => {
    expect(parseInteraction({ ...base, type: 4, member, channel_id: '1', data: {} })).toEqual({ kind: 'unsupported', type: 4 });
    expect(parseInteraction({ ...base, type: 5, member, channel_id: '1', data: {} })).toEqual({ kind: 'unsupported', type: 5 });
    expect(parseInteraction(button(guildChannel, { id: '1', channel_id: '1' }, { data: { component_type: 3, custom_id: 'x', values: [] } }))).toEqual({ kind: 'unsupported', type: 3 });
  });

  it('never throws on garbage', () => {
    let deep: object = { name: 'x', type: 1 };
    for (let i = 0; i < 50_000; i++) deep = { name: 'x', type: 1, options: [deep] };
    const garbage: unknown[] = [
      null,
      undefined,
      42,
      'ping',
      [],
      [{ type: 1 }],
      {},
      { type: '1' },
      { type: 1.5 },
      { type: 3 },
      { type: 3, data: { component_type: 2, custom_id: 'x' } },
      { type: 3, member: { user: { id: 5 } }, data: { component_type: 2, custom_id: 'x' }, message: { id: '1' }, channel_id: '1', token: 't', application_id: 'a' },
      { type: 3, member, data: { component_type: 2, custom_id: 'x'.repeat(101) }, message: { id: '1' }, channel_id: '1', token: 't', application_id: 'a' },
      { type: 2, member, channel_id: '1', token: 't', data: { options: 'x' } },
      { type: 2, member, channel_id: '1', token: 't', data: { name: 'incident', options: [deep] } },
      Object.create(null) as object,
    ];
    for (const g of garbage) {
      expect(() => parseInteraction(g)).not.toThrow();
      expect(['invalid', 'unsupported', 'command']).toContain(parseInteraction(g).kind);
    }
    expect(parseInteraction(null)).toEqual({ kind: 'invalid', reason: 'not an interaction' });
    expect(parseInteraction({ type: 3, data: { component_type: 2, custom_id: 'x' } }).kind).toBe('invalid');
  });
});
