import type { Source } from '../source.js';
import { parseJsonBody } from '../parse-json-body.js';
import { verifyFirstPromoterToken } from './auth.js';
import { normalizeFirstPromoterDelivery } from './normalize.js';

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
};
