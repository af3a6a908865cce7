/**
 * Escapes text for Slack mrkdwn: only `&`, `<` and `>` are control characters there, and `<…>`
 * is how mentions (`<!channel>`, `<@U123>`) and links are written, so payload text escaped this
 * way can never ping a channel or disguise a link. The Slack action's `escapeText`.
 */
export function escapeSlackMrkdwn(text: string): string {
  return /[&<>]/.test(text) ? text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : text;
}
