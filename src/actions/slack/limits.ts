import type { ParamsWarning } from '../action.js';

/**
 * Slack's length limits, and cutting rendered text to them with a visible marker.
 *
 * - chat.postMessage `text`: Slack truncates anything over 40,000 characters *silently* (`ok: true`
 *   with the warning `message_truncated`, https://docs.slack.dev/reference/methods/chat.postMessage,
 *   "Truncating content"): the reader never learns that the end of the alert is missing.
 * - Section blocks (https://docs.slack.dev/reference/block-kit/blocks/section-block): `text` at most
 *   3,000 characters, each field at most 2,000; header blocks at most 150. Over a limit Slack
 *   refuses the whole message with `invalid_blocks`: the alert is lost.
 *
 * So the action cuts rendered text to the limits itself and ends it with {@link TRUNCATION_MARKER}.
 * Lengths are JavaScript string lengths (UTF-16 code units): never fewer than Slack counts.
 */

/** What ends a text the bridge had to cut. */
export const TRUNCATION_MARKER = '… (truncated)';

/** Longest `text` Slack keeps whole. */
export const SLACK_TEXT_LIMIT = 40_000;
/** Longest section `text.text`. */
export const SLACK_SECTION_TEXT_LIMIT = 3_000;
/** Longest text of one section field. */
export const SLACK_SECTION_FIELD_LIMIT = 2_000;
/** Longest header `text.text`. */
export const SLACK_HEADER_TEXT_LIMIT = 150;

/** One text Slack limits: where it sits in the params, and how long it may be. */
export interface SlackLimitedText {
  /** Path in the params, e.g. `['blocks', 0, 'text', 'text']`. */
  readonly path: readonly (string | number)[];
  readonly text: string;
  readonly limit: number;
}

/**
 * Every limited text in a message's params: `text`, and each section's text and fields and each
 * header's text in `blocks`. Pure.
 */
export function listLimitedTexts(params: { readonly text?: unknown; readonly blocks?: unknown }): SlackLimitedText[] {
  const found: SlackLimitedText[] = [];
  if (typeof params.text === 'string') found.push({ path: ['text'], text: params.text, limit: SLACK_TEXT_LIMIT });
  if (!Array.isArray(params.blocks)) return found;
  params.blocks.forEach((block: unknown, index) => {
    if (block === null || typeof block !== 'object') return;
    const { type, text, fields } = block as { type?: unknown; text?: unknown; fields?: unknown };
    const textOf = (object: unknown) => (object !== null && typeof object === 'object' ? (object as { text?: unknown }).text : undefined);
    if (type === 'section') {
      const sectionText = textOf(text);
      if (typeof sectionText === 'string') found.push({ path: ['blocks', index, 'text', 'text'], text: sectionText, limit: SLACK_SECTION_TEXT_LIMIT });
      if (Array.isArray(fields)) {
        fields.forEach((field: unknown, f) => {
          const fieldText = textOf(field);
          if (typeof fieldText === 'string') found.push({ path: ['blocks', index, 'fields', f, 'text'], text: fieldText, limit: SLACK_SECTION_FIELD_LIMIT });
        });
      }
    } else if (type === 'header') {
      const headerText = textOf(text);
      if (typeof headerText === 'string') found.push({ path: ['blocks', index, 'text', 'text'], text: headerText, limit: SLACK_HEADER_TEXT_LIMIT });
    }
  });
  return found;
}

/**
 * Cuts `text` to at most `limit` characters, the last of them {@link TRUNCATION_MARKER}; shorter
 * text is returned as it is. The cut never splits a surrogate pair (half an emoji) or an mrkdwn
 * entity (`&amp;`, `&lt;`, `&gt;`, which payload text is escaped into).
 */
export function truncateText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let end = Math.max(0, limit - TRUNCATION_MARKER.length);
  // A high surrogate at the end would leave half a character.
  if (end > 0 && /[\uD800-\uDBFF]/.test(text[end - 1])) end -= 1;
  // An entity cut in the middle would show as `&am`: cut before its `&`.
  const ampersand = text.lastIndexOf('&', end - 1);
  if (ampersand >= 0 && ampersand > end - 5) {
    const entity = /^&(?:amp|lt|gt);/.exec(text.slice(ampersand, ampersand + 5));
    if (entity && ampersand + entity[0].length > end) end = ampersand;
  }
  return `${text.slice(0, end)}${TRUNCATION_MARKER}`;
}

/**
 * `check`'s warnings for params holding only each template's fixed text (Action.lint): every text
 * whose fixed part alone exceeds its limit, so every message from the rule will be cut. Pure.
 */
export function listSlackLimitWarnings(params: { readonly text?: unknown; readonly blocks?: unknown }): ParamsWarning[] {
  return listLimitedTexts(params)
    .filter((item) => item.text.length > item.limit)
    .map((item) => ({
      path: item.path,
      message: `${formatPath(item.path)}: its fixed text alone is ${item.text.length} characters, over Slack's limit of ${item.limit}; every message will be cut to ${item.limit} ending in "${TRUNCATION_MARKER}"`,
    }));
}

/** What {@link truncateToSlackLimits} returns. */
export interface TruncatedArguments<T> {
  /** The arguments with every limited text cut to its limit (a copy; the input is left as it is). */
  readonly args: T;
  /** The paths that were cut, as `blocks[0].text.text`; empty when nothing was. */
  readonly truncated: readonly string[];
}

/**
 * Cuts every limited text of chat.postMessage arguments to Slack's limits (see the module comment).
 * Pure: returns a copy and the paths it cut.
 */
export function truncateToSlackLimits<T extends { text?: unknown; blocks?: unknown }>(args: T): TruncatedArguments<T> {
  const over = listLimitedTexts(args).filter((item) => item.text.length > item.limit);
  if (over.length === 0) return { args, truncated: [] };
  const copy = structuredClone(args) as T;
  for (const item of over) setAtPath(copy, item.path, truncateText(item.text, item.limit));
  return { args: copy, truncated: over.map((item) => formatPath(item.path)) };
}

/** `blocks[0].text.text` for a path. */
export function formatPath(path: readonly (string | number)[]): string {
  return path.map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : i === 0 ? segment : `.${segment}`)).join('');
}

function setAtPath(target: unknown, path: readonly (string | number)[], value: string): void {
  let node = target as Record<string | number, unknown>;
  for (const segment of path.slice(0, -1)) node = node[segment] as Record<string | number, unknown>;
  node[path[path.length - 1]] = value;
}
