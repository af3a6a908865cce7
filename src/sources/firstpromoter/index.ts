import { randomInt, randomUUID } from 'node:crypto';
import { choiceVariable, secretVariable, textVariable, urlVariable } from '../../config/env-variable.js';
import { parseJsonBody } from '../parse-json-body.js';
import { isJsonObject } from '../schema-fields.js';
import { defineSource } from '../source.js';
import { FIRSTPROMOTER_API_URL } from './api-client.js';
import { verifyFirstPromoterToken } from './auth.js';
import { normalizeFirstPromoterAffiliate } from './affiliate.js';
import { firstPromoterReconciliation } from './reconcile.js';
import { FIRSTPROMOTER_IDENTITY, normalizeFirstPromoterDelivery, TEST_DELIVERY_TYPE_PREFIX } from './normalize.js';
import {
  CLASSIC_EVENT_TYPES,
  classicDataSchemas,
  V2_EVENT_TYPES,
  v2DataSchemas,
  v2EnvelopeSchema,
  type ClassicEventType,
  type V2EventType,
} from './schemas.js';

/**
 * Fields FirstPromoter puts in every promoter object that must never be stored: the promoter's
 * dashboard token and their temporary password.
 */
export const FIRSTPROMOTER_SECRET_FIELDS: readonly string[] = ['auth_token', 'temp_password'];

/**
 * What the bridge answers a stored `fulfilment_pending` delivery. FirstPromoter reads the status
 * (docs.firstpromoter.com/webhooks/deliveries, "The fulfilment_pending response protocol"): 200
 * marks the reward fulfilled; any other 2xx keeps it pending, and the event fires again at the next
 * fulfilment check; anything else is an error, retried up to 7 times through the day.
 */
export type FulfilmentAnswer = 'pending' | 'fulfilled';

/**
 * FirstPromoter webhooks, classic and v2. Answered with 202 once stored, so a reward stays pending
 * in FirstPromoter; with FIRSTPROMOTER_FULFILMENT_ANSWER=fulfilled a stored `fulfilment_pending`
 * gets 200, which tells FirstPromoter the reward has been fulfilled.
 */
export const firstpromoter = defineSource({
  ...FIRSTPROMOTER_IDENTITY,
  successStatus: 202,
  env: {
    FIRSTPROMOTER_WEBHOOK_TOKEN: secretVariable(
      'Shared token FirstPromoter sends (?token=, Bearer, or Basic password); unset: 401 to every delivery.',
    ),
    FIRSTPROMOTER_FULFILMENT_ANSWER: choiceVariable<FulfilmentAnswer>(
      'fulfilment_pending answer: pending (202, the reward stays pending and FirstPromoter fires again at its next check) or fulfilled (200 once stored: FirstPromoter marks the reward fulfilled).',
      ['pending', 'fulfilled'],
      'pending',
    ),
    FIRSTPROMOTER_API_KEY: secretVariable(
      'API key of FirstPromoter\'s REST API v2 (Settings → Integrations → Manage API Keys); with FIRSTPROMOTER_ACCOUNT_ID it turns on reconciliation; unset: FirstPromoter is never reconciled.',
    ),
    FIRSTPROMOTER_ACCOUNT_ID: textVariable('Account ID sent as the Account-ID header of FirstPromoter\'s REST API (Settings → Integrations); needed with FIRSTPROMOTER_API_KEY.'),
    FIRSTPROMOTER_API_URL: urlVariable('Base URL of FirstPromoter\'s REST API v2 (tests point it at a fake).', FIRSTPROMOTER_API_URL),
  },
  // Only a stored fulfilment_pending gets the 200 (the HTTP layer asks only once it is stored):
  // every other type keeps 202, whose meaning FirstPromoter never overloads.
  successStatusFor: (event, settings) =>
    event.providerType === 'fulfilment_pending' && settings.FIRSTPROMOTER_FULFILMENT_ANSWER === 'fulfilled' ? 200 : 202,
  webhookSecret: 'FIRSTPROMOTER_WEBHOOK_TOKEN',
  // The token travels in the Authorization header or the query string (see auth.ts).
  redact: ['req.headers.authorization', 'headers.authorization', 'query.token'],
  strippedFields: FIRSTPROMOTER_SECRET_FIELDS,
  eventTypes: [...CLASSIC_EVENT_TYPES, ...V2_EVENT_TYPES],
  testEventTypes: V2_EVENT_TYPES.map((type) => `${TEST_DELIVERY_TYPE_PREFIX}${type}`),
  // Classic `{ event, data }`; v2 `{ event_id, event_type, action, entity_type, data, … }`.
  recognize: (body) => 'data' in body && ('event' in body || 'action' in body || 'entity_type' in body),
  envelopeDescription: 'a FirstPromoter data envelope',
  // The token is all there is to check, and it travels outside the body: a delivery without it is
  // refused before a byte of the body is read.
  verifyBeforeBody: verifyFirstPromoterToken,
  verify(delivery, secret) {
    if (secret !== null) verifyFirstPromoterToken(delivery, secret);
    return parseJsonBody(delivery.rawBody);
  },
  normalize: normalizeFirstPromoterDelivery,
  normalizeAffiliate: normalizeFirstPromoterAffiliate,
  schemasFor(providerType) {
    // Classic types are single words (lead_signup); v2 types are dotted (referral.created).
    if (Object.hasOwn(classicDataSchemas, providerType)) return { data: classicDataSchemas[providerType as ClassicEventType] };
    if (Object.hasOwn(v2DataSchemas, providerType)) return { data: v2DataSchemas[providerType as V2EventType], envelope: v2EnvelopeSchema };
    return null;
  },
  example: {
    renewEventId(delivery) {
      // Classic ids are integers; a v2 envelope keeps its id beside the payload.
      if (isJsonObject(delivery.event)) delivery.event.id = randomInt(100_000_000, 999_999_999);
      else if (delivery.event_id !== undefined) delivery.event_id = randomUUID();
    },
    authenticate: (_rawBody, token) => ({ Authorization: `Bearer ${token}` }),
  },
  reconciliation: firstPromoterReconciliation,
});
