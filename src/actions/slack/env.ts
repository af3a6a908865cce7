import { durationVariable, positiveIntegerVariable, secretVariable, urlVariable } from '../../config/env-variable.js';

/**
 * Default of SLACK_MESSAGES_PER_MINUTE. chat.postMessage is in Slack's "special" rate-limit tier:
 * "1 message per second to a specific channel", and above that "limits governing your app's
 * relationship with the entire workspace ... several hundred messages per minute"
 * (docs.slack.dev/reference/methods/chat.postMessage, "Rate limiting";
 * docs.slack.dev/apis/web-api/rate-limits, "Special rate limits"). The least forgiving reading of
 * "several hundred" is 200; 120 (2 per second) stays well under it, leaves room for anything else
 * posting with the same bot token, and still lets two channels run at their full 1 per second.
 */
export const DEFAULT_SLACK_MESSAGES_PER_MINUTE = 120;

/** What every Slack action reads from the environment. */
export const slackEnv = {
  SLACK_BOT_TOKEN: secretVariable('Slack bot token (xoxb-...); unset: Slack actions run as dry-run (logged, nothing sent).'),
  SLACK_API_URL: urlVariable('Base URL of the Slack Web API, ending in /api/ (tests point it at a fake).', 'https://slack.com/api/'),
  SLACK_MESSAGES_PER_SECOND: positiveIntegerVariable(
    "Slack messages per second per channel, shared by all workers (Slack's own limit is 1).",
    1,
  ),
  SLACK_MESSAGES_PER_MINUTE: positiveIntegerVariable(
    'Slack messages per minute for the whole workspace, shared by all workers (Slack allows "several hundred").',
    DEFAULT_SLACK_MESSAGES_PER_MINUTE,
  ),
  // Threads (issue 12): how long a rendered thread_key remembers its root.
  SLACK_THREAD_TTL: durationVariable(
    'How long a thread_key remembers its thread (channel and root message), shared by all workers; a later message of the key starts a new thread.',
    '30d',
  ),
} as const;
