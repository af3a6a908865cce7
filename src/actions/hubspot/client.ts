import * as http from 'node:http';
import * as https from 'node:https';
import type { Client } from '@hubspot/api-client';
import type { Secret } from '../../secret.js';
import { startDeadline } from '../../infra/deadline.js';
import { abortedError } from '../pacing.js';
import { mapHubspotError } from './errors.js';
import { loadHubspotSdk } from './sdk.js';

/** Per-call state, read by the agent (abort) and filled by the middleware (error evidence). */
interface HubspotCallState {
  readonly signal: AbortSignal;
  readonly observe?: HubspotResponseObserver;
  status?: number;
  headers?: Record<string, string>;
  rawBody?: string;
}

/** Options of {@link createHubspotClient}. */
export interface HubspotClientOptions {
  /** HUBSPOT_ACCESS_TOKEN; revealed only to the SDK, which sends it as the Authorization header. */
  readonly accessToken: Secret;
  /** Base path of the API. @defaultValue from config: https://api.hubapi.com */
  readonly baseUrl: string;
  /** Timeout of every call, in ms. */
  readonly timeoutMs: number;
  /** The clock, for the DAILY limit's wait until midnight. */
  readonly now: () => number;
}

/** The HubSpot SDK client plus per-call abort, timeout and error mapping. */
export interface HubspotClient {
  /**
   * Runs `fn` so that its HTTP requests abort with `signal` or after the timeout, and maps whatever
   * it throws to PermanentActionError / RetryableActionError. `fn` must pass `options` as the
   * `_options` argument of every SDK call it makes: that is what attaches the agent and middleware.
   */
  call<T>(signal: AbortSignal, fn: (sdk: Client, options: HubspotCallOptions) => Promise<T>, observe?: HubspotResponseObserver): Promise<T>;
  /**
   * The account's time zone (account-info `timeZone`), read once per client; `UTC` when it cannot
   * be read. HubSpot resets the DAILY limit at midnight in it.
   */
  accountTimeZone(): Promise<string>;
  /** Closes idle keep-alive sockets. */
  close(): void;
}

/** Sees the status and headers of every response of one call (success or not), e.g. rate-limit headers. */
export type HubspotResponseObserver = (response: { readonly status: number; readonly headers: Readonly<Record<string, string>> }) => void;

/** Where the account's details (time zone) are read: GET, any scope (account-info API, v3). */
export const HUBSPOT_ACCOUNT_DETAILS_PATH = '/account-info/v3/details';

/** The `_options` every SDK call made through {@link HubspotClient.call} must receive. */
export interface HubspotCallOptions {
  /** The call's middleware replaces the configured list (SDK 13 runs only per-call middleware). */
  readonly middlewareMergeStrategy: 'replace';
  /** Attaches the call's abortable agent, and keeps the status, headers and raw body of an error answer. */
  readonly middleware: Array<{
    pre(context: any): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- each generated module has its own RequestContext class
    post(context: any): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  }>;
}

type AgentWithAddRequest = http.Agent & { addRequest(request: http.ClientRequest, options: unknown): void };

/**
 * Builds the HubSpot client the bridge needs:
 * - no SDK retries and no Bottleneck limiter (`numberOfApiCallRetries: 0`, no `limiterOptions`):
 *   retries belong to the actions worker, pacing to the Redis pacer shared by all workers;
 * - timeouts and per-call abort: the generated SDK passes no signal or timeout to node-fetch, so a
 *   keep-alive agent (attached by per-call middleware) aborts each request when its call's signal
 *   fires;
 * - the same middleware keeps the status, headers and raw body of error answers, so errors are
 *   mapped from what HubSpot said (`policyName`: DAILY vs TEN_SECONDLY_ROLLING) rather than from
 *   the SDK's ApiException, whose message embeds headers and body;
 * - the access token stays inside the SDK's Authorization header; errors are rebuilt without it.
 */
