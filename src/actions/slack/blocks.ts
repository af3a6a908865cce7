/**
 * Block Kit `blocks:` of `slack.post_message`, checked when rules load (issue 12, point 9): what
 * Slack would refuse with `invalid_blocks` however the templates render, so a rule never loads
 * that loses every message at 3 a.m. Lengths of text that templates render are not known at load:
 * `limits.ts` warns about fixed text over a limit and cuts rendered text to the limits.
 *
 * Limits, from Slack's Block Kit reference (docs.slack.dev/reference/block-kit/…):
 * - blocks: "a maximum of 50 blocks in each message" (block-kit/blocks; checked by the params schema);
 * - header block: `text` must be a `plain_text` object, at most 150 characters (blocks/header-block);
 * - section block: `text` at most 3,000 characters; `fields` at most 10 items of at most 2,000
 *   characters; "one of text or fields" is required (blocks/section-block);
 * - context block: `elements` at most 10 (blocks/context-block);
 * - actions block: `elements` at most 25 (blocks/actions-block);
 * - button element: `text` a `plain_text` object of at most 75 characters, `url` at most 3,000
 *   characters (block-elements/button-element);
 * - `block_id`: at most 255 characters (every block's reference).
 */

/** Block types Slack accepts in messages (docs.slack.dev/reference/block-kit/blocks). */
export const MESSAGE_BLOCK_TYPES = ['actions', 'context', 'divider', 'file', 'header', 'image', 'input', 'markdown', 'rich_text', 'section', 'table', 'video'] as const;

/** Most `fields` of a section. */
export const SLACK_SECTION_FIELDS_MAX = 10;
/** Most `elements` of a context block. */
export const SLACK_CONTEXT_ELEMENTS_MAX = 10;
/** Most `elements` of an actions block. */
export const SLACK_ACTIONS_ELEMENTS_MAX = 25;
/** Longest button text. */
export const SLACK_BUTTON_TEXT_LIMIT = 75;
/** Longest button `url`. */
export const SLACK_BUTTON_URL_LIMIT = 3_000;
/** Longest `block_id`. */
export const SLACK_BLOCK_ID_LIMIT = 255;

/** One problem of a block: where (a yup-style path, `blocks[0].text`) and an exact sentence. */
export interface BlockProblem {
  readonly path: string;
  readonly message: string;
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
const isTemplate = (value: unknown) => typeof value === 'string' && (value.includes('{{') || value.includes('{%'));

/**
 * Every structural problem of `blocks` as a rule writes them (strings may be templates: a
 * template's length is not judged here). Pure.
 */
export function listBlockProblems(blocks: readonly unknown[]): BlockProblem[] {
  const problems: BlockProblem[] = [];
  blocks.forEach((block, index) => {
    const at = `blocks[${index}]`;
    if (!isObject(block)) return; // the params schema reports a block that is not a mapping
    const type = block.type;
    if (typeof type !== 'string' || type === '') {
      problems.push({ path: at, message: `${at} needs type: a Block Kit block type such as section, header, context, actions or divider` });
      return;
    }
    if (!(MESSAGE_BLOCK_TYPES as readonly string[]).includes(type) && !isTemplate(type)) {
      problems.push({ path: `${at}.type`, message: `${at}.type ${type} is not a block type Slack posts in messages: use one of ${MESSAGE_BLOCK_TYPES.join(', ')}` });
      return;
    }
    if (typeof block.block_id === 'string' && !isTemplate(block.block_id) && block.block_id.length > SLACK_BLOCK_ID_LIMIT) {
      problems.push({ path: `${at}.block_id`, message: `${at}.block_id is ${block.block_id.length} characters; Slack allows at most ${SLACK_BLOCK_ID_LIMIT}` });
    }
    if (type === 'header' && !isTextObject(block.text, 'plain_text')) {
      problems.push({ path: `${at}.text`, message: `${at}.text must be a plain_text object: a header's text is { type: plain_text, text: "…" }` });
    }
    if (type === 'section') {
      if (block.text === undefined && block.fields === undefined) problems.push({ path: at, message: `${at} is a section: it needs text or fields` });
      if (block.text !== undefined && !isTextObject(block.text)) {
        problems.push({ path: `${at}.text`, message: `${at}.text must be a text object: { type: mrkdwn, text: "…" } or { type: plain_text, text: "…" }` });
      }
      if (Array.isArray(block.fields) && block.fields.length > SLACK_SECTION_FIELDS_MAX) {
        problems.push({ path: `${at}.fields`, message: `${at}.fields holds ${block.fields.length} fields; Slack allows at most ${SLACK_SECTION_FIELDS_MAX}` });
      }
    }
    if (type === 'context' || type === 'actions') {
      const most = type === 'context' ? SLACK_CONTEXT_ELEMENTS_MAX : SLACK_ACTIONS_ELEMENTS_MAX;
      if (!Array.isArray(block.elements) || block.elements.length === 0) {
        problems.push({ path: at, message: `${at} is a ${type} block: it needs elements, a list of 1 to ${most}` });
      } else if (block.elements.length > most) {
        problems.push({ path: `${at}.elements`, message: `${at}.elements holds ${block.elements.length} elements; Slack allows at most ${most} in a ${type} block` });
      }
      if (Array.isArray(block.elements)) {
        block.elements.forEach((element, e) => {
          if (isObject(element) && element.type === 'button') problems.push(...listButtonProblems(element, `${at}.elements[${e}]`));
        });
      }
    }
    if (type === 'section' && isObject(block.accessory) && block.accessory.type === 'button') {
      problems.push(...listButtonProblems(block.accessory, `${at}.accessory`));
    }
  });
  return problems;
}

function listButtonProblems(button: Record<string, unknown>, at: string): BlockProblem[] {
  const problems: BlockProblem[] = [];
  if (!isTextObject(button.text, 'plain_text')) {
    problems.push({ path: `${at}.text`, message: `${at}.text must be a plain_text object: a button's text is { type: plain_text, text: "…" }` });
  } else {
    const text = (button.text as { text: string }).text;
    if (!isTemplate(text) && text.length > SLACK_BUTTON_TEXT_LIMIT) {
      problems.push({ path: `${at}.text.text`, message: `${at}.text.text is ${text.length} characters; Slack allows at most ${SLACK_BUTTON_TEXT_LIMIT} on a button` });
    }
  }
  if (typeof button.url === 'string' && !isTemplate(button.url) && button.url.length > SLACK_BUTTON_URL_LIMIT) {
    problems.push({ path: `${at}.url`, message: `${at}.url is ${button.url.length} characters; Slack allows at most ${SLACK_BUTTON_URL_LIMIT}` });
  }
  return problems;
}

function isTextObject(value: unknown, only?: 'plain_text' | 'mrkdwn'): boolean {
  if (!isObject(value) || typeof value.text !== 'string') return false;
  return only === undefined ? value.type === 'plain_text' || value.type === 'mrkdwn' : value.type === only;
}
