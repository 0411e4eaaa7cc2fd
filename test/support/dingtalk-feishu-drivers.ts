import { DINGTALK_CLIENT_ID, DINGTALK_CLIENT_SECRET, DINGTALK_CONVERSATION, startFakeDingTalk, type DingTalkMessage } from '../fakes/dingtalk-api.js';
import { FEISHU_APP_ID, FEISHU_APP_SECRET, FEISHU_CHAT, startFakeFeishu, type FeishuMessage } from '../fakes/feishu-api.js';
import { DANGER_SIGN, normalise, type ChatDriver, type ChatMessage, type UserName } from './chat-drivers.js';

/**
 * Chat drivers for DingTalk and Feishu (see ./chat-drivers.ts). Neither has slash commands here:
 * `command` is refused. Presses arrive the way the platforms deliver them, over the bot's own
 * connection to the fake (DingTalk's Stream mode, Feishu's long connection).
 */
const notSupported = (platform: string) => () => Promise.reject(new Error(`${platform} has no slash commands`));

type StandardContent = { type: string; id?: string; text?: string; actions?: Array<{ id: string; status?: string }> };

/** A DingTalk reply opens with a quote of its card (`> …`): the thread's marker, left out of its text. */
const unquote = (text: string) => text.replace(/^> [^\n]*\n\n/, '');

export const DINGTALK_STAFF: Record<UserName, string> = { alice: 'staff-alice', bob: 'staff-bob', carol: 'staff-carol' };

export async function dingtalkDriver(options: { messagesPerMinute?: number } = {}): Promise<ChatDriver & { quoteOf(reply: ChatMessage): string | undefined; limited(): number[] }> {
  const perMinute = options.messagesPerMinute ?? 600;
  const fake = await startFakeDingTalk({ rateLimit: perMinute });
  const raw = new Map<string, DingTalkMessage>();
  const view = (m: DingTalkMessage): ChatMessage => {
    raw.set(m.id, m);
    const contents = (m.content.contents as StandardContent[] | undefined) ?? [];
    const title = (m.content.header as { title?: { text?: string } } | undefined)?.title?.text;
    const texts = contents.filter((c) => c.type === 'markdown').map((c) => (m.id.includes('.') ? unquote(c.text ?? '') : (c.text ?? '')));
    // A StandardCard has no menus: the card's "More steps" are the buttons after its "More steps" line.
    const more = contents.findIndex((c) => c.id === 'more-steps');
    const actionsOf = (part: StandardContent[]) => part.flatMap((c) => (c.type === 'action' ? (c.actions ?? []) : []));
    const buttons = actionsOf(more < 0 ? contents : contents.slice(0, more));
    const options = more < 0 ? [] : actionsOf(contents.slice(more));
    return {
      id: m.id,
      text: normalise([title, ...texts].filter((t) => t !== undefined).join('\n')),
      buttonIds: buttons.map((b) => b.id),
      menuIds: options.map((b) => b.id),
      danger: Object.fromEntries([...buttons, ...options].map((b) => [b.id, b.status === 'warning'])),
    };
  };
  const press = async (user: UserName, buttonId: string, on: ChatMessage) => {
    await fake.waitFor(() => fake.connections > 0, 10_000, 'the bot connected over Stream mode');
    const ack = await fake.press({ userId: DINGTALK_STAFF[user], cardBizId: on.id, actionId: buttonId });
    return { status: 200, ms: ack.ms };
  };
  return {
    platform: 'dingtalk',
    botEnv: () => ({
      DINGTALK_CLIENT_ID,
      DINGTALK_CLIENT_SECRET,
      DINGTALK_ALERT_CONVERSATION_ID: DINGTALK_CONVERSATION,
      DINGTALK_API_URL: fake.url,
      DINGTALK_OAPI_URL: fake.url,
      DINGTALK_MESSAGES_PER_MINUTE: String(perMinute),
      // bob is in the on-call department (9100); alice and carol are not.
      APPROVERS: 'dingtalk:9100',
    }),
    attach: () => undefined,
    cards: () => fake.messages.filter((m) => m.kind === 'card' && !m.id.includes('.')).map(view),
    card: (id) => {
      const m = fake.messages.find((x) => x.id === id);
      return m && view(m);
    },
    replies: (card) => fake.messages.filter((m) => m.id.startsWith(`${card.id}.`)).map(view),
    press: (user, buttonId, on) => press(user, buttonId, on),
    /** The "More steps" of a DingTalk card are buttons: a choice is their press. */
    async choose(user, optionId, on) {
      if (!on.menuIds.includes(optionId)) throw new Error(`no menu option ${optionId} on card ${on.id}`);
      return press(user, optionId, on);
    },
    command: notSupported('DingTalk'),
    privateTexts: (user) => fake.privates.filter((p) => p.user === DINGTALK_STAFF[user]).map((p) => normalise(p.text)),
    waitFor: (predicate, timeoutMs, description) => fake.waitFor(predicate, timeoutMs, description),
    close: () => fake.close(),
    limited: () => fake.limited,
    quoteOf: (reply) => {
      const text = ((raw.get(reply.id)?.content.contents as StandardContent[] | undefined) ?? [])[0]?.text ?? '';
      return /^> ([^\n]*)\n\n/.exec(text)?.[1];
    },
  };
}

