import { createHmac, timingSafeEqual } from 'node:crypto';
import { AuthError } from '../../errors.js';
import type { Secret } from '../../secret.js';
import type { BodylessDelivery, RawDelivery } from '../source.js';

/** Where Rewardful puts the signature (Node lowercases header names). */
export const REWARDFUL_SIGNATURE_HEADER = 'x-rewardful-signature';

/**
 * Checks `X-Rewardful-Signature`: the hex HMAC-SHA256 of the raw body bytes, keyed with the
 * endpoint's signing secret (REWARDFUL_SIGNING_SECRET). Runs before the body is parsed.
 *
 * @throws AuthError `signature_missing` when the header is absent or empty, `signature_malformed`
 *   when it is not 64 hex characters (or given twice), `signature_mismatch` when it does not match.
 */
export function verifyRewardfulSignature(delivery: RawDelivery, secret: Secret): void {
  // 1–2. The header is present, once, as 64 hex characters.
  const presented = readRewardfulSignature(delivery);

  // 3. The HMAC covers the raw bytes: re-serialising parsed JSON can reorder keys or change
  //    whitespace and break it, so the Buffer the HTTP layer read is hashed as is.
  const expected = createHmac('sha256', secret.reveal()).update(delivery.rawBody).digest();

  // 4. Compare the two 32-byte digests in constant time.
  if (!timingSafeEqual(presented, expected)) {
    throw new AuthError('signature_mismatch', 'X-Rewardful-Signature does not match the body');
  }
}

/**
 * The presented signature's 32 bytes, read without the body: the HTTP layer calls this before
 * reading the body (`verifyBeforeBody`), so a delivery without a well-formed signature costs no
 * buffering. Whether it matches needs the body: that is `verifyRewardfulSignature`'s step 3.
 *
 * @throws AuthError `signature_missing` when the header is absent or empty, `signature_malformed`
 *   when it is not 64 hex characters (or given twice).
 */
export function readRewardfulSignature(delivery: BodylessDelivery): Buffer {
  const header = delivery.headers[REWARDFUL_SIGNATURE_HEADER];

  // 1. The header must be present.
  if (header === undefined || header === '') {
    throw new AuthError('signature_missing', 'No X-Rewardful-Signature header');
  }

  // 2. It must be exactly one value of 64 hex characters (32 bytes). Rewardful sends lowercase;
  //    uppercase encodes the same bytes, and Buffer's hex decoding reads either case.
  if (typeof header !== 'string' || !/^[0-9a-fA-F]{64}$/.test(header)) {
    throw new AuthError('signature_malformed', 'X-Rewardful-Signature must be 64 hex characters');
  }
  return Buffer.from(header, 'hex');
}
