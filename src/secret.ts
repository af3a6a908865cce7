import { createHash, timingSafeEqual } from 'node:crypto';
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
  const givenDigest = createHash('sha256').update(given).digest();
  const expectedDigest = createHash('sha256').update(expected).digest();
  return timingSafeEqual(givenDigest, expectedDigest);
}
