import type { FetchFunction } from '@slack/web-api';
import { Agent, request } from 'undici';

/** What the SDK passes to its fetch and reads of the answer (it exports only FetchFunction). */
type FetchRequestInit = NonNullable<Parameters<FetchFunction>[1]>;
type FetchResponse = Awaited<ReturnType<FetchFunction>>;
type FetchHeaders = FetchResponse['headers'];

/** Options of {@link createSlackTransport}. */
export interface SlackTransportOptions {
  /**
   * How long a call may wait for the response's headers, and then between two chunks of its body,
   * in ms (undici's `headersTimeout` / `bodyTimeout`, on timers of about a second's precision: a
   * backstop; the Slack client ends each call on time with its signal). @defaultValue 10 s
   */
  readonly timeoutMs?: number;
  /** For bodies `request` does not send (FormData: file uploads, which the bridge never makes). @defaultValue globalThis.fetch */
  readonly fallbackFetch?: FetchFunction;
}

/**
 * The HTTP transport of the Slack WebClient: the SDK's documented `fetch` option ("a custom `fetch`
 * implementation conforming to the WHATWG Fetch standard", of which it uses only `FetchRequestInit`
 * and `FetchResponse`), served by undici's `request`.
 *
 * Why not Node's global fetch: at 500 messages a second its WHATWG machinery (Request and Response
 * objects, web streams, one AbortSignal per call) cost about an eighth of the bridge's CPU (issue
 * 14); `request` is the same HTTP client without that layer. What the SDK sees is the same:
 * - the method, headers and string body it passes, on keep-alive connections of one Agent;
 * - `redirect: 'error'`: a redirect is never followed (`request` follows none); its 3xx answer
 *   reaches the SDK, which fails any status but 200 (WebAPIHTTPError), as fetch's TypeError did;
 * - `signal` aborts the request, with the signal's reason, as fetch does;
 * - the response body is read in full before the answer is returned (Slack's answers are small JSON),
 *   so a response the SDK does not read (a 429 it rejects at once) never holds its connection.
 */
export function createSlackTransport(options: SlackTransportOptions = {}): { fetch: FetchFunction; close(): Promise<void> } {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const dispatcher = new Agent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const fallbackFetch = options.fallbackFetch ?? (globalThis.fetch as unknown as FetchFunction);

  const fetch: FetchFunction = async (url: string | URL, init: FetchRequestInit = {}): Promise<FetchResponse> => {
    if (init.body !== undefined && typeof init.body !== 'string') return fallbackFetch(url, init);
    const href = String(url);
    try {
      const { statusCode, statusText, headers, body } = await request(href, {
        dispatcher,
        method: (init.method ?? 'GET') as 'GET',
        headers: init.headers,
        body: init.body,
        signal: init.signal,
      });
      const bytes = Buffer.from(await body.arrayBuffer());
      return new BufferedResponse(href, statusCode, statusText, headers, bytes);
    } catch (error) {
      throw asFetchError(error, init.signal);
    }
  };
  return { fetch, close: () => dispatcher.close() };
}

/**
 * The error fetch would have thrown, so that the SDK and `mapSlackError` see what they know: the
 * signal's own reason when it aborted the call, a `TimeoutError` when the answer took longer than
 * the timeout (as `AbortSignal.timeout` gives), and otherwise fetch's `TypeError('fetch failed')`
 * with the socket's error as its cause (its `code`, ECONNREFUSED…, names the failure).
 */
function asFetchError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason ?? error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new DOMException('The operation was aborted due to timeout', 'TimeoutError');
  }
  return new TypeError('fetch failed', { cause: error });
}

/** A response whose body was read in full: what the SDK reads of a fetch Response. */
class BufferedResponse implements FetchResponse {
  readonly ok: boolean;
  readonly headers: FetchHeaders;

  constructor(
    readonly url: string,
    readonly status: number,
    readonly statusText: string,
    rawHeaders: Record<string, string | string[] | undefined>,
    private readonly bytes: Buffer,
  ) {
    this.ok = status >= 200 && status < 300;
    this.headers = new ResponseHeaders(rawHeaders);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return this.bytes.buffer.slice(this.bytes.byteOffset, this.bytes.byteOffset + this.bytes.byteLength) as ArrayBuffer;
  }

  async text(): Promise<string> {
    return this.bytes.toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.bytes.toString('utf8'));
  }
}

/** Headers as fetch's `Headers` reads them: names case-insensitive, repeated values joined by ", ". */
class ResponseHeaders implements FetchHeaders {
  readonly #values = new Map<string, string>();

  constructor(raw: Record<string, string | string[] | undefined>) {
    for (const [name, value] of Object.entries(raw)) {
      if (value === undefined) continue;
      this.#values.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value);
    }
  }

  get(name: string): string | null {
    return this.#values.get(name.toLowerCase()) ?? null;
  }

  entries(): IterableIterator<[string, string]> {
    return this.#values.entries();
  }
}
