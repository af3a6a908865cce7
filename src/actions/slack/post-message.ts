// PLACEHOLDER, replaced by the actions work: only the params half exists so far.
import type { Action } from '../action.js';
import { slackPostMessageParams, type SlackPostMessageParams } from './params.js';

export const slackPostMessage: Action<SlackPostMessageParams> = {
  name: 'slack.post_message',
  params: slackPostMessageParams,
  renderFormat: 'slack_mrkdwn',
  connect() {
    throw new Error('slack.post_message runner not built yet');
  },
};
