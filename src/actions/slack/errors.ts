import { IntegrationPausedError, PermanentActionError, RetryableActionError } from '../../errors.js';
import { getLoadedSlackSdk } from './sdk.js';

/**
 * `ok:false` codes that Slack documents as transient (chat.postMessage "Errors" and the common
 * Web API errors): a later retry may succeed. `fatal_error` is in here although Slack warns that
 * "some aspect of the operation" may have succeeded: a rare duplicate message beats a lost alert.
 */
export const SLACK_RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'internal_error',
  'service_unavailable',
  'fatal_error',
  'request_timeout',
  'ratelimited',
  'rate_limited',
  'team_added_to_org',
]);

/**
 * `ok:false` codes that no retry can fix: the channel, the token or the message itself is wrong.
 * Listed so the intent is explicit; any other unknown code is treated the same way (see below).
 */
export const SLACK_PERMANENT_CODES: ReadonlySet<string> = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'not_allowed_token_type',
  'no_permission',
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'no_text',
  'too_many_attachments',
  'restricted_action',
  'restricted_action_read_only_channel',
  'restricted_action_thread_only_channel',
  'restricted_action_non_threadable_channel',
  'cannot_reply_to_message',
  'ekm_access_denied',
  'access_denied',
  'as_user_not_supported',
  'duplicate_channel_not_found',
  'invalid_arguments',
  'invalid_arg_name',
  'invalid_array_arg',
  'invalid_charset',
  'invalid_form_data',
  'invalid_post_type',
  'missing_post_type',
  'method_deprecated',
  'deprecated_endpoint',
  'two_factor_setup_required',
  'enterprise_is_restricted',
  'accesslimited',
]);

/**
 * `ok:false` codes that say the token itself no longer works, for every channel and every message
 * (chat.postMessage and auth.test "Errors", https://docs.slack.dev/reference/methods/chat.postMessage,
 * https://docs.slack.dev/reference/methods/auth.test): `invalid_auth` ("some aspect of
 * authentication cannot be validated"), `not_authed`, `token_revoked`, `token_expired`,
 * `account_inactive` (the bot user or workspace was deactivated) and `missing_scope` (the token
 * lacks `chat:write`). Failing each job on them would dead-letter every alert one by one; they pause
 * the integration instead until `auth.test` answers ok again.
 */
export const SLACK_PAUSING_CODES: ReadonlySet<string> = new Set([
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'account_inactive',
  'missing_scope',
]);

/**
 * `org_login_required`: "The workspace is undergoing an enterprise migration and will not be
 * available until migration is complete." Temporary, but for minutes to hours: the retry waits at
 * least this long (and still spends attempts, so a migration that never ends does dead-letter).
 */
export const SLACK_ORG_LOGIN_RETRY_MS = 10 * 60_000;

/** The Retry-After Slack sends with `ratelimited` is whole seconds; without one we wait this long. */
const DEFAULT_RATE_LIMIT_RETRY_MS = 1_000;

/**
 * Classifies one `ok:false` error code. Unknown codes are permanent: Slack documents its transient
 * failures as a short, stable list (above), every other documented code describes the token, the
 * channel or the message, none of which a retry changes; retrying a new code blindly would spend
 * the whole retry budget (hours) on a job that keeps failing, and each attempt might post.
 */
export function isRetryableSlackCode(code: string): boolean {
  return SLACK_RETRYABLE_CODES.has(code);
}

/**
 * Maps anything the Slack SDK throws to PermanentActionError, RetryableActionError or (token
 * trouble) IntegrationPausedError. The result
 * never carries the SDK error as `cause`: SDK errors hold response headers and the original fetch
 * error, and we want a chain that is provably free of credentials. Only status, code and a message
 * built here survive.
 * @param seen what the call saw: whether its signal fired, the HTTP status of the last response.
 */
export function mapSlackError(
  error: unknown,
  seen: { readonly isAborted?: boolean; readonly lastStatus?: number } = {},
): PermanentActionError | RetryableActionError | IntegrationPausedError {
  const { isAborted = false, lastStatus } = seen;
  if (error instanceof PermanentActionError || error instanceof RetryableActionError || error instanceof IntegrationPausedError) return error;
  // The SDK's errors can only come from the SDK: before it is loaded, none of them applies.
  const sdk = getLoadedSlackSdk();

  if (sdk && error instanceof sdk.WebAPIRateLimitedError) {
    // HTTP 429: Retry-After is seconds; rejectRateLimitedCalls makes the SDK hand it to us at once.
    return new RetryableActionError('ratelimited', `Slack answered 429 ratelimited (retry after ${error.retryAfter} s)`, {
      isRateLimit: true,
      retryAfterMs: Math.max(0, error.retryAfter) * 1000,
    });
  }

  if (sdk && error instanceof sdk.WebAPIPlatformError) {
    const code = typeof error.data?.error === 'string' ? error.data.error : 'unknown_error';
    const message = `Slack answered ok:false ${code}`;
    if (code === 'ratelimited' || code === 'rate_limited') {
      const retryAfterSeconds = error.data.response_metadata?.retryAfter;
      return new RetryableActionError(code, message, {
        isRateLimit: true,
        retryAfterMs: retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : DEFAULT_RATE_LIMIT_RETRY_MS,
      });
    }
    if (SLACK_PAUSING_CODES.has(code)) return new IntegrationPausedError(code, `${message}: the Slack token no longer works`);
    if (code === 'org_login_required') return new RetryableActionError(code, message, { retryAfterMs: SLACK_ORG_LOGIN_RETRY_MS });
    if (isRetryableSlackCode(code)) return new RetryableActionError(code, message);
    return new PermanentActionError(code, message);
  }

  if (sdk && error instanceof sdk.WebAPIHTTPError) {
    // Slack answers 200 for API errors; anything else comes from the edge (5xx) or a proxy.
    const status = error.statusCode;
    const message = `Slack answered HTTP ${status}`;
    if (status >= 500 || status === 408) return new RetryableActionError(`http_${status}`, message);
    return new PermanentActionError(`http_${status}`, message);
  }

  if (isAborted || isAbortLike(error)) {
    return new RetryableActionError('timeout', 'the Slack call timed out or was aborted');
  }

  if (sdk && error instanceof sdk.WebAPIRequestError) {
    const original = error.original as { cause?: { code?: unknown } } | undefined;
    const systemCode = typeof original?.cause?.code === 'string' ? original.cause.code : 'network_error';
    return new RetryableActionError('network_error', `the Slack call failed before an answer (${systemCode})`);
  }

  if (lastStatus === 429) {
    // HTTP 429 without a usable Retry-After (the SDK throws a plain Error for it): still a rate
    // limit, come back after a second.
    return new RetryableActionError('ratelimited', 'Slack answered 429 without a valid Retry-After', {
      isRateLimit: true,
      retryAfterMs: DEFAULT_RATE_LIMIT_RETRY_MS,
    });
  }

  const name = error instanceof Error ? error.name : typeof error;
  return new RetryableActionError('unexpected_error', `the Slack call failed unexpectedly (${name})`);
}

function isAbortLike(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth += 1) {
    const name = (current as { name?: unknown }).name;
    if (name === 'AbortError' || name === 'TimeoutError') return true;
    current = (current as { original?: unknown; cause?: unknown }).original ?? (current as { cause?: unknown }).cause;
  }
  return false;
}
