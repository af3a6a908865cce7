import { AuthError, MalformedDeliveryError, StorageUnavailableError, UnsupportedEncodingError } from '../errors.js';
import type { WebhookOutcome } from '../observability/metrics.js';

export interface ErrorAnswer {
  readonly status: number;
  readonly body: { readonly error: string };
  readonly outcome: WebhookOutcome;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Seconds a provider is asked to wait before retrying while storage is down. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * The one place an error becomes an HTTP answer. Auth failures say nothing about why (the reason is
 * logged at debug); malformed bodies say exactly what is wrong; storage failures never answer 2xx.
 */
export function mapErrorToAnswer(error: unknown): ErrorAnswer {
  if (error instanceof AuthError) {
    return { status: 401, body: { error: 'Unauthorized' }, outcome: 'unauthorized' };
  }
  if (error instanceof MalformedDeliveryError) {
    return { status: 400, body: { error: error.message }, outcome: 'invalid' };
  }
  if (error instanceof UnsupportedEncodingError) {
    return { status: 415, body: { error: error.message }, outcome: 'invalid' };
  }
  if (error instanceof StorageUnavailableError) {
    return {
      status: 503,
      body: { error: 'The event could not be stored; retry later' },
      outcome: 'unavailable',
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    };
  }
  const type = (error as { type?: string } | null)?.type;
  if (type === 'entity.too.large') {
    return { status: 413, body: { error: 'Body is larger than BODY_LIMIT' }, outcome: 'too_large' };
  }
  // body-parser's own refusal of a compressed body (`inflate: false`), should a request reach it.
  if (type === 'encoding.unsupported') {
    return { status: 415, body: { error: 'Content-Encoding is not accepted: send the body uncompressed' }, outcome: 'invalid' };
  }
  if (typeof type === 'string' && type.startsWith('encoding.') || type === 'charset.unsupported') {
    return { status: 400, body: { error: 'Body has an unsupported encoding' }, outcome: 'invalid' };
  }
  if (type === 'request.aborted' || type === 'request.size.invalid') {
    return { status: 400, body: { error: 'Body was incomplete' }, outcome: 'invalid' };
  }
  return { status: 500, body: { error: 'Internal error' }, outcome: 'unavailable' };
}
