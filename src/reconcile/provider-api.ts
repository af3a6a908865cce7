import { BridgeError } from '../errors.js';
import type { ApiClientRuntime } from './reconciliation.js';

/**
 * A provider's REST API answered in a way that a later run may get past (429, 5xx, network error,
 * timeout), after this run's own retries were spent. The run fails; its watermark stays, so the
 * next run covers the same span again.
 */
export class RetryableProviderApiError extends BridgeError {
  constructor(
    code: string,
    message: string,
    readonly status: number | null,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * A provider's REST API refused the request for a reason no retry fixes (401: the API key or
 * account id is wrong; 403; 404; 400). The run fails at once with the provider's status.
 */
export class PermanentProviderApiError extends BridgeError {
  constructor(
    code: string,
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }
}

/**
 * Retries of one request: 6 tries over about 30 s (1, 2, 4, 8, 15 s), unless the provider says
 * when to come back (`Retry-After`, `RateLimit-Reset`).
 */
export const PROVIDER_API_RETRY = Object.freeze({ attempts: 6, baseDelayMs: 1_000, maxDelayMs: 15_000 });

/** A provider's request budget: at most `requests` per `intervalMs`, the documented limit or under. */
export interface RequestBudget {
  readonly requests: number;
  readonly intervalMs: number;
}

/** Options of {@link ProviderApiClient}. */
export interface ProviderApiClientOptions {
  /** For messages: `FirstPromoter`. */
  readonly title: string;
  /** The API's base URL, e.g. `https://api.firstpromoter.com/api/v2/company`; paths are appended. */
  readonly baseUrl: string;
  /**
   * The headers that authenticate a request. A function, so the secret is revealed only while the
   * request is built and never kept in a field that a log or an error could print.
   */
  readonly authenticate: () => Record<string, string>;
  /** The pace this client keeps (one run at a time per source, so per-process pacing is enough). */
  readonly budget: RequestBudget;
  /** When a 429 says nothing about when to come back: the provider's rate-limit window, in ms. */
  readonly rateLimitWindowMs: number;
  /** The clock, the sleep, the timeout and the retry settings. */
  readonly runtime: ApiClientRuntime;
}

/**
 * The thin shell around one provider's REST API: GETs JSON, paces itself under the provider's
 * documented rate limit, and retries 429 and 5xx with backoff (honouring `Retry-After` and the
 * `RateLimit-Reset` of draft-polli-ratelimit-headers). Errors carry their retry intent in their type
 * and never the credentials.
 */
export class ProviderApiClient {
  readonly #options: ProviderApiClientOptions;
  /** Start times of the latest requests, at most `budget.requests` of them. */
  readonly #recent: number[] = [];

  constructor(options: ProviderApiClientOptions) {
    if (!options.baseUrl) throw new TypeError('ProviderApiClient needs a baseUrl');
    this.#options = options;
  }

  get title(): string {
    return this.#options.title;
  }

  /**
   * GETs `path` with `query` (arrays as repeated `key[]=` values are the caller's: pass the key with
   * its brackets) and returns the parsed JSON body.
   * @throws PermanentProviderApiError for 4xx other than 429, or a body that is not JSON.
   * @throws RetryableProviderApiError when 429, 5xx or network errors outlast the retries.
   */
  async getJson(path: string, query: Readonly<Record<string, string | number | readonly string[]>> = {}): Promise<unknown> {
    const url = new URL(this.#options.baseUrl.replace(/\/+$/, '') + path);
    for (const [key, value] of Object.entries(query)) {
      if (Array.isArray(value)) for (const item of value) url.searchParams.append(key, String(item));
      else url.searchParams.set(key, String(value));
    }
    const { runtime } = this.#options;
    const retry = runtime.retry ?? PROVIDER_API_RETRY;
    for (let attempt = 1; ; attempt += 1) {
      await this.#waitForBudget();
      const outcome = await this.#attempt(url, path);
      if (outcome.kind === 'ok') return outcome.body;
      if (outcome.kind === 'permanent') throw outcome.error;
      if (attempt >= retry.attempts) throw outcome.error;
      const backoff = Math.min(retry.baseDelayMs * 2 ** (attempt - 1), retry.maxDelayMs);
      const delayMs = outcome.retryAfterMs ?? backoff;
      runtime.onRetry?.({ status: outcome.error.status, attempt, delayMs, path });
      await runtime.sleep(delayMs);
    }
  }

  async #attempt(
    url: URL,
    path: string,
  ): Promise<
    | { kind: 'ok'; body: unknown }
    | { kind: 'permanent'; error: PermanentProviderApiError }
    | { kind: 'retry'; error: RetryableProviderApiError; retryAfterMs?: number }
  > {
    const { title, runtime } = this.#options;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { Accept: 'application/json', ...this.#options.authenticate() },
        signal: AbortSignal.timeout(runtime.timeoutMs),
      });
    } catch (cause) {
      // The cause is a network or timeout error; it holds the URL (no credentials: they travel in headers).
      return { kind: 'retry', error: new RetryableProviderApiError('provider_unreachable', `${title} API did not answer GET ${path}`, null, { cause }) };
    }
    if (response.ok) {
      const text = await response.text();
      try {
        return { kind: 'ok', body: JSON.parse(text) as unknown };
      } catch {
        return { kind: 'permanent', error: new PermanentProviderApiError('provider_invalid_body', `${title} API answered GET ${path} with a body that is not JSON`, response.status) };
      }
    }
    // The body is read and dropped: it is for humans, and an error may echo the request.
    await response.arrayBuffer().catch(() => undefined);
    if (response.status === 429) {
      return {
        kind: 'retry',
        error: new RetryableProviderApiError('provider_rate_limited', `${title} API answered 429 Too Many Requests to GET ${path}`, 429),
        retryAfterMs: readRetryAfterMs(response.headers, runtime.now()) ?? this.#options.rateLimitWindowMs,
      };
    }
    if (response.status >= 500) {
      return { kind: 'retry', error: new RetryableProviderApiError('provider_unavailable', `${title} API answered ${response.status} to GET ${path}`, response.status) };
    }
    const reason = response.status === 401 ? ': check its API credentials' : '';
    return { kind: 'permanent', error: new PermanentProviderApiError('provider_refused', `${title} API answered ${response.status} to GET ${path}${reason}`, response.status) };
  }

  /** Sleeps until one more request fits in the budget's sliding window, then takes the slot. */
  async #waitForBudget(): Promise<void> {
    const { budget, runtime } = this.#options;
    for (;;) {
      const now = runtime.now();
      while (this.#recent.length > 0 && this.#recent[0]! <= now - budget.intervalMs) this.#recent.shift();
      if (this.#recent.length < budget.requests) {
        this.#recent.push(now);
        return;
      }
      await runtime.sleep(this.#recent[0]! + budget.intervalMs - now);
    }
  }
}

/**
 * When a 429 or 503 says to come back, in ms from `nowMs`: `Retry-After` (seconds or an HTTP date,
 * RFC 9110 §10.2.3), else `RateLimit-Reset` (seconds, draft-polli-ratelimit-headers-02, which
 * Rewardful's overview names). Undefined when neither is usable.
 */
export function readRetryAfterMs(headers: Headers, nowMs: number): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^[0-9]+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - nowMs);
  }
  const reset = headers.get('ratelimit-reset')?.trim();
  if (reset && /^[0-9]+$/.test(reset)) return Number(reset) * 1000;
  return undefined;
}
