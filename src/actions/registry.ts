import type { ActionRegistry } from './descriptor.js';
import { hubspotUpsertContact } from './hubspot/upsert-contact.js';
import { slackPostMessage } from './slack/post-message.js';

export type { ActionRegistry } from './descriptor.js';

/**
 * Every action a rule may name. This is the only list: config, start-up warnings, the rule
 * compiler and the workers derive from it. Adding an integration adds one line here and a folder
 * beside it.
 */
export const actionRegistry: ActionRegistry = Object.freeze({
  'slack.post_message': slackPostMessage,
  'hubspot.upsert_contact': hubspotUpsertContact,
});
