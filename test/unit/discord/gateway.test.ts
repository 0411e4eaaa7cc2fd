import { describe, expect, it } from 'vitest';
import { buttonPressFromInteraction, commandRequestFromInteraction, userFromInteraction, type ButtonInteractionLike } from '../../../src/bot/discord/gateway.js';

const GUILD = '1100000000000000002';
const tell = () => Promise.resolve();

function interaction(overrides: Partial<ButtonInteractionLike> = {}): ButtonInteractionLike {
  return {
    customId: 'run-step:7:gitcortex:health',
    channelId: '1100000000000000003',
    guildId: GUILD,
    user: { id: '1200000000000000001', username: 'alice', globalName: 'Alice A' },
    member: { nick: 'Alice Oncall', roles: ['1300000000000000001'] },
    message: { id: '1500000000000000001', channelId: '1100000000000000003' },
    channel: { isThread: () => false },
    ...overrides,
  };
}

describe('buttonPressFromInteraction', () => {
  it('maps a press on the card: the thread is the card message, the user comes from the API member', () => {
    const press = buttonPressFromInteraction(interaction(), tell);
    expect(press).toEqual({
      userId: '1200000000000000001',
      channel: '1100000000000000003',
      threadId: '1500000000000000001',
      buttonId: 'run-step:7:gitcortex:health',
      user: { id: '1200000000000000001', name: 'Alice Oncall', groups: ['1300000000000000001'] },
      tellPrivately: tell,
    });
  });

  it('maps a press in a thread: the thread is the channel', () => {
    const press = buttonPressFromInteraction(
      interaction({ channelId: '1500000000000000001', message: { id: '1500000000000000009', channelId: '1500000000000000001' }, channel: { isThread: () => true } }),
      tell,
    );
    expect(press).toMatchObject({ channel: '1500000000000000001', threadId: '1500000000000000001' });
  });

  it('reads a cached GuildMember (roles in a manager, without @everyone) and falls back on names', () => {
    const cached = { nickname: null, roles: { cache: new Map([[GUILD, {}], ['1300000000000000002', {}]]) } };
    expect(userFromInteraction(interaction({ member: cached }))).toEqual({ id: '1200000000000000001', name: 'Alice A', groups: ['1300000000000000002'] });
    expect(userFromInteraction(interaction({ member: null, guildId: null, user: { id: '9', username: 'bob', globalName: null } }))).toEqual({ id: '9', name: 'bob', groups: [] });
  });

  it('maps a choice in the card\'s menu to the press of the button it stands for', () => {
    const press = buttonPressFromInteraction(interaction({ customId: 'more-steps', values: ['run-step:7:gitcortex:restart'] }), tell);
    expect(press).toMatchObject({ buttonId: 'run-step:7:gitcortex:restart', threadId: '1500000000000000001' });
    // A select with nothing chosen names no button (the handler answers that it does not know it).
    expect(buttonPressFromInteraction(interaction({ customId: 'more-steps', values: [] }), tell).buttonId).toBe('');
  });

  it('uses the message channel when the interaction has no channel id', () => {
    expect(buttonPressFromInteraction(interaction({ channelId: null, channel: null }), tell)).toMatchObject({ channel: '1100000000000000003', threadId: '1500000000000000001' });
  });
});

describe('commandRequestFromInteraction', () => {
  it('maps a chat input command from the gateway to the shared command request', () => {
    const request = commandRequestFromInteraction({
      commandName: 'runbook',
      channelId: '900',
      guildId: '1',
      user: { id: '42', username: 'alice', globalName: 'Alice' },
      member: { nick: 'On-call Alice', roles: ['1', 'r-lead'] },
      options: { data: [{ name: 'dry-run', type: 1, options: [{ name: 'name', type: 3, value: 'gitcortex' }, { name: 'step', type: 3, value: 'health' }, { name: 'incident', type: 4, value: 7 }] }] },
    });
    expect(request).toEqual({
      userId: '42',
      user: { id: '42', name: 'On-call Alice', groups: ['r-lead'] },
      channel: '900',
      input: { name: 'runbook', subcommand: 'dry-run', options: { name: 'gitcortex', step: 'health', incident: 7 } },
      maxReplyChars: 2000,
    });
  });
});
