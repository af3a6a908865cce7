import { AsyncLocalStorage } from 'node:async_hooks';
import type { FetchFunction, LogLevel, Logger as SlackLogger, WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Secret } from '../../secret.js';
import { abortedError } from '../pacing.js';
import { mapSlackError } from './errors.js';
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
  /** Timeout of every call, in ms (the SDK's own timeout and ours). */
  readonly timeoutMs: number;
  /** Where the SDK's warnings go; its debug lines are dropped (they echo request bodies). */
  readonly logger: Logger;
  /** The fetch to use. @defaultValue globalThis.fetch */
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
 * - `timeout` = `timeoutMs`, and each call's `signal` aborts its fetch (via a fetch wrapper: the SDK
 *   has no per-call signal);
 * - the token lives only inside the WebClient's Authorization header, never in our logs or errors.
 */
export function createSlackClient(options: SlackClientOptions): SlackClient {
  const callState = new AsyncLocalStorage<SlackCallState>();
  const baseFetch: FetchFunction = options.fetch ?? (globalThis.fetch as unknown as FetchFunction);

  const fetchWithCallSignal: FetchFunction = async (url, init) => {
    const state = callState.getStore();
    const signals = [init?.signal, state?.signal].filter((s): s is AbortSignal => s !== undefined);
    const response = await baseFetch(url, { ...init, signal: signals.length > 0 ? AbortSignal.any(signals) : undefined });
    if (state) state.lastStatus = response.status;
    return response;
  };

  // The SDK is imported now, in the background, and awaited by the first call (see sdk.ts).
  const ready = loadSlackSdk().then(({ WebClient, LogLevel }) =>
    new WebClient(options.token.reveal(), {
    slackApiUrl: options.slackApiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: options.timeoutMs,
    fetch: fetchWithCallSignal,
    logger: toSlackLogger(options.logger, LogLevel.WARN),
    // The WebClient's request queue would start a queued request outside the caller's async
    // context, and then with another call's signal. The pacer and the worker's concurrency already
    // bound the number of calls in flight, so the queue never has to hold one back.
    maxRequestConcurrency: Number.POSITIVE_INFINITY,
  }));
  // A failed import is reported by the call that awaits it, not as an unhandled rejection.
  ready.catch(() => undefined);

  return {
    async call<T>(signal: AbortSignal, fn: (client: WebClient) => Promise<T>): Promise<T> {
      if (signal.aborted) throw abortedError(signal);
      const web = await ready;
      if (signal.aborted) throw abortedError(signal);
      const state: SlackCallState = { signal };
      try {
        return await callState.run(state, () => fn(web));
      } catch (error) {
        throw mapSlackError(error, { isAborted: signal.aborted, lastStatus: state.lastStatus });
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