export const FEISHU_OPEN_IDS: Record<UserName, string> = { alice: 'ou_alice', bob: 'ou_bob', carol: 'ou_carol' };

/** lark_md's entities back to characters, then the common normalisation. */
const decodeLarkMd = (text: string) => normalise(text.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n))));

type FeishuElement = {
  tag: string;
  text?: { content?: string };
  actions?: Array<{ tag?: string; type?: string; value?: { button?: string; menu?: string }; options?: Array<{ value: string; text: { content: string } }> }>;
};

export async function feishuDriver(): Promise<ChatDriver> {
  const fake = await startFakeFeishu();
  const selectValues = new Map<string, Record<string, string>>();
  const view = (m: FeishuMessage): ChatMessage => {
    const elements = (m.content.elements as FeishuElement[] | undefined) ?? [];
    const title = (m.content.header as { title?: { content?: string } } | undefined)?.title?.content;
    const texts = elements.filter((e) => e.tag === 'div').map((e) => e.text?.content ?? '');
    const actions = elements.flatMap((e) => (e.tag === 'action' ? (e.actions ?? []) : []));
    const buttons = actions.filter((a) => a.tag === 'button').map((b) => ({ id: b.value?.button ?? '', danger: b.type === 'danger' }));
    const selects = actions.filter((a) => a.tag === 'select_static');
    // A choice's callback carries its select's own value (the card's menu, or a thread message's).
    for (const select of selects) for (const o of select.options ?? []) selectValues.set(`${m.id} ${o.value}`, select.value ?? {});
    const options = selects.flatMap((s) => (s.options ?? []).map((o) => ({ id: o.value, danger: o.text.content.startsWith(DANGER_SIGN) })));
    return {
      id: m.id,
      text: decodeLarkMd([title, ...texts].filter((t) => t !== undefined).join('\n')),
      buttonIds: buttons.map((b) => b.id),
      menuIds: options.map((o) => o.id),
      danger: Object.fromEntries([...buttons, ...options].map((b) => [b.id, b.danger])),
    };
  };
  return {
    platform: 'feishu',
    botEnv: () => ({
      FEISHU_APP_ID,
      FEISHU_APP_SECRET,
      FEISHU_ALERT_CHAT_ID: FEISHU_CHAT,
      FEISHU_DOMAIN: fake.url,
      // bob is in the on-call department; alice and carol are not.
      APPROVERS: 'feishu:od-oncall',
    }),
    attach: () => undefined,
    cards: () => fake.messages.filter((m) => m.root === undefined).map(view),
    card: (id) => {
      const m = fake.messages.find((x) => x.id === id);
      return m && view(m);
    },
    replies: (card) => fake.messages.filter((m) => m.root === card.id).map(view),
    async press(user, buttonId, on) {
      await fake.waitFor(() => fake.connections > 0, 10_000, 'the bot connected over the long connection');
      const answer = await fake.press({ openId: FEISHU_OPEN_IDS[user], messageId: on.id, value: { button: buttonId } });
      return { status: answer.code, ms: answer.ms };
    },
    async choose(user, optionId, on) {
      if (!on.menuIds.includes(optionId)) throw new Error(`no menu option ${optionId} on card ${on.id}`);
      await fake.waitFor(() => fake.connections > 0, 10_000, 'the bot connected over the long connection');
      const answer = await fake.press({ openId: FEISHU_OPEN_IDS[user], messageId: on.id, value: selectValues.get(`${on.id} ${optionId}`) ?? { menu: 'more-steps' }, option: optionId });
      return { status: answer.code, ms: answer.ms };
    },
    command: notSupported('Feishu'),
    privateTexts: (user) =>
      fake.ephemerals.filter((e) => e.user === FEISHU_OPEN_IDS[user]).map((e) => decodeLarkMd(((e.card.elements as FeishuElement[] | undefined) ?? []).map((x) => x.text?.content ?? '').join('\n'))),
    waitFor: (predicate, timeoutMs, description) => fake.waitFor(predicate, timeoutMs, description),
    close: () => fake.close(),
  };
}
