import { positiveIntegerVariable, secretVariable, urlVariable } from '../../config/env-variable.js';

/** What every Slack action reads from the environment. */
export const slackEnv = {
  SLACK_BOT_TOKEN: secretVariable('Slack bot token (xoxb-...); unset: Slack actions run as dry-run (logged, nothing sent).'),
  SLACK_API_URL: urlVariable('Base URL of the Slack Web API, ending in /api/ (tests point it at a fake).', 'https://slack.com/api/'),
  SLACK_MESSAGES_PER_SECOND: positiveIntegerVariable(
    "Slack messages per second per channel, shared by all workers (Slack's own limit is 1).",
    1,
  ),
} as const;
