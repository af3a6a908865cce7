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
   * Turns a verified body into the bridge's event, cheaply enough for the intake's hot path: the
   * envelope is read, secrets stripped and depth bounded. A body with no recognisable envelope (no
   * event id or type) throws MalformedDeliveryError. An unknown type, an unreadable timestamp, a
   * payload nested too deep or an array too long to check gives `status: 'quarantined'` with
   * `validationErrors`. The payload's schema is NOT checked here: see `checkSchema`.
   */
  normalize(body: Record<string, unknown>, options: NormalizeOptions): BridgeEvent;
  /**
   * Checks a normalised event's payload against its type's schema and returns every problem
   * (empty when valid). This is the expensive part (yup, ~0.2 ms for a seed payload), so the
   * events worker runs it, not the HTTP intake: see sources/check-event.ts.
   */
  checkSchema(event: BridgeEvent): string[];
}
