import type { Source } from '../source.js';
import { parseJsonBody } from '../parse-json-body.js';
import { normalizeRewardfulDelivery } from './normalize.js';
import { verifyRewardfulSignature } from './signature.js';

/** Rewardful webhooks. Answered with 200 once stored: Rewardful counts any other code as a failure. */
export const rewardful: Source = {
  name: 'rewardful',
  successStatus: 200,
  verify(delivery, secret) {
    // The signature is checked on the raw bytes before anything is parsed.
    if (secret !== null) verifyRewardfulSignature(delivery, secret);
    return parseJsonBody(delivery.rawBody);
  },
  normalize: normalizeRewardfulDelivery,
};
