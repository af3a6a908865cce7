/**
 * Escapes text for Slack mrkdwn: only `&`, `<` and `>` are control characters there, and `<…>`
 * is how mentions (`<!channel>`, `<@U123>`) and links are written, so payload text escaped this
 * way can never ping a channel or disguise a link. The Slack action's `escapeText`.
 */
export function escapeSlackMrkdwn(text: string): string {
  return /[&<>]/.test(text) ? text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : text;
}

/**
 * Defuses Slack's `<…>` control sequences in text shown as `plain_text` (Block Kit header and
 * button text, plain_text sections): such text is shown as written, so `&amp;` would show as
 * `&amp;` and the mrkdwn escaping above does not fit; but a payload value must still never form a
 * mention or a link, whatever the client makes of it. A word joiner (U+2060, invisible) after
 * each `<` breaks `<!channel>`, `<@U123>`, `<#C123>` and `<https://…|…>` without changing what
 * the reader sees.
 */
export function escapeSlackPlainText(text: string): string {
  return text.includes('<') ? text.replace(/</g, '<\u2060') : text;
}

/** The Slack action's `escapeTextIn`: a Block Kit `plain_text` object gets {@link escapeSlackPlainText}. */
export function escapeSlackTextIn(mapping: Readonly<Record<string, unknown>>): ((text: string) => string) | undefined {
  return mapping.type === 'plain_text' ? escapeSlackPlainText : undefined;
}
