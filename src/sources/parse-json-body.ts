import { MalformedDeliveryError } from '../errors.js';

// `fatal: true` makes invalid byte sequences throw instead of turning into U+FFFD, so a body that
// is not UTF-8 is reported as such rather than parsed into something the provider never sent.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Longest parser reason quoted back in a 400 answer. */
const MAX_REASON_LENGTH = 80;

/**
 * Parses a webhook's raw body as a JSON object. Call it only after the delivery is authenticated.
 *
 * The value comes straight from `JSON.parse`, which defines every key (even `__proto__`) as an own
 * data property, so parsing never touches `Object.prototype`. V8's parser is not recursive: bodies
 * nested 10,000 deep or holding a million-element array parse without a stack overflow. Whoever
 * walks the result must be iterative or depth-bounded too (see `copyPayload`).
 *
 * @throws MalformedDeliveryError `body_not_json` when the body is empty, not UTF-8 or not JSON;
 *   `body_not_object` when it is JSON but not an object (an array, a string, null…).
 */
export function parseJsonBody(rawBody: Buffer): Record<string, unknown> {
  if (rawBody.length === 0) {
    throw new MalformedDeliveryError('body_not_json', 'Body is not valid JSON: the body is empty');
  }
  let text: string;
  try {
    text = utf8.decode(rawBody);
  } catch (error) {
    throw new MalformedDeliveryError('body_not_json', 'Body is not valid JSON: the body is not valid UTF-8', {
      cause: error,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MalformedDeliveryError('body_not_json', `Body is not valid JSON: ${describeSyntaxError(error)}`, {
      cause: error,
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MalformedDeliveryError('body_not_object', `Body must be a JSON object, got ${describeJsonKind(value)}`);
  }
  return value as Record<string, unknown>;
}

/** `an array`, `a string`, `null`…: the kind of a parsed JSON value, for messages. */
function describeJsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function describeSyntaxError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // V8 quotes the start of the input after the token (`Unexpected token 'a', "abc…" is not valid
  // JSON`). The body may carry personal data and this reason goes back in the 400 answer: cut it.
  const reason = (message.split(', "')[0] ?? message).replace(' in JSON', '').trim();
  const short = reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH)}…` : reason;
  return short.charAt(0).toLowerCase() + short.slice(1);
}
