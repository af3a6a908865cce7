import type { FetchFunction, LogLevel, Logger as SlackLogger, WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Secret } from '../../secret.js';
import { startDeadline } from '../../infra/deadline.js';
import { abortedError } from '../pacing.js';
import { mapSlackError } from './errors.js';
import { createSlackTransport } from './transport.js';
import { loadSlackSdk } from './sdk.js';

/** What one call through {@link SlackClient.call} saw on the wire, for error mapping. */
interface SlackCallState {
  readonly signal: AbortSignal;
  /** HTTP status of the last response, when one arrived. */
  lastStatus?: number;
}

/** Options of {@link createSlackClient}. */
export interface SlackClientOptions {
  /** SLACK_BOT_TOKEN; revealed only to the WebClient, which sends it as the Authorization header. */
  readonly token: Secret;
  /** Base URL of the Web API, ending in `/api/`. @defaultValue from config: https://slack.com/api/ */
  readonly slackApiUrl: string;
  /** How long a call may take, in ms (the transport's own headers and body timeouts too). */
  readonly timeoutMs: number;
  /** Where the SDK's warnings go; its debug lines are dropped (they echo request bodies). */
  readonly logger: Logger;
  /** The fetch to use (`call` still times each call out). @defaultValue {@link createSlackTransport}'s */
  readonly fetch?: FetchFunction;
}

/** A WebClient plus per-call abort and error mapping. */
export interface SlackClient {
  /**
   * Runs `fn` so that its HTTP request aborts with `signal` (or the timeout), and maps whatever it
   * throws to PermanentActionError / RetryableActionError.
   */
  call<T>(signal: AbortSignal, fn: (web: WebClient) => Promise<T>): Promise<T>;
}

/**
 * Builds the Slack WebClient the way the bridge needs it:
 * - no SDK retries and rate-limited calls rejected at once: the actions worker owns retries, and a
 *   WebClient that sleeps out a 429 would hold a job (and the whole request queue) hostage;
 * - a call ends after `timeoutMs` or when its `signal` aborts, whichever comes first (its request
 *   aborted via a fetch wrapper: the SDK has no per-call signal); the SDK's own timeout is off;
 * - the token lives only inside the WebClient's Authorization header, never in our logs or errors.
 *
 * The fetch wrapper learns its call's signal from the WebClient it belongs to: each call borrows a
 * WebClient of its own from a small pool (one per call in flight, kept for the next call) and sets
 * that client's call state. Not AsyncLocalStorage: on Node 20 it turns on async hooks for every
 * promise of the process, which cost the bridge about 5% of its CPU under load (issue 14).
 */
export function createSlackClient(options: SlackClientOptions): SlackClient {
  const baseFetch: FetchFunction = options.fetch ?? createSlackTransport({ timeoutMs: options.timeoutMs }).fetch;

  /** A WebClient and the state of the one call using it (undefined while it waits in the pool). */
  interface PooledWebClient {
    readonly web: WebClient;
    state: SlackCallState | undefined;
  }
  const idle: PooledWebClient[] = [];

  // The SDK is imported now, in the background, and awaited by the first call (see sdk.ts).
  const ready = loadSlackSdk();
  // A failed import is reported by the call that awaits it, not as an unhandled rejection.
  ready.catch(() => undefined);

  function buildPooledClient({ WebClient, LogLevel }: Awaited<typeof ready>): PooledWebClient {
    const fetchWithCallSignal: FetchFunction = async (url, init) => {
      const state = pooled.state;
      const response = await baseFetch(url, { ...init, signal: state?.signal });
      if (state) state.lastStatus = response.status;
      return response;
    };
    const pooled: PooledWebClient = {
      web: new WebClient(options.token.reveal(), {
        slackApiUrl: options.slackApiUrl,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        // `call` times calls out: the SDK's would add an AbortSignal.timeout per call, combined
        // with the call's own signal by AbortSignal.any (about 2% of the bridge's CPU under load).
        timeout: 0,
        fetch: fetchWithCallSignal,
        logger: toSlackLogger(options.logger, LogLevel.WARN),
        // Each WebClient serves one call at a time, and the pacer and the worker's concurrency
        // already bound the calls in flight: its request queue never has to hold one back.
        maxRequestConcurrency: Number.POSITIVE_INFINITY,
      }),
      state: undefined,
    };
    return pooled;
  }

  return {
    async call<T>(signal: AbortSignal, fn: (client: WebClient) => Promise<T>): Promise<T> {
      if (signal.aborted) throw abortedError(signal);
      const sdk = await ready;
      if (signal.aborted) throw abortedError(signal);
      const pooled = idle.pop() ?? buildPooledClient(sdk);
      // The call ends at `timeoutMs` or when `signal` aborts, whichever comes first.
      const deadline = startDeadline(options.timeoutMs, signal);
      const state: SlackCallState = { signal: deadline.signal };
      pooled.state = state;
      try {
        return await fn(pooled.web);
      } catch (error) {
        throw mapSlackError(error, { isAborted: deadline.signal.aborted, lastStatus: state.lastStatus });
      } finally {
        deadline.release();
        pooled.state = undefined;
        idle.push(pooled);
      }
    },
  };
}

/**
 * Adapts pino to the SDK's logger. Debug and info lines are dropped: they echo request bodies and
 * URLs at a volume we do not want, and an SDK upgrade could start logging more than it redacts.
 * Warnings (such as "no top-level text") go to our logger as plain strings.
 */
/** `warnLevel`: the SDK's LogLevel.WARN, passed in because the SDK is loaded lazily. */
function toSlackLogger(logger: Logger, warnLevel: LogLevel): SlackLogger {
  const child = logger.child({ component: 'slack-web-api' });
  return {
    debug() {},
    info() {},
    warn(...messages: unknown[]) {
      child.warn(messages.map(String).join(' '));
    },
    error(...messages: unknown[]) {
      child.error(messages.map(String).join(' '));
    },
    setLevel() {},
    getLevel: () => warnLevel,
    setName() {},
  };
}
