import type { BridgeEvent, SourceName } from '../events/event.js';
import type { Secret } from '../secret.js';

/** What the HTTP layer hands a source: the raw bytes and the request's headers and query. */
export interface RawDelivery {
  readonly rawBody: Buffer;
  /** Header names lowercased, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query: Readonly<Record<string, unknown>>;
}

export interface NormalizeOptions {
  /** When the delivery arrived; passed in so normalising stays pure. */
  readonly receivedAt: Date;
  /**
   * Dotted paths removed from `data` (and the envelope) before the event goes anywhere, e.g.
   * `promoter.auth_token`. A path matches at any depth of the payload (see strip-secrets.ts).
   */
  readonly strippedFields: readonly string[];
}

/**
 * One webhook provider. `verify` runs first, on the raw bytes, and is the only way to get a parsed
 * body, so an unverified body cannot travel further by mistake.
 */
export interface Source {
  readonly name: SourceName;
  /** The 2xx this provider must get once the event is stored (FirstPromoter 202, Rewardful 200). */
  readonly successStatus: 200 | 202;
  /**
   * 1. Authenticates the delivery against `secret` in constant time (skipped only when `secret` is
   *    null, which the HTTP layer allows solely with ALLOW_UNSIGNED_WEBHOOKS=true).
   * 2. Parses the raw body as JSON.
   * @returns the parsed body.
   * @throws AuthError with a specific code (missing, mismatch…) when authentication fails.
   * @throws MalformedDeliveryError when the body is not JSON or not an object.
   */
  verify(delivery: RawDelivery, secret: Secret | null): Record<string, unknown>;
  /**
   * Turns a verified body into the bridge's event. A body with no recognisable envelope (no event
   * id or type) throws MalformedDeliveryError. A recognisable envelope that fails its schema, or
   * has an unknown type, is returned with `status: 'quarantined'` and `validationErrors`.
   */
  normalize(body: Record<string, unknown>, options: NormalizeOptions): BridgeEvent;
}
