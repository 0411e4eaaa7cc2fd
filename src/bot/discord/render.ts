import {
  ButtonStyle,
  ComponentType,
  type APIActionRowComponent,
  type APIButtonComponentWithCustomId,
  type APIEmbed,
  type APIEmbedField,
  type APIStringSelectComponent,
} from 'discord-api-types/v10';
import { cardIcon, menuRestNote, type Card, type CardButton, type CardLink, type CardMenu, STEP_STATE_ICON, stepStateText, type ThreadMessage } from '../../core/card.js';
import { t } from '../../core/i18n/index.js';
import { DISCORD_LIMITS as L, escapeMarkdown, joinLines, truncate } from './limits.js';
import { toDiscordMarkdown, truncateMarkdown } from './markdown.js';

export type ButtonRow = APIActionRowComponent<APIButtonComponentWithCustomId>;
/** A row holding one string select: a card's "More steps" menu. */
export type SelectRow = APIActionRowComponent<APIStringSelectComponent>;

/** Nothing the bot posts may ping anyone: text from alerts could say @everyone or <@id>. */
export const NO_MENTIONS = { parse: [] as [] } as const;

/** Who a message may ping: nobody, unless it names users or roles exactly (escalations). */
export type AllowedMentions = { parse: [] } & { users?: string[]; roles?: string[] };

/** The JSON body of every message the bot creates or edits. */
export interface DiscordMessageBody {
  content?: string;
  embeds?: APIEmbed[];
  components: Array<ButtonRow | SelectRow>;
  allowed_mentions: AllowedMentions;
}

export const SEVERITY_COLOUR: Record<Card['severity'], number> = { critical: 0xe01e5a, warning: 0xecb22e, info: 0x36c5f0, none: 0x95a5a6 };
export const RESOLVED_COLOUR = 0x2eb67d;
/** Discord has no confirmation dialogs: a danger button says so in its label (the approval flow is the guard). */
const DANGER_PREFIX = '⚠️ ';
const MAX_BUTTONS = L.actionRows * L.buttonsPerRow;

function renderButton(b: CardButton): APIButtonComponentWithCustomId {
  const style = b.style === 'danger' ? ButtonStyle.Danger : b.style === 'primary' ? ButtonStyle.Primary : ButtonStyle.Secondary;
  const label = (b.style === 'danger' ? DANGER_PREFIX : '') + (b.label.trim() || b.id);
  return { type: ComponentType.Button, style, custom_id: b.id, label: truncate(label, L.buttonLabel) };
}

/**
 * The buttons that can be shown: a custom_id must be 1–100 characters and unique in the message
 * (ids are never cut: a cut id would not decode). More than 25 → the first 24, room for a note.
 */
export function selectButtons(buttons: CardButton[]): { shown: CardButton[]; hidden: number } {
  const seen = new Set<string>();
  const valid = buttons.filter((b) => {
    if (b.id.length === 0 || b.id.length > L.customId || seen.has(b.id)) return false;
    seen.add(b.id);
    return true;
  });
  const shown = valid.length > MAX_BUTTONS ? valid.slice(0, MAX_BUTTONS - 1) : valid;
  return { shown, hidden: buttons.length - shown.length };
}

/** Buttons in action rows of five, at most five rows. */
export function buttonRows(buttons: CardButton[]): ButtonRow[] {
  const rows: ButtonRow[] = [];
  for (let i = 0; i < buttons.length && rows.length < L.actionRows; i += L.buttonsPerRow) {
    rows.push({ type: ComponentType.ActionRow, components: buttons.slice(i, i + L.buttonsPerRow).map(renderButton) });
  }
  return rows;
}

/** The custom_id of a card's menu; a choice in it carries the chosen button's id as its value. */
export const MENU_CUSTOM_ID = 'more-steps';

/**
 * The card's "More steps" menu as string selects of up to 25 options, one per action row, in the
 * rows the buttons leave. A changing step's option carries the warning sign its button would and
 * says it asks for approval. Options whose id is unusable or already a button are left out.
 */
