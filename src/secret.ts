import { hash, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';

/**
 * Wraps a credential so that it cannot leak by accident: string conversion, JSON, `util.inspect`
 * and pino all print `[secret]`. Only `reveal()` returns the value, at the one place that needs it.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [inspect.custom](): string {
    return '[secret]';
  }
}

/**
 * Compares a presented credential with the expected one in constant time. Both sides are hashed
 * first: the digests have one length, so `timingSafeEqual` never throws on a value of another
 * length, and neither the length nor a common prefix of the expected value leaks through timing.
 * (A string is hashed as UTF-8, `update`'s default.)
 */
export function isSameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(hash('sha256', given, 'buffer'), digestExpected(expected));
}

/**
 * Digests of expected values: the configured secrets, few and compared on every webhook (twice:
 * before the body and in `verify`). Kept, they cost one hash per comparison instead of two. The
 * values themselves are in memory anyway; the cap only bounds a caller comparing many.
 */
const expectedDigests = new Map<string, Buffer>();
const MAX_KEPT_EXPECTED_DIGESTS = 32;

function digestExpected(expected: string): Buffer {
  const kept = expectedDigests.get(expected);
  // Stryker disable next-line ConditionalExpression: hashing again gives the same digest; keeping it only saves the work.
  if (kept) return kept;
  const digest = hash('sha256', expected, 'buffer');
  if (expectedDigests.size < MAX_KEPT_EXPECTED_DIGESTS) expectedDigests.set(expected, digest);
  return digest;
}
