import type { Source } from '../source.js';
import { checkEventAgainst } from '../check-event.js';
import { parseJsonBody } from '../parse-json-body.js';
import { verifyFirstPromoterToken } from './auth.js';
import { normalizeFirstPromoterDelivery } from './normalize.js';
import { classicDataSchemas, v2DataSchemas, v2EnvelopeSchema, type ClassicEventType, type V2EventType } from './schemas.js';

/**
 * FirstPromoter webhooks, classic and v2. Answered with 202 once stored: a 200 to
 * `fulfilment_pending` would tell FirstPromoter the reward has been fulfilled.
 */
export const firstpromoter: Source = {
  name: 'firstpromoter',
  successStatus: 202,
  verify(delivery, secret) {
    if (secret !== null) verifyFirstPromoterToken(delivery, secret);
    return parseJsonBody(delivery.rawBody);
  },
  normalize: normalizeFirstPromoterDelivery,
  checkSchema(event) {
    // Classic types are single words (lead_signup); v2 types are dotted (referral.created).
    if (Object.hasOwn(classicDataSchemas, event.providerType)) {
      return checkEventAgainst({ data: classicDataSchemas[event.providerType as ClassicEventType] }, event);
    }
    if (Object.hasOwn(v2DataSchemas, event.providerType)) {
      return checkEventAgainst({ data: v2DataSchemas[event.providerType as V2EventType], envelope: v2EnvelopeSchema }, event);
    }
    return checkEventAgainst(null, event);
  },
};
