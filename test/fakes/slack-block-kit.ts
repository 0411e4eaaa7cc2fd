/**
 * Block Kit validation as Slack's Web API applies it to `chat.postMessage`, `chat.update` and
 * `chat.postEphemeral`. Limits come from `@slack/types` and docs.slack.dev/reference/block-kit
 * (summarised in the team's platform notes, section 2).
 *
 * Error strings copy the shape of Slack's real `invalid_blocks` answers, e.g.
 *   "failed to match all allowed schemas [json-pointer:/blocks/0/text]"
 *   "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
 *   "no more than 50 items allowed [json-pointer:/blocks]"
 *   "must be a valid enum value [json-pointer:/blocks/0/elements/0/style]"
 *   "missing required field: text [json-pointer:/blocks/0]"
 * Those five forms were seen in live responses. Slack documents no wording for duplicate ids, so
 * `duplicate_*` messages below are our own; tests should assert on the json-pointer, not the text.
 *
 * Characters are counted as Unicode code points.
 */

export type JsonObject = { [key: string]: unknown };

export const BLOCK_KIT_LIMITS = {
  blocksPerMessage: 50,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  headerText: 150,
  contextElements: 10,
  contextText: 3000,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  actionId: 255,
  blockId: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  imageAltText: 2000,
  imageUrl: 3000,
  markdownText: 12000,
  placeholder: 150,
  optionText: 75,
  optionValue: 150,
  optionDescription: 75,
  optionGroupLabel: 75,
  selectOptions: 100,
  selectOptionGroups: 100,
  overflowOptions: 5,
  overflowMinOptions: 2,
  /** Top-level `text` of a message: longer is refused with `msg_too_long`. */
  messageText: 40000,
} as const;

const BUTTON_STYLES = new Set(['primary', 'danger']);
const TEXT_TYPES = new Set(['plain_text', 'mrkdwn']);
const KNOWN_BLOCK_TYPES = new Set([
  'section',
  'header',
  'divider',
  'context',
  'actions',
  'image',
  'rich_text',
  'input',
  'markdown',
  'video',
  'file',
  'table',
  'context_actions',
]);

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function charCount(s: string): number {
  let n = 0;
  for (const _ of s) n += 1;
  return n;
}

const at = (path: string): string => `[json-pointer:${path}]`;
const tooLong = (path: string, max: number): string => `must be less than ${max + 1} characters ${at(path)}`;
const tooShort = (path: string): string => `must be more than 0 characters ${at(path)}`;
const tooMany = (path: string, max: number): string => `no more than ${max} items allowed ${at(path)}`;
const badEnum = (path: string): string => `must be a valid enum value ${at(path)}`;
const noSchema = (path: string): string => `failed to match all allowed schemas ${at(path)}`;
const missing = (path: string, field: string): string => `missing required field: ${field} ${at(path)}`;
const notString = (path: string): string => `must be a string ${at(path)}`;
const notArray = (path: string): string => `must be an array ${at(path)}`;

class Checker {
  readonly errors: string[] = [];
  private readonly actionIds = new Set<string>();
  private readonly blockIds = new Set<string>();

  /** A string field with a maximum length; `required` adds a missing-field error when absent. */
  str(obj: JsonObject, field: string, path: string, max: number, required = false): void {
    const v = obj[field];
    if (v === undefined) {
      if (required) this.errors.push(missing(path, field));
      return;
    }
    if (typeof v !== 'string') {
      this.errors.push(notString(`${path}/${field}`));
      return;
    }
    if (charCount(v) > max) this.errors.push(tooLong(`${path}/${field}`, max));
  }

  /**
   * A text object. `plainOnly` for places that take only `plain_text` (header, buttons, confirm
   * titles). Where both kinds are allowed Slack reports the schema mismatch first, then the reason.
   */
  text(v: unknown, path: string, max: number, plainOnly: boolean): void {
    const reasons: string[] = [];
    if (!isObject(v)) {
      this.errors.push(noSchema(path));
      return;
    }
    const type = v.type;
    if (typeof type !== 'string' || !TEXT_TYPES.has(type) || (plainOnly && type !== 'plain_text')) {
      reasons.push(badEnum(`${path}/type`));
    }
    const text = v.text;
    if (text === undefined) reasons.push(missing(path, 'text'));
    else if (typeof text !== 'string') reasons.push(notString(`${path}/text`));
    else if (text.length === 0) reasons.push(tooShort(`${path}/text`));
    else if (charCount(text) > max) reasons.push(tooLong(`${path}/text`, max));
    if (reasons.length > 0) {
      if (!plainOnly) this.errors.push(noSchema(path));
      this.errors.push(...reasons);
    }
  }

  blockId(block: JsonObject, path: string): void {
    const id = block.block_id;
    if (id === undefined) return;
    if (typeof id !== 'string') {
      this.errors.push(notString(`${path}/block_id`));
      return;
    }
    if (charCount(id) > BLOCK_KIT_LIMITS.blockId) this.errors.push(tooLong(`${path}/block_id`, BLOCK_KIT_LIMITS.blockId));
    if (this.blockIds.has(id)) this.errors.push(`duplicate_block_id: block_id must be unique ${at(`${path}/block_id`)}`);
    this.blockIds.add(id);
  }

