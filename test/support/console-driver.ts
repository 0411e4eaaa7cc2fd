import { normalise, type ChatDriver, type ChatMessage, type UserName } from './chat-drivers.js';
import { ConsoleClient, formsOf, sectionOf, textOf, type ConsoleForm } from './console-client.js';

/**
 * The web console as a chat platform for the shared scenarios (see ./chat-drivers.ts): one browser
 * session per user, pages read over HTTP, presses submitted as the page's own forms. The console
 * renders everything from the store, so a driver reads pages: `waitFor` reloads them before each
 * check, and `cards`, `replies` and `privateTexts` answer from the last load. The console has no
 * slash commands.
 */

const USERS: UserName[] = ['alice', 'bob', 'carol'];

interface PageForm {
  form: ConsoleForm;
  /** The submit button's class ("danger" for a changing step) and whether the form asks first. */
  danger: boolean;
}

/** The press forms in a fragment, with whether each is shown as dangerous (red and confirmed). */
function pressForms(fragment: string): PageForm[] {
  const forms = formsOf(fragment).filter((f) => f.action === '/console/press');
  const tags = [...fragment.matchAll(/<form method="post" action="\/console\/press"([^>]*)>[\s\S]*?<button type="submit" class="([^"]*)"/g)];
  return forms.map((form, i) => ({ form, danger: (tags[i]?.[2] ?? '') === 'danger' && (tags[i]?.[1] ?? '').includes('data-confirm=') }));
}

/** A card or thread message as the other drivers show theirs: a card's "More steps", or a thread message's <select>, is its menu. */
function message(id: string, fragment: string): ChatMessage {
  const [outside = '', menu = ''] = fragment.split(/<details class="more-steps"/);
  const forms = pressForms(outside);
  const buttons = forms.filter((b) => b.form.selects.buttonId === undefined);
  const selected = forms.flatMap((b) => b.form.selects.buttonId ?? []);
  const options = pressForms(menu);
  return {
    id,
    text: normalise(textOf(fragment)),
    buttonIds: buttons.map((b) => b.form.fields.buttonId ?? ''),
    menuIds: [...options.map((b) => b.form.fields.buttonId ?? ''), ...selected],
    danger: Object.fromEntries([...buttons, ...options].map((b) => [b.form.fields.buttonId ?? '', b.danger])),
  };
}

interface Snapshot {
  cards: Map<string, ChatMessage>;
  replies: Map<string, ChatMessage[]>;
  privates: Map<UserName, string[]>;
}

export function consoleDriver(): Promise<ChatDriver> {
  let url = '';
  let clients: Map<UserName, ConsoleClient> | undefined;
  let seen: Snapshot = { cards: new Map(), replies: new Map(), privates: new Map() };

  /** One client per user, each having said who it is (the console's name cookie). */
  const sessions = async (): Promise<Map<UserName, ConsoleClient>> => {
    if (clients) return clients;
    const made = new Map<UserName, ConsoleClient>();
    for (const user of USERS) {
      const client = new ConsoleClient(url);
      const home = await client.get('/');
      const switchTo = formsOf(home.text).find((f) => f.action === '/console/user');
      if (!switchTo) throw new Error('the console shows no form to say who you are');
      const res = await client.submit(switchTo, { user });
      if (res.status !== 303) throw new Error(`switching to ${user} answered ${res.status}`);
      made.set(user, client);
    }
    clients = made;
    return made;
  };

  const client = async (user: UserName) => {
    const c = (await sessions()).get(user);
    if (!c) throw new Error(`no console session for ${user}`);
    return c;
  };

  const load = async (): Promise<void> => {
    const alice = await client('alice');
    const list = await alice.get('/');
    const ids = [...new Set([...list.text.matchAll(/href="\/console\/incidents\/(\d+)"/g)].map((m) => m[1] ?? ''))].sort((a, b) => Number(a) - Number(b));
    const next: Snapshot = { cards: new Map(), replies: new Map(), privates: new Map() };
    for (const id of ids) {
      const page = await alice.get(`/console/incidents/${id}`);
      if (page.status !== 200) continue;
      next.cards.set(id, message(id, sectionOf(page.text, 'card')));
      const thread = sectionOf(page.text, 'thread');
      next.replies.set(
        id,
        [...thread.matchAll(/<li data-message="([^"]+)">([\s\S]*?)<\/li>/g)].map((m) => message(m[1] ?? '', m[2] ?? '')),
      );
    }
    for (const user of USERS) {
      const home = await (await client(user)).get('/');
      const privateSection = sectionOf(home.text, 'private');
      // Newest first on the page; oldest first here, as the other drivers keep them.
      next.privates.set(user, [...privateSection.matchAll(/<span class="text">([\s\S]*?)<\/span>/g)].map((m) => normalise(textOf(m[1] ?? ''))).reverse());
    }
    seen = next;
  };

  /** Submits the press form for `id` that the user's own page shows: among the buttons, or in the card's menu or a thread message's select. */
  const submit = async (user: UserName, id: string, card: ChatMessage, where: 'buttons' | 'menu') => {
    const c = await client(user);
    const page = await c.get(`/console/incidents/${card.id}`);
    const select = where === 'menu' ? pressForms(page.text).find((f) => f.form.selects.buttonId?.includes(id)) : undefined;
    if (select) {
      const started = performance.now();
      const res = await c.submit(select.form, { buttonId: id });
      return { status: res.status, ms: performance.now() - started };
    }
    // The card's menu is the one disclosure on the page: buttons are everywhere else (card and thread).
    const menu = /<details class="more-steps"[\s\S]*?<\/details>/.exec(page.text)?.[0] ?? '';
    const form = pressForms(where === 'menu' ? menu : page.text.replace(menu, '')).find((f) => f.form.fields.buttonId === id);
    if (!form) throw new Error(`${user}'s page of incident ${card.id} shows no ${where === 'menu' ? 'menu option' : 'button'} ${id}`);
    const started = performance.now();
    const res = await c.submit(form.form);
    return { status: res.status, ms: performance.now() - started };
  };

  return Promise.resolve({
    platform: 'console',
    botEnv: () => ({ CONSOLE: 'on' }),
    attach: (botUrl) => {
      url = botUrl;
      clients = undefined;
    },
    cards: () => [...seen.cards.values()],
    card: (id) => seen.cards.get(id),
    replies: (card) => seen.replies.get(card.id) ?? [],
    press: (user, buttonId, _on, card) => submit(user, buttonId, card, 'buttons'),
    choose: (user, optionId, _on, card) => submit(user, optionId, card, 'menu'),
    command: () => Promise.reject(new Error('the console has no slash commands')),
    privateTexts: (user) => seen.privates.get(user) ?? [],
    async waitFor<T>(predicate: () => T, timeoutMs: number, description: string): Promise<NonNullable<T>> {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < deadline) {
        try {
          await load();
          const value = predicate();
          if (value !== undefined && value !== null && value !== false) return value;
        } catch (error) {
          last = error;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${last instanceof Error ? `: ${last.message}` : ''}`);
    },
    close: () => Promise.resolve(),
  });
}
