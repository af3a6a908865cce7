/**
 * One base error for the bridge. Retry intent and HTTP meaning live in the subclass, never
 * in the message text: callers branch on `instanceof` or `code`.
 */
export class BridgeError extends Error {
  /** A stable, machine-readable code, e.g. `auth_signature_mismatch` or `channel_not_found`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad or missing credentials on a delivery. Answered with 401; the reason is logged at debug only. */
export class AuthError extends BridgeError {}

/**
 * A delivery that cannot be read as a provider envelope (not JSON, not an object, no event id or
 * type). Answered with 400 and the message; nothing is stored.
 */
export class MalformedDeliveryError extends BridgeError {}

/**
 * A delivery whose body is compressed (`Content-Encoding` other than `identity`). The providers
 * never compress, and inflating an unauthenticated body is how 14 bytes of brotli become megabytes:
 * answered with 415 before the body is read; nothing is stored.
 */
export class UnsupportedEncodingError extends BridgeError {}

/** Redis could not store the event. Answered with 503 and `Retry-After`; never a 2xx. */
export class StorageUnavailableError extends BridgeError {}

/** An operator asked for a job or event the bridge does not keep (unknown id, or expired). */
export class NotFoundError extends BridgeError {}

/** An operator asked for something the job's state does not allow (retrying one that has not failed). */
export class StateConflictError extends BridgeError {}

/** A configuration value is wrong; start-up stops with one line per problem. */
export class ConfigError extends BridgeError {
  constructor(readonly problems: string[]) {
    super('config_invalid', problems.join('\n'));
  }
}

/** The action can never succeed as asked (bad params, 4xx, Slack `channel_not_found`): fail at once. */
export class PermanentActionError extends BridgeError {}

/**
 * The action may succeed later (5xx, network, timeout, 429). `retryAfterMs`, when set, is when the
 * remote side said to come back; a rate limit with `retryAfterMs` does not spend an attempt.
 */
export class RetryableActionError extends BridgeError {
  readonly retryAfterMs?: number;
  readonly isRateLimit: boolean;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; retryAfterMs?: number; isRateLimit?: boolean } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
    this.isRateLimit = options.isRateLimit ?? false;
  }
}

/**
 * The integration's credentials no longer work (Slack `invalid_auth`, `token_revoked`, HubSpot
 * 401/403): no job of this integration can succeed until an operator fixes the token, so the
 * integration is paused instead of dead-lettering every job one by one. The actions worker records
 * the pause in Redis (shared by all workers), delays the job without spending an attempt, and
 * resumes once the integration's probe succeeds. `code` is the remote side's reason
 * (`invalid_auth`), shown as `slack: paused (invalid_auth)`.
 */
export class IntegrationPausedError extends BridgeError {}
