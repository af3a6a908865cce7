// PLACEHOLDER, replaced by the actions work: only the params half exists so far.
import type { Action } from '../action.js';
import { hubspotUpsertContactParams, type HubspotUpsertContactParams } from './params.js';

export const hubspotUpsertContact: Action<HubspotUpsertContactParams> = {
  name: 'hubspot.upsert_contact',
  params: hubspotUpsertContactParams,
  renderFormat: 'plain',
  connect() {
    throw new Error('hubspot.upsert_contact runner not built yet');
  },
};