export function createHubspotClient(options: HubspotClientOptions): HubspotClient {
  const isHttps = new URL(options.baseUrl).protocol === 'https:';
  const agent = (isHttps ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true })) as AgentWithAddRequest;

  // http.ClientRequest hands itself to agent.addRequest in its constructor: the one place where the
  // request object and the call's signal meet. Each call gets a view of the shared keep-alive agent
  // whose addRequest knows the call's signal (its sockets stay the shared agent's). Not
  // AsyncLocalStorage: on Node 20 it turns on async hooks for every promise of the process.
  const agentFor = (signal: AbortSignal): http.Agent => {
    const view = Object.create(agent) as AgentWithAddRequest;
    view.addRequest = (request, requestOptions) => {
      const onAbort = () => request.destroy(new Error('request aborted'));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        request.once('close', () => signal.removeEventListener('abort', onAbort));
      }
      agent.addRequest(request, requestOptions);
    };
    return view;
  };

  // The SDK is imported now, in the background, and awaited by the first call (see sdk.ts).
  const ready = loadHubspotSdk().then(({ Client }) => {
    const sdk = new Client({
      accessToken: options.accessToken.reveal(),
      basePath: options.baseUrl.replace(/\/+$/, ''),
      numberOfApiCallRetries: 0,
    });
    // The SDK applies its decorators (retry, limiter) from a process-wide singleton when an API is
    // first touched; touching ours now binds them while the configuration above (none) is current.
    void sdk.crm.contacts.batchApi;
    void sdk.crm.properties.coreApi;
    void sdk.crm.properties.groupsApi;
    return sdk;
  });
  // A failed import is reported by the call that awaits it, not as an unhandled rejection.
  ready.catch(() => undefined);

  /**
   * Per-call middleware. The generated APIs of SDK 13 only run middleware passed with the call
   * (`_options`), not the configuration's (so `httpAgent` in the Client config would be ignored):
   * we pass ours on every call, replacing the configured list.
   */
  const callOptionsFor = (state: HubspotCallState): HubspotCallOptions => ({
    middlewareMergeStrategy: 'replace',
    middleware: [
      {
        pre: async (context) => {
          (context as { setAgent(agent: http.Agent): void }).setAgent(agentFor(state.signal));
          return context;
        },
        post: async (context) => {
          const response = context as {
            httpStatusCode: number;
            headers: Record<string, string>;
            body: { text(): Promise<string>; binary(): Promise<Buffer> };
          };
          state.status = response.httpStatusCode;
          state.headers = response.headers;
          state.observe?.({ status: response.httpStatusCode, headers: response.headers });
          if (response.httpStatusCode >= 300) {
            const text = await response.body.text();
            state.rawBody = text;
            // The body stream is read once; hand the SDK a replay so its own parsing still works.
            response.body = { text: async () => text, binary: async () => Buffer.from(text) };
          }
          return context;
        },
      },
    ],
  });

  let timeZone: Promise<string> | undefined;
  const accountTimeZone = (): Promise<string> => {
    timeZone ??= readAccountTimeZone(options).catch(() => 'UTC');
    return timeZone;
  };

  return {
    async call<T>(
      signal: AbortSignal,
      fn: (client: Client, callOptions: HubspotCallOptions) => Promise<T>,
      observe?: HubspotResponseObserver,
    ): Promise<T> {
      if (signal.aborted) throw abortedError(signal);
      const sdk = await ready;
      if (signal.aborted) throw abortedError(signal);
      const deadline = startDeadline(options.timeoutMs, signal);
      const state: HubspotCallState = { signal: deadline.signal, observe };
      try {
        return await fn(sdk, callOptionsFor(state));
      } catch (error) {
        const evidence = { status: state.status, headers: state.headers, rawBody: state.rawBody, isAborted: deadline.signal.aborted };
        const mapped = mapHubspotError(error, evidence, options.now());
        // The DAILY limit resets at midnight in the account's time zone: only then is it worth asking.
        if (mapped.code !== 'rate_limit_daily') throw mapped;
        throw mapHubspotError(error, evidence, options.now(), await accountTimeZone());
      } finally {
        deadline.release();
      }
    },
    accountTimeZone,
    close() {
      agent.destroy();
    },
  };
}

/**
 * Reads the account's `timeZone` from GET /account-info/v3/details ("Retrieve account details such
 * as the account type, time zone, currencies", developers.hubspot.com/docs/api-reference/latest/
 * account/account-information/get-account-details). Plain fetch: one small GET, the token only in
 * its Authorization header; whatever fails is the caller's fallback (UTC).
 */
async function readAccountTimeZone(options: HubspotClientOptions): Promise<string> {
  const response = await fetch(`${options.baseUrl.replace(/\/+$/, '')}${HUBSPOT_ACCOUNT_DETAILS_PATH}`, {
    headers: { authorization: `Bearer ${options.accessToken.reveal()}`, accept: 'application/json' },
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  if (!response.ok) throw new Error(`account-info answered ${response.status}`);
  const body = (await response.json()) as { timeZone?: unknown };
  if (typeof body.timeZone !== 'string' || body.timeZone === '') throw new Error('account-info named no timeZone');
  return body.timeZone;
}