function menuRows(card: Card, buttons: CardButton[], rows: number): { rows: SelectRow[]; hidden: number } {
  const seen = new Set(buttons.map((b) => b.id));
  const all = card.menu?.options ?? [];
  const valid = all.filter((b) => {
    if (b.id.length === 0 || b.id.length > L.customId || seen.has(b.id)) return false;
    seen.add(b.id);
    return true;
  });
  const parts: CardButton[][] = [];
  for (let i = 0; i < valid.length && parts.length < rows; i += L.selectOptions) parts.push(valid.slice(i, i + L.selectOptions));
  const label = card.menu?.label ?? t('card.menu.moreSteps');
  const result = parts.map(
    (part, n): SelectRow => ({
      type: ComponentType.ActionRow,
      components: [
        {
          type: ComponentType.StringSelect,
          custom_id: n === 0 ? MENU_CUSTOM_ID : `${MENU_CUSTOM_ID}:${n + 1}`,
          placeholder: truncate(parts.length > 1 || valid.length > L.selectOptions ? `${label} (${n + 1})` : label, L.selectPlaceholder),
          options: part.map((b) => ({
            label: truncate((b.style === 'danger' ? DANGER_PREFIX : '') + (b.label.trim() || b.id), L.selectOptionText),
            value: b.id,
            ...(b.confirm ? { description: truncate(b.confirm.text, L.selectOptionText) } : {}),
          })),
        },
      ],
    }),
  );
  return { rows: result, hidden: all.length - parts.reduce((n, p) => n + p.length, 0) };
}

const isUsableUrl = (url: string) => url.length <= L.linkUrl && /^https?:\/\/[^\s)]+$/i.test(url);

/** Masked links, whole ones only: a link that does not fit is left out, never cut in half. */
function linksText(links: CardLink[], max: number): string {
  const parts: string[] = [];
  let length = 0;
  for (const l of links) {
    if (!isUsableUrl(l.url)) continue;
    const part = `[${escapeMarkdown(truncate(l.label.trim() || 'link', 100))}](${l.url})`;
    const added = (parts.length > 0 ? LINK_SEPARATOR.length : 0) + part.length;
    if (length + added > max) continue;
    parts.push(part);
    length += added;
  }
  return parts.join(LINK_SEPARATOR);
}

const LINK_SEPARATOR = ' · ';

/** A field whose value is rendered for a given maximum length, so the whole embed can shrink to fit. */
interface FieldSpec {
  name: string;
  /** One of the card's own fields (shrunk first), not the bot's links, steps or notes. */
  own: boolean;
  value: (max: number) => string;
  inline: boolean;
}

function fieldSpecs(card: Card, hiddenButtons: number): FieldSpec[] {
  const tail: FieldSpec[] = [];
  if (card.links.some((l) => isUsableUrl(l.url))) {
    tail.push({ name: 'Links', own: false, value: (max) => linksText(card.links, max), inline: false });
  }
  if (card.steps.length > 0) {
    const lines = card.steps.map(
      (s) => `${STEP_STATE_ICON[s.state]} **${escapeMarkdown(truncate(s.title, 200))}** — ${stepStateText(s.state)}${s.detail ? `: ${escapeMarkdown(truncate(s.detail, 300))}` : ''}`,
    );
    tail.push({ name: 'Steps', own: false, value: (max) => joinLines(lines, max), inline: false });
  }
  if (hiddenButtons > 0) {
    const note = t('card.discord.hiddenRows', { hidden: hiddenButtons, rows: L.actionRows });
    tail.push({ name: t('card.menu.moreSteps'), own: false, value: (max) => truncate(note, max), inline: false });
  }
  const room = L.embedFields - tail.length;
  const own = card.fields.map((f): FieldSpec => {
    const value = escapeMarkdown(f.value);
    return { name: escapeMarkdown(f.label), own: true, value: (max) => truncate(value, max), inline: true };
  });
  if (own.length > room) {
    const dropped = own.length - (room - 1);
    own.splice(room - 1, own.length, { name: t('card.discord.moreFields'), own: true, value: (max) => truncate(t('card.discord.moreFieldsNote', { dropped }), max), inline: true });
  }
  return [...own, ...tail];
}

/** Discord refuses empty field names and values. */
const nonEmpty = (text: string) => (text.trim() ? text : '—');

