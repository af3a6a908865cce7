import { createHmac, randomUUID } from 'node:crypto';
import { secretVariable, urlVariable } from '../../config/env-variable.js';
import { isJsonObject } from '../schema-fields.js';
import { parseJsonBody } from '../parse-json-body.js';
import { defineSource } from '../source.js';
import { normalizeRewardfulAffiliate } from './affiliate.js';
import { REWARDFUL_API_URL } from './api-client.js';
import { normalizeRewardfulDelivery, REWARDFUL_IDENTITY } from './normalize.js';
import { rewardfulReconciliation } from './reconcile.js';
import { REWARDFUL_EVENT_TYPES, rewardfulObjectSchemas, type RewardfulEventType } from './schemas.js';
import { readRewardfulSignature, REWARDFUL_SIGNATURE_HEADER, verifyRewardfulSignature } from './signature.js';

/** Rewardful webhooks. Answered with 200 once stored: Rewardful counts any other code as a failure. */
export const rewardful = defineSource({
  ...REWARDFUL_IDENTITY,
  successStatus: 200,
  env: {
    REWARDFUL_SIGNING_SECRET: secretVariable('HMAC-SHA256 key of X-Rewardful-Signature; unset: 401 to every delivery.'),
    REWARDFUL_API_SECRET: secretVariable('API Secret of Rewardful\'s REST API (Company Settings), sent as the Basic auth username; turns on reconciliation; unset: Rewardful is never reconciled.'),
    REWARDFUL_API_URL: urlVariable('Base URL of Rewardful\'s REST API v1 (tests point it at a fake).', REWARDFUL_API_URL),
  },
  webhookSecret: 'REWARDFUL_SIGNING_SECRET',
  redact: [`req.headers["${REWARDFUL_SIGNATURE_HEADER}"]`, `headers["${REWARDFUL_SIGNATURE_HEADER}"]`],
  // Webhook objects are "identical in structure to the REST API representation" of the version in
  // `event.api_version`; the schemas follow v1, the one developers.rewardful.com/webhooks/requests
  // shows. Another version is stored and planned as usual, and the HTTP layer warns once about it.
  apiVersion: {
    documented: ['v1'],
    read: (event) => event.envelope?.api_version,
  },
  // Rewardful objects carry no credentials of their own.
  strippedFields: [],
  eventTypes: REWARDFUL_EVENT_TYPES,
  // `{ object, event: { id, type, created_at }, request }`.
  recognize: (body) => 'object' in body && ('request' in body || 'event' in body),
  envelopeDescription: 'a Rewardful object',
  // Whether the signature matches needs the body, but whether there is one does not.
  verifyBeforeBody: (delivery) => void readRewardfulSignature(delivery),
  verify(delivery, secret) {
    // The signature is checked on the raw bytes before anything is parsed.
    if (secret !== null) verifyRewardfulSignature(delivery, secret);
    return parseJsonBody(delivery.rawBody);
  },
  normalize: normalizeRewardfulDelivery,
  normalizeAffiliate: normalizeRewardfulAffiliate,
  schemasFor(providerType) {
    return Object.hasOwn(rewardfulObjectSchemas, providerType)
      ? { data: rewardfulObjectSchemas[providerType as RewardfulEventType] }
      : null;
  },
  example: {
    renewEventId(delivery) {
      if (isJsonObject(delivery.event)) delivery.event.id = randomUUID();
    },
    authenticate: (rawBody, secret) => ({ 'X-Rewardful-Signature': createHmac('sha256', secret).update(rawBody).digest('hex') }),
  },
  reconciliation: rewardfulReconciliation,
});
