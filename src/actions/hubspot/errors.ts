import { IntegrationPausedError, PermanentActionError, RetryableActionError } from '../../errors.js';

/** What one HubSpot call saw on the wire; filled in by the client's middleware. */
export interface HubspotCallEvidence {
  /** HTTP status of the response, when one arrived. */
  readonly status?: number;
  /** Response headers (lower-case names), when a response arrived. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The raw response body of a non-2xx answer (the SDK's own parsing drops `policyName`). */
  readonly rawBody?: string;
  /** Whether the call's signal (ctx.signal, shutdown or the timeout) fired. */
  readonly isAborted?: boolean;
}

/** HubSpot's error body: `{ status: "error", message, correlationId, category, errors: [...] }`. */
export interface HubspotErrorBody {
  status?: string;
  message?: string;
  correlationId?: string;
  category?: string;
  subCategory?: string;
  errorType?: string;
  policyName?: string;
  errors?: Array<{ message?: string; code?: string; context?: unknown }>;
  /** In a 207's per-input errors: `{ objectWriteTraceId: ["<the input's id>"] }`. */
  context?: Record<string, unknown>;
}

/**
 * A permanent HubSpot failure with its HTTP status, so the batcher can tell a 400 that may concern
 * one input of a batch from a 401/403 that concerns them all.
 */
export class HubspotPermanentError extends PermanentActionError {
  readonly status: number;
  readonly correlationId?: string;
  /**
   * Properties a VALIDATION_ERROR names as the problem (PROPERTY_DOESNT_EXIST, READ_ONLY_VALUE,
   * INVALID_OPTION, ...): every input that carries one of them fails for the same reason, so the
   * batcher fails those without sending each alone.
   */
  readonly invalidProperties: readonly string[];

  constructor(code: string, message: string, status: number, correlationId?: string, invalidProperties: readonly string[] = []) {
    super(code, message);
    this.status = status;
    this.correlationId = correlationId;
    this.invalidProperties = invalidProperties;
  }
}

/**
 * The property names in HubSpot's `Property values were not valid: [{"name": ..., "error": ...}]`
 * message (the list is JSON inside the message text), except `email`: the upsert id, not a property
 * an input may drop.
 */
export function invalidPropertyNames(body: HubspotErrorBody): string[] {
  const message = body.message ?? '';
  const start = message.indexOf('[');
  if (start < 0) return [];
  try {
    const problems: unknown = JSON.parse(message.slice(start));
    if (!Array.isArray(problems)) return [];
    const names = problems
      .map((problem) => (problem as { name?: unknown }).name)
      .filter((name): name is string => typeof name === 'string' && name !== 'email');
    return [...new Set(names)];
  } catch {
    return [];
  }
}

/**
 * One input's error in a 207 multi-status answer (a StandardError: `{ status, category, message,
 * context: { objectWriteTraceId: [...] }, errors }`, HubSpot-public-api-spec-collection
 * PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json, BatchResponseSimplePublicUpsertObjectWithErrors).
 */
export function mapBatchInputError(error: HubspotErrorBody): HubspotPermanentError {
  return new HubspotPermanentError(validationCode(error), error.message ?? 'HubSpot refused this input', 207, undefined, invalidPropertyNames(error));
}

/**
 * Wait after a TEN_SECONDLY_ROLLING (or other short) 429 that carries neither Retry-After nor
 * X-HubSpot-RateLimit-Interval-Milliseconds, in ms: the whole ten-second window. The limit is a
 * rolling window (developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines, "Rate
 * limits"); without a hint when its oldest call leaves it, only waiting out the window is sure.
 */
export const HUBSPOT_DEFAULT_RATE_LIMIT_RETRY_MS = 10_000;

/**
 * Milliseconds from `now` to the next midnight UTC.
 *
 * HubSpot resets the DAILY limit "at midnight based on your time zone setting" (usage guidelines);
 * the client reads that time zone once from the account-info API and uses
 * {@link msUntilNextMidnightIn}; this is the fallback when it cannot be read.
 */
export function msUntilNextMidnightUtc(now: number): number {
  const date = new Date(now);
  const nextMidnight = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1);
  return nextMidnight - now;
}

/**
 * Milliseconds from `now` to the next midnight in `timeZone` (an IANA name such as `US/Eastern`, as
 * the account-info API's `timeZone` gives it); UTC when the zone is unknown to this runtime.
 */
export function msUntilNextMidnightIn(timeZone: string, now: number): number {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  } catch {
    return msUntilNextMidnightUtc(now);
  }
  // The zone's wall clock at `t`, read as if it were UTC: the difference to `t` is the offset.
  const wallClock = (t: number) => {
    const parts = Object.fromEntries(format.formatToParts(new Date(t)).map((part) => [part.type, part.value]));
    return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  };
  const local = new Date(wallClock(now));
  const localMidnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + 1);
  // Two rounds settle a DST change between now and midnight.
  let candidate = localMidnight - (wallClock(now) - Math.floor(now / 1000) * 1000);
  candidate = localMidnight - (wallClock(candidate) - candidate);
  return Math.max(0, candidate - now);
}

/** Reads a non-negative number header (`X-HubSpot-RateLimit-*`); undefined when absent or malformed. */
export function numberHeader(headers: Readonly<Record<string, string>> | undefined, name: string): number | undefined {
  const value = headers?.[name];
  if (value === undefined || value.trim() === '') return undefined;
  const number = Number(value);
  return Number.isFinite(number) && number >= 0 ? number : undefined;
}