  actionId(el: JsonObject, path: string): void {
    const id = el.action_id;
    if (id === undefined) return;
    if (typeof id !== 'string') {
      this.errors.push(notString(`${path}/action_id`));
      return;
    }
    if (charCount(id) > BLOCK_KIT_LIMITS.actionId) this.errors.push(tooLong(`${path}/action_id`, BLOCK_KIT_LIMITS.actionId));
    if (this.actionIds.has(id)) this.errors.push(`duplicate_action_id: action_id must be unique ${at(`${path}/action_id`)}`);
    this.actionIds.add(id);
  }

  confirm(v: unknown, path: string): void {
    if (!isObject(v)) {
      this.errors.push(noSchema(path));
      return;
    }
    const L = BLOCK_KIT_LIMITS;
    for (const field of ['title', 'text', 'confirm', 'deny'] as const) {
      if (v[field] === undefined) this.errors.push(missing(path, field));
    }
    if (v.title !== undefined) this.text(v.title, `${path}/title`, L.confirmTitle, true);
    if (v.text !== undefined) this.text(v.text, `${path}/text`, L.confirmText, false);
    if (v.confirm !== undefined) this.text(v.confirm, `${path}/confirm`, L.confirmButton, true);
    if (v.deny !== undefined) this.text(v.deny, `${path}/deny`, L.confirmButton, true);
    if (v.style !== undefined && (typeof v.style !== 'string' || !BUTTON_STYLES.has(v.style))) {
      this.errors.push(badEnum(`${path}/style`));
    }
  }

  /**
   * Option objects of a select menu or an overflow menu: `text` is plain_text only there (mrkdwn is
   * for radio buttons and checkboxes), `value` is required, `description` plain_text, `url` only
   * in an overflow menu. Values must be unique in one menu (Slack could not tell the choices apart).
   */
  options(v: unknown, path: string, max: number, o: { min?: number; urls?: boolean; values?: Set<string> } = {}): void {
    const L = BLOCK_KIT_LIMITS;
    if (!Array.isArray(v)) {
      this.errors.push(notArray(path));
      return;
    }
    if (v.length > max) this.errors.push(tooMany(path, max));
    if (v.length < (o.min ?? 1)) this.errors.push(`must provide at least ${o.min ?? 1} items ${at(path)}`);
    const values = o.values ?? new Set<string>();
    v.forEach((opt, i) => {
      const p = `${path}/${i}`;
      if (!isObject(opt)) {
        this.errors.push(noSchema(p));
        return;
      }
      if (opt.text === undefined) this.errors.push(missing(p, 'text'));
      else this.text(opt.text, `${p}/text`, L.optionText, true);
      this.str(opt, 'value', p, L.optionValue, true);
      if (typeof opt.value === 'string') {
        if (values.has(opt.value)) this.errors.push(`duplicate_option_value: option values must be unique ${at(`${p}/value`)}`);
        values.add(opt.value);
      }
      if (opt.description !== undefined) this.text(opt.description, `${p}/description`, L.optionDescription, true);
      if (opt.url !== undefined) {
        if (o.urls) this.str(opt, 'url', p, L.buttonUrl);
        else this.errors.push(noSchema(`${p}/url`));
      }
    });
  }

  /** A static select's choices: `options` or `option_groups`, exactly one of them. */
  selectChoices(el: JsonObject, path: string): void {
    const L = BLOCK_KIT_LIMITS;
    if ((el.options === undefined) === (el.option_groups === undefined)) {
      this.errors.push(el.options === undefined ? missing(path, 'options') : `options and option_groups cannot both be set ${at(path)}`);
      return;
    }
    if (el.options !== undefined) {
      this.options(el.options, `${path}/options`, L.selectOptions);
      return;
    }
    const groups = el.option_groups;
    if (!Array.isArray(groups)) {
      this.errors.push(notArray(`${path}/option_groups`));
      return;
    }
    if (groups.length > L.selectOptionGroups) this.errors.push(tooMany(`${path}/option_groups`, L.selectOptionGroups));
    const values = new Set<string>();
    groups.forEach((g, i) => {
      const p = `${path}/option_groups/${i}`;
      if (!isObject(g)) {
        this.errors.push(noSchema(p));
        return;
      }
      if (g.label === undefined) this.errors.push(missing(p, 'label'));
      else this.text(g.label, `${p}/label`, L.optionGroupLabel, true);
      this.options(g.options, `${p}/options`, L.selectOptions, { values });
    });
  }

