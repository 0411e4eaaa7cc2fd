import { describe, expect, it } from 'vitest';
import { renderThreadMessage as renderDiscord } from '../../../src/bot/discord/render.js';
import { renderThreadMessage as renderSlack } from '../../../src/bot/slack/render.js';
import type { ThreadMessage } from '../../../src/core/card.js';
import { escalationSchema } from '../../../src/settings/escalation.js';
import { mentionsOf } from '../../../src/core/escalation.js';

/** The targets of an escalation file, as the escalation worker attaches them to its message. */
const mentions = mentionsOf(
  escalationSchema.parse({
    targets: {
      slack: [{ user: 'U0ALICE' }, { group: 'S0ONCALL', name: 'oncall' }],
      discord: [{ user: '123456789012345678', name: 'alice' }, { role: '987654321098765432' }],
    },
  }).targets,
);
// Text from an alert trying to ping on its own: it must stay inert on both platforms.
const message: ThreadMessage = { text: '⏰ Escalation 1: <!channel> <@U0EVIL> @everyone <@111111111111111111> <@&222222222222222222>', mentions };

describe('mentions in thread messages', () => {
  it('Slack: the renderer writes the user and user-group mentions; mention syntax in the text stays escaped', () => {
    const { text } = renderSlack(message);
    expect(text.endsWith(' <@U0ALICE> <!subteam^S0ONCALL>')).toBe(true);
    expect(text).toContain('&lt;!channel&gt; &lt;@U0EVIL&gt;');
    expect(text.match(/<[@!]/g)).toHaveLength(2);
  });

  it('Discord: the renderer writes <@id> and <@&id>, and allowed_mentions lists exactly those users and roles', () => {
    const body = renderDiscord(message);
    expect(body.allowed_mentions).toEqual({ parse: [], users: ['123456789012345678'], roles: ['987654321098765432'] });
    expect(body.content?.endsWith('\n<@123456789012345678> <@&987654321098765432>')).toBe(true);
    // Nobody named only in the text is allowed to be pinged.
    expect(JSON.stringify(body.allowed_mentions)).not.toMatch(/111111111111111111|222222222222222222/);
  });

  it('a message without mentions (or with mentions for another platform only) pings nobody', () => {
    expect(renderDiscord({ text: 'hi <@111111111111111111>' }).allowed_mentions).toEqual({ parse: [] });
    expect(renderDiscord({ text: 'hi', mentions: [{ platform: 'slack', kind: 'user', id: 'U0ALICE' }] }).allowed_mentions).toEqual({ parse: [] });
    expect(renderSlack({ text: 'hi', mentions: [{ platform: 'discord', kind: 'role', id: '987654321098765432' }] }).text).toBe('hi');
    // An id that is not an id is dropped, never written as syntax.
    expect(renderSlack({ text: 'hi', mentions: [{ platform: 'slack', kind: 'user', id: 'U1> <!channel' }] }).text).toBe('hi');
    expect(renderDiscord({ text: 'hi', mentions: [{ platform: 'discord', kind: 'user', id: '1> @everyone' }] }).allowed_mentions).toEqual({ parse: [] });
  });
});