/** Renders the fields with the card's own fields cut to `ownCap` and the bot's (links, steps, notes) to `tailCap`. */
function renderFields(specs: FieldSpec[], ownCap: number, tailCap: number): APIEmbedField[] {
  return specs.map((f) => {
    const cap = f.own ? ownCap : tailCap;
    return { name: nonEmpty(truncate(f.name, Math.min(L.fieldName, cap))), value: nonEmpty(f.value(Math.min(L.fieldValue, cap))), inline: f.inline };
  });
}

/** The smallest per-field length the shrinking goes down to: 25 such fields always fit. */
const MIN_FIELD_CAP = 8;

/** The largest cap in [MIN_FIELD_CAP, fieldValue] for which `ok` holds (it holds for all smaller ones), by bisection. */
function largest(ok: (cap: number) => boolean): number | undefined {
  if (!ok(MIN_FIELD_CAP)) return undefined;
  let low = MIN_FIELD_CAP;
  let high = L.fieldValue;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (ok(mid)) low = mid;
    else high = mid - 1;
  }
  return low;
}

const fieldsSize = (fields: APIEmbedField[]) => fields.reduce((n, f) => n + f.name.length + f.value.length, 0);

/** What Discord counts towards the 6,000 characters of a message's embeds. */
export function embedSize(embed: APIEmbed): number {
  return (
    (embed.title?.length ?? 0) +
    (embed.description?.length ?? 0) +
    (embed.footer?.text.length ?? 0) +
    (embed.author?.name.length ?? 0) +
    fieldsSize(embed.fields ?? [])
  );
}

function descriptionText(card: Card, max: number): string {
  const head = `**${escapeMarkdown(truncate(card.statusLine, 300))}**`;
  const parts = [head, card.summary && escapeMarkdown(card.summary), card.description && `\n${escapeMarkdown(card.description)}`].filter(Boolean);
  return truncate(parts.join('\n'), max);
}

/** The smallest description a shrinking card keeps: the status line and the start of the summary. */
const DESCRIPTION_FLOOR = 400;

/** The incident card as one embed with button rows, always inside Discord's limits. */
export function renderCard(card: Card): DiscordMessageBody {
  const { shown, hidden } = selectButtons(card.buttons);
  const buttons = buttonRows(shown);
  const menu = menuRows(card, shown, L.actionRows - buttons.length);
  const specs = fieldSpecs(card, hidden + menu.hidden);
  const title = truncate(`${cardIcon(card)} ${escapeMarkdown(card.title)}`, L.embedTitle);
  const footer = truncate(`Incident ${card.incidentId} · ${card.status}`, L.footerText);
  const fixed = title.length + footer.length;

  let fields = renderFields(specs, L.fieldValue, L.fieldValue);
  let description = descriptionText(card, L.embedDescription);
  const fits = (f: APIEmbedField[], descriptionLength: number) => fixed + descriptionLength + fieldsSize(f) <= L.embedsTotal;
  if (!fits(fields, description.length)) {
    // Shrink the description first (down to a floor), then the card's own fields, and only then
    // links, steps and notes, which say what responders can do.
    const floor = Math.min(description.length, DESCRIPTION_FLOOR);
    if (!fits(fields, floor)) {
      const ownCap = largest((cap) => fits(renderFields(specs, cap, L.fieldValue), floor));
      if (ownCap !== undefined) {
        fields = renderFields(specs, ownCap, L.fieldValue);
      } else {
        // 25 fields at the smallest cap always fit (footer ≤ 2048 + title ≤ 256 + floor + 25 × 16).
        const tailCap = largest((cap) => fits(renderFields(specs, MIN_FIELD_CAP, cap), floor)) ?? MIN_FIELD_CAP;
        fields = renderFields(specs, MIN_FIELD_CAP, tailCap);
      }
    }
    description = descriptionText(card, Math.max(0, Math.min(L.embedDescription, L.embedsTotal - fixed - fieldsSize(fields))));
  }

  const embed: APIEmbed = {
    title,
    color: card.status === 'resolved' ? RESOLVED_COLOUR : SEVERITY_COLOUR[card.severity],
    footer: { text: footer },
  };
  if (description) embed.description = description;
  if (fields.length > 0) embed.fields = fields;
  return { embeds: [embed], components: [...buttons, ...menu.rows], allowed_mentions: NO_MENTIONS };
}

