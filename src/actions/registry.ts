import type { Action, ActionName } from './action.js';
import { hubspotUpsertContact } from './hubspot/upsert-contact.js';
import { slackPostMessage } from './slack/post-message.js';

/**
 * Every action a rule may name. Adding an integration adds one line here and a folder beside it.
 */
export const actionRegistry: Readonly<Record<ActionName, Action<any>>> = {
  'slack.post_message': slackPostMessage,
  'hubspot.upsert_contact': hubspotUpsertContact,
};

export type ActionRegistry = typeof actionRegistry;
