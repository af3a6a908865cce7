import { parseDuration } from '../../infra/units.js';
import type { ActionGrouping } from '../action.js';
import { DEFAULT_GROUP_MAX, DEFAULT_GROUP_WAIT, type SlackPostMessageParams } from './params.js';

/**
 * Digests of `slack.post_message` (`group: { by, wait, max }`, `digest_text`): the pure half. The
 * queue (src/queue/digests.ts) keeps each open group in Redis and posts its digest as one action
 * through this action's runner, so a digest is paced, retried and recorded like any message.
 */

/** The variables `digest_text` sees: every grouped message (its event, data and rendered text), and how many. */
export const DIGEST_TEMPLATE_VARIABLES = ['events', 'count'] as const;

/**
 * The digest when a rule writes no `digest_text`: each message's rendered text on its own line, up
 * to `max`, then "… and N more". A group never holds more than `max` (the max-th message posts the
 * digest at once), so the last line is a guard rather than the rule. `| raw`: each text is already
 * rendered and escaped for mrkdwn once; escaping it again would show `&amp;lt;`.
 */
export function defaultSlackDigestTemplate(max: number): string {
  return `{% for item in events limit: ${max} %}{{ item.text | raw }}\n{% endfor %}{% if count > ${max} %}… and {{ count | minus: ${max} }} more{% endif %}`;
}

export const slackGrouping: ActionGrouping<SlackPostMessageParams> = {
  placementOf(params) {
    if (params.group === undefined) return undefined;
    // One group per rule action, channel and rendered `by`: JSON keeps the two parts apart whatever they hold.
    return {
      key: JSON.stringify([params.channel, params.group.by]),
      waitMs: parseDuration(params.group.wait ?? DEFAULT_GROUP_WAIT) ?? parseDuration(DEFAULT_GROUP_WAIT)!,
      max: params.group.max ?? DEFAULT_GROUP_MAX,
    };
  },
  itemTextOf: (params) => params.text ?? '',
  digestTemplateOf: (params) => params.digest_text,
  defaultDigestTemplate: defaultSlackDigestTemplate,
  digestParams(first, text) {
    // The digest is a plain message to the same channel: no group of its own, no digest template.
    const { group: _group, digest_text: _digestText, ...rest } = first;
    return { ...rest, text: text.trimEnd() === '' ? '(empty digest)' : text.trimEnd() };
  },
};