/** The thread's name: the card title as plain one-line text (thread names have no markdown), 1–100 characters. */
export function threadName(card: Pick<Card, 'title' | 'incidentId'>): string {
  const title = card.title.replace(/\s+/g, ' ').trim();
  return truncate(title || `Incident ${card.incidentId}`, L.threadName);
}

/** The custom_id of a thread message's menu (the alert a step is for); a choice carries the chosen button's id as its value. */
export const CHOOSE_CUSTOM_ID = 'choose';

/**
 * A thread message's menu as one string select of at most 25 options (Discord's limit), and the
 * note saying how many more there are and how to choose them. Unusable or repeated ids are left
 * out (and counted in the note).
 */
function threadMenu(menu: CardMenu): { row: SelectRow; note: string | undefined } {
  const seen = new Set<string>();
  const options = menu.options
    .filter((b) => {
      if (b.id.length === 0 || b.id.length > L.customId || seen.has(b.id)) return false;
      seen.add(b.id);
      return true;
    })
    .slice(0, L.selectOptions);
  const row: SelectRow = {
    type: ComponentType.ActionRow,
    components: [
      {
        type: ComponentType.StringSelect,
        custom_id: CHOOSE_CUSTOM_ID,
        placeholder: truncate(menu.label, L.selectPlaceholder),
        options: options.map((b) => ({ label: truncate(b.label.trim() || b.id, L.selectOptionText), value: b.id })),
      },
    ],
  };
  return { row, note: menuRestNote(menu, options.length, t('menu.why.shows', { platform: 'Discord', max: L.selectOptions })) };
}

/** A thread message: Discord markdown within 2,000 characters, plus a menu and button rows when it carries them. */
export function renderThreadMessage(message: ThreadMessage): DiscordMessageBody {
  const menu = message.menu && message.menu.options.length > 0 ? threadMenu(message.menu) : undefined;
  const selected = selectButtons(message.buttons ?? []);
  // A menu takes one of the five rows.
  const shown = menu ? selected.shown.slice(0, MAX_BUTTONS - L.buttonsPerRow) : selected.shown;
  const hidden = selected.hidden + selected.shown.length - shown.length;
  const notes = [...(menu?.note ? [`(${menu.note})`] : []), ...(hidden > 0 ? [t('card.discord.hiddenOptions', { hidden, max: MAX_BUTTONS })] : [])];
  const note = notes.map((n) => `\n${n}`).join('');
  const { syntax, allowed } = discordMentions(message.mentions);
  const text = truncateMarkdown(toDiscordMarkdown(message.text), L.content - note.length - syntax.length) + note + syntax;
  return { content: text.trim() ? text : '…', components: [...(menu ? [menu.row] : []), ...buttonRows(shown)], allowed_mentions: allowed };
}

const SNOWFLAKE = /^\d{5,25}$/;

/**
 * The message's Discord mentions: `<@id>` / `<@&id>` appended after the (escaped) text, and
 * allowed_mentions listing exactly those users and roles, so that they, and nobody else, are pinged.
 */
export function discordMentions(mentions: ThreadMessage['mentions']): { syntax: string; allowed: AllowedMentions } {
  const own = (mentions ?? []).filter((m) => m.platform === 'discord' && SNOWFLAKE.test(m.id));
  const users = [...new Set(own.filter((m) => m.kind === 'user').map((m) => m.id))];
  const roles = [...new Set(own.filter((m) => m.kind === 'role').map((m) => m.id))];
  if (users.length + roles.length === 0) return { syntax: '', allowed: NO_MENTIONS };
  const syntax = [...users.map((id) => ` <@${id}>`), ...roles.map((id) => ` <@&${id}>`)].join('');
  return { syntax: `\n${syntax.trim()}`, allowed: { parse: [], ...(users.length ? { users } : {}), ...(roles.length ? { roles } : {}) } };
}

/** Plain text for a private answer (DM, follow-up): converted and cut like a thread message, no buttons. */
export function renderPrivateText(text: string, max: number = L.content): string {
  const content = truncateMarkdown(toDiscordMarkdown(text), max);
  return content.trim() ? content : '…';
}