  /** An interactive element, in an actions block or as a section accessory. */
  element(el: unknown, path: string): void {
    const L = BLOCK_KIT_LIMITS;
    if (!isObject(el)) {
      this.errors.push(noSchema(path));
      return;
    }
    if (typeof el.type !== 'string') {
      this.errors.push(missing(path, 'type'));
      return;
    }
    this.actionId(el, path);
    if (el.confirm !== undefined) this.confirm(el.confirm, `${path}/confirm`);
    switch (el.type) {
      case 'button':
        if (el.text === undefined) this.errors.push(missing(path, 'text'));
        else this.text(el.text, `${path}/text`, L.buttonText, true);
        this.str(el, 'value', path, L.buttonValue);
        this.str(el, 'url', path, L.buttonUrl);
        if (el.style !== undefined && (typeof el.style !== 'string' || !BUTTON_STYLES.has(el.style))) {
          this.errors.push(badEnum(`${path}/style`));
        }
        break;
      case 'static_select':
      case 'multi_static_select':
        if (el.placeholder !== undefined) this.text(el.placeholder, `${path}/placeholder`, L.placeholder, true);
        this.selectChoices(el, path);
        break;
      case 'overflow':
        if (el.options === undefined) this.errors.push(missing(path, 'options'));
        else this.options(el.options, `${path}/options`, L.overflowOptions, { min: L.overflowMinOptions, urls: true });
        break;
      case 'image':
        this.str(el, 'alt_text', path, L.imageAltText, true);
        break;
      default:
        // Other elements (date pickers, user selects, checkboxes, …) are accepted without deeper checks.
        break;
    }
  }

  block(block: unknown, i: number): void {
    const L = BLOCK_KIT_LIMITS;
    const path = `/blocks/${i}`;
    if (!isObject(block)) {
      this.errors.push(noSchema(path));
      return;
    }
    if (typeof block.type !== 'string') {
      this.errors.push(missing(path, 'type'));
      return;
    }
    if (!KNOWN_BLOCK_TYPES.has(block.type)) {
      this.errors.push(noSchema(path), badEnum(`${path}/type`));
      return;
    }
    this.blockId(block, path);
    switch (block.type) {
      case 'section': {
        if (block.text === undefined && block.fields === undefined) {
          this.errors.push(missing(path, 'text'));
        }
        if (block.text !== undefined) this.text(block.text, `${path}/text`, L.sectionText, false);
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields)) this.errors.push(notArray(`${path}/fields`));
          else {
            if (block.fields.length > L.sectionFields) this.errors.push(tooMany(`${path}/fields`, L.sectionFields));
            block.fields.forEach((f, j) => this.text(f, `${path}/fields/${j}`, L.sectionFieldText, false));
          }
        }
        if (block.accessory !== undefined) this.element(block.accessory, `${path}/accessory`);
        break;
      }
      case 'header':
        if (block.text === undefined) this.errors.push(missing(path, 'text'));
        else this.text(block.text, `${path}/text`, L.headerText, true);
        break;
      case 'context': {
        const els = block.elements;
        if (els === undefined) this.errors.push(missing(path, 'elements'));
        else if (!Array.isArray(els)) this.errors.push(notArray(`${path}/elements`));
        else {
          if (els.length > L.contextElements) this.errors.push(tooMany(`${path}/elements`, L.contextElements));
          els.forEach((el, j) => {
            const p = `${path}/elements/${j}`;
            if (isObject(el) && el.type === 'image') this.str(el, 'alt_text', p, L.imageAltText, true);
            else this.text(el, p, L.contextText, false);
          });
        }
        break;
      }
      case 'actions': {
        const els = block.elements;
        if (els === undefined) this.errors.push(missing(path, 'elements'));
        else if (!Array.isArray(els)) this.errors.push(notArray(`${path}/elements`));
        else {
          if (els.length > L.actionsElements) this.errors.push(tooMany(`${path}/elements`, L.actionsElements));
          els.forEach((el, j) => this.element(el, `${path}/elements/${j}`));
        }
        break;
      }
      case 'image':
        this.str(block, 'image_url', path, L.imageUrl, block.slack_file === undefined);
        this.str(block, 'alt_text', path, L.imageAltText, true);
        if (block.title !== undefined) this.text(block.title, `${path}/title`, L.imageAltText, true);
        break;
      case 'markdown':
        this.str(block, 'text', path, L.markdownText, true);
        break;
      default:
        break;
    }
  }
}

export type BlocksVerdict =
  | { ok: true; blocks: JsonObject[] | undefined }
  | { ok: false; error: 'invalid_blocks_format' }
  | { ok: false; error: 'invalid_blocks'; errors: string[] };

/**
 * Validates the `blocks` argument of a message (already JSON-parsed if it arrived as a string; a
 * string here means it was not valid JSON).
 */
export function validateBlocks(blocks: unknown): BlocksVerdict {
  if (blocks === undefined || blocks === null || blocks === '') return { ok: true, blocks: undefined };
  if (!Array.isArray(blocks)) return { ok: false, error: 'invalid_blocks_format' };
  const c = new Checker();
  if (blocks.length > BLOCK_KIT_LIMITS.blocksPerMessage) {
    c.errors.push(tooMany('/blocks', BLOCK_KIT_LIMITS.blocksPerMessage));
  }
  blocks.forEach((b, i) => c.block(b, i));
  if (c.errors.length > 0) return { ok: false, error: 'invalid_blocks', errors: c.errors };
  return { ok: true, blocks: blocks as JsonObject[] };
}
