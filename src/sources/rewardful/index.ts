import type { Source } from '../source.js';
import { checkEventAgainst } from '../check-event.js';
import { parseJsonBody } from '../parse-json-body.js';
import { normalizeRewardfulDelivery } from './normalize.js';
import { rewardfulObjectSchemas, type RewardfulEventType } from './schemas.js';
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
  checkSchema(event) {
    const schema = Object.hasOwn(rewardfulObjectSchemas, event.providerType)
      ? rewardfulObjectSchemas[event.providerType as RewardfulEventType]
      : null;
    return checkEventAgainst(schema ? { data: schema } : null, event);
  },
};
