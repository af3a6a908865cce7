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