/** Parses `Retry-After` given in seconds (HubSpot never sends an HTTP date here). */
function retryAfterMs(headers: Readonly<Record<string, string>> | undefined): number | undefined {
  const value = headers?.['retry-after'];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
}

/** Parses HubSpot's JSON error body; a non-JSON body (an HTML 502 page) yields `{}`. */
export function parseHubspotErrorBody(rawBody: string | undefined): HubspotErrorBody {
  if (!rawBody) return {};
  try {
    const parsed: unknown = JSON.parse(rawBody);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as HubspotErrorBody) : {};
  } catch {
    return {};
  }
}

/**
 * The most specific code in a VALIDATION_ERROR. HubSpot puts per-property results in `message` as
 * `Property values were not valid: [{"isValid":false,...,"error":"PROPERTY_DOESNT_EXIST",...}]`,
 * sometimes also in `errors[].code`.
 */
function validationCode(body: HubspotErrorBody): string {
  const fromErrors = body.errors?.find((error) => typeof error.code === 'string')?.code;
  if (fromErrors) return fromErrors;
  const embedded = /"error":"([A-Z_]+)"/.exec(body.message ?? '');
  if (embedded) return embedded[1];
  return body.category ?? 'VALIDATION_ERROR';
}

/**
 * Maps a failed HubSpot call to PermanentActionError / RetryableActionError, or IntegrationPausedError
 * for a 401/403. Only the status,
 * HubSpot's code and HubSpot's message survive: the SDK's ApiException, whose message embeds
 * response headers and body, is never kept as a `cause`.
 * @param now the clock, for a DAILY limit's wait until midnight.
 * @param timeZone the account's time zone, in which the DAILY limit resets. @defaultValue UTC
 */
export function mapHubspotError(
  error: unknown,
  evidence: HubspotCallEvidence,
  now: number,
  timeZone = 'UTC',
): PermanentActionError | RetryableActionError | IntegrationPausedError {
  if (error instanceof PermanentActionError || error instanceof RetryableActionError || error instanceof IntegrationPausedError) return error;
  const { status } = evidence;

  if (status !== undefined && status >= 300) {
    const body = parseHubspotErrorBody(evidence.rawBody);
    const hubspotMessage = body.message ?? `HTTP ${status}`;
    const suffix = body.correlationId ? ` (correlationId ${body.correlationId})` : '';

    if (status === 429) {
      if (body.policyName === 'DAILY') {
        return new RetryableActionError('rate_limit_daily', `HubSpot daily API limit reached: ${hubspotMessage}`, {
          isRateLimit: true,
          retryAfterMs: msUntilNextMidnightIn(timeZone, now),
        });
      }
      const code = body.policyName === 'TEN_SECONDLY_ROLLING' ? 'rate_limit_ten_secondly' : 'rate_limited';
      return new RetryableActionError(code, `HubSpot rate limit: ${hubspotMessage}`, {
        isRateLimit: true,
        // Retry-After when HubSpot sends one; else the window the rate-limit headers name; else ten seconds.
        retryAfterMs:
          retryAfterMs(evidence.headers) ??
          numberHeader(evidence.headers, 'x-hubspot-ratelimit-interval-milliseconds') ??
          HUBSPOT_DEFAULT_RATE_LIMIT_RETRY_MS,
      });
    }
    if (status >= 500 || status === 408) {
      return new RetryableActionError(`http_${status}`, `HubSpot answered HTTP ${status}${suffix}`);
    }
    if (status === 400 || status === 422) {
      return new HubspotPermanentError(validationCode(body), `${hubspotMessage}${suffix}`, status, body.correlationId, invalidPropertyNames(body));
    }
    if (status === 409) {
      // `{"status":"error","message":"Contact already exists. Existing ID: 12345","category":"CONFLICT"}`
      // (HubSpot/hubspot-api-nodejs#545): a batch upsert answers it for the whole batch.
      return new HubspotPermanentError('conflict', `HubSpot reported a conflict: ${hubspotMessage}${suffix}`, status, body.correlationId);
    }
    // 401 (the token is invalid, expired or revoked) and 403 (the app lacks a scope, MISSING_SCOPES)
    // concern the token, not this contact: every call would fail alike, so the integration pauses
    // until a probe succeeds (https://developers.hubspot.com/docs/api-reference/error-handling).
    if (status === 401) {
      return new IntegrationPausedError('unauthorized', `HubSpot rejected the access token: ${hubspotMessage}`);
    }
    if (status === 403) {
      return new IntegrationPausedError('forbidden', `HubSpot denied access (missing scope?): ${hubspotMessage}`);
    }
    if (status === 404) {
      return new HubspotPermanentError('not_found', `HubSpot answered 404: ${hubspotMessage}`, status, body.correlationId);
    }
    return new HubspotPermanentError(`http_${status}`, `HubSpot answered HTTP ${status}: ${hubspotMessage}`, status, body.correlationId);
  }

  if (evidence.isAborted) return new RetryableActionError('timeout', 'the HubSpot call timed out or was aborted');

  // node-fetch's FetchError: `type: "system"` with the socket's errno code (ECONNREFUSED, ...).
  const fetchError = error as { name?: unknown; type?: unknown; code?: unknown } | null;
  if (fetchError && fetchError.name === 'FetchError') {
    const systemCode = typeof fetchError.code === 'string' ? fetchError.code : String(fetchError.type);
    return new RetryableActionError('network_error', `the HubSpot call failed before an answer (${systemCode})`);
  }
  const name = error instanceof Error ? error.name : typeof error;
  return new RetryableActionError('unexpected_error', `the HubSpot call failed unexpectedly (${name})`);
}
