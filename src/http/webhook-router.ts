import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import express, { type Request, type Response, type NextFunction, type Router } from 'express';
import type { Logger } from 'pino';
import { AuthError, UnsupportedEncodingError } from '../errors.js';
import type { SourceName } from '../events/event.js';
import type { BridgeMetrics } from '../observability/metrics.js';
import type { StoreOutcome } from '../queue/event-intake.js';
import type { BridgeEvent } from '../events/event.js';
import { readSettings } from '../config/env-variable.js';
import type { Secret } from '../secret.js';
import { collectSourceSecrets, createSecretScrubber, type SecretScrubber } from '../sources/scrub-secrets.js';
import type { RawDelivery, Source } from '../sources/source.js';
import { mapErrorToAnswer } from './error-status.js';
import { readRequestBody } from './read-body.js';

/** Options of {@link createWebhookHandlers}. */
export interface WebhookRouterOptions {
  /** The webhook providers by name, as in `/webhooks/<name>`; any other name is answered 404. */
  readonly sources: Readonly<Record<string, Source>>;
  /**
   * The loaded config's `integrations` (`config.integrations`): each source's settings, read for
   * its webhook secret (unset: null) and its answers (FIRSTPROMOTER_FULFILMENT_ANSWER), and every
   * secret variable the sources declare,
   * whose values are scrubbed from payloads. Must come from a config loaded with `sources`.
   * Required: without it a source's settings would silently fall back to their defaults.
   */
  readonly integrations: Readonly<Record<string, unknown>>;
  /** Local trials only: a source whose secret is unset accepts unauthenticated deliveries. */
  readonly allowUnsignedWebhooks: boolean;
  /** Payload fields removed before the event is stored (STRIPPED_FIELDS). */
  readonly strippedFields: readonly string[];
  /** Largest accepted body, in bytes (BODY_LIMIT); a larger one is answered 413. */
  readonly bodyLimitBytes: number;
  /**
   * Stores the event once (a duplicate is answered as stored); the answer waits for it, and a
   * StorageUnavailableError it throws is answered 503 with Retry-After.
   */
  readonly intake: { store(event: BridgeEvent): Promise<StoreOutcome> };
  /** Where `bridge_webhooks_total{source,outcome}` is counted. */
  readonly metrics: BridgeMetrics;
  /** Where each delivery's outcome is logged (why authentication failed only at debug). */
  readonly logger: Logger;
  /** The clock of each event's `receivedAt`. */
  readonly now: () => Date;
}

/** What serves `POST /webhooks/<source>`: a hot path outside Express, and Express's route. */
export interface WebhookHandlers {
  /** Express's route, for every spelling of `/webhooks/:source` the hot path leaves. */
  readonly router: Router;
  /**
   * The intake's hot path, on Node's own request and response: answers `POST /webhooks/<name>`
   * (optionally with a query string) when `<name>` is exactly a source's name, and returns true;
   * returns false, having touched nothing, for any other request. Express's per-request machinery
   * (prototypes, the router, parameter decoding) costs more CPU than the rest of an
   * acknowledgement but Redis and the payload's own JSON work (bench/intake.ts, `bare-node`).
   */
  tryDelivery(request: IncomingMessage, response: ServerResponse): boolean;
}

/**
 * `POST /webhooks/:source`, as an Express route and as a hot path outside Express that serves the
 * same deliveries. The body is read raw (whatever the Content-Type claims) because authentication
 * works on the exact bytes; the source parses it only after verifying them.
 */
export function createWebhookHandlers(options: WebhookRouterOptions): WebhookHandlers {
  const router = express.Router();
  const context: DeliveryContext = {
    ...options,
    // Read once: a settings error (a config loaded without these sources) stops the app here.
    settings: new Map(Object.values(options.sources).map((source) => [source.name, readSourceSettings(source, options.integrations)])),
    // Every configured secret of every source, not only the one a delivery authenticated with: a
    // FirstPromoter payload must not carry Rewardful's secret into Redis either.
    secretScrubber: createSecretScrubber(collectSourceSecrets(options.sources, { integrations: options.integrations })),
    seenApiVersions: new Map(),
  };

  /** One delivery, whichever path it came by; `onUnexpected` gets what is not a delivery's fault. */
  const deliver = (sourceName: string, request: IncomingMessage, response: ServerResponse, query: DeliveryQuery, onUnexpected: (error: unknown) => void) => {
    const source = options.sources[sourceName];
    if (!source || !Object.hasOwn(options.sources, sourceName)) {
      writeJson(response, 404, { error: `Unknown source: ${String(sourceName).slice(0, 64)}` });
      return;
    }
    const secret = readWebhookSecret(source, context);
    try {
      checkBeforeReadingBody(source, request.headers, query, secret, context);
    } catch (error) {
      // Nothing of the body was read. A body of a size the bridge could accept is drained and
      // dropped by Node (no buffering, and at most HTTP_REQUEST_TIMEOUT), so the answer reaches
      // the sender cleanly; a larger or undeclared one closes the connection instead of reading on.
      if (!isDeclaredWithin(request, options.bodyLimitBytes)) response.setHeader('Connection', 'close');
      return answerError(error, source.name, response, options);
    }
    // Read whatever the Content-Type claims; a compressed body was refused above (never inflated).
    readRequestBody(request, options.bodyLimitBytes, (error, rawBody) => {
      if (error) {
        // Too large or unreadable: whatever is left of the body is not worth reading either.
        response.setHeader('Connection', 'close');
        return answerError(error, source.name, response, options);
      }
      handleDelivery(source, { rawBody, headers: request.headers, query }, response, secret, context).catch(onUnexpected);
    });
  };

  router.post('/webhooks/:source', (request: Request, response: Response, next: NextFunction) => {
    deliver(request.params.source as string, request, response, request.query as DeliveryQuery, next);
  });

  return {
    router,
    tryDelivery(request, response) {
      const sourceName = request.method === 'POST' ? readExactSourceName(request.url ?? '', options.sources) : null;
      if (sourceName === null) return false;
      deliver(sourceName, request, response, readQuery(request.url!), (error) => {
        // What Express's error handler (app.ts) does with an error of a handler.
        options.logger.error({ err: error }, 'unhandled error in HTTP handler');
        if (!response.headersSent) writeJson(response, 500, { error: 'Internal error' });
      });
      return true;
    },
  };
}

type DeliveryQuery = Record<string, unknown>;

/** The query string parsed as the app's `simple` query parser does (Node's querystring: flat). */
function readQuery(url: string): DeliveryQuery {
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? Object.create(null) : querystring.parse(url.slice(queryAt + 1));
}

const WEBHOOK_PATH_PREFIX = '/webhooks/';

/**
 * The source named by a URL `/webhooks/<name>` or `/webhooks/<name>?<query>` when `<name>` is
 * exactly one of `sources`' own names, else null.
 */
export function readExactSourceName(url: string, sources: Readonly<Record<string, Source>>): string | null {
  if (!url.startsWith(WEBHOOK_PATH_PREFIX)) return null;
  const queryAt = url.indexOf('?', WEBHOOK_PATH_PREFIX.length);
  const name = url.slice(WEBHOOK_PATH_PREFIX.length, queryAt === -1 ? undefined : queryAt);
  return Object.hasOwn(sources, name) ? name : null;
}

/**
 * Answers JSON as Express's `response.status(status).json(body)` does (same headers, one write),
 * without its content negotiation and freshness checks: the webhook answers are always JSON.
 */
function writeJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/** Whether the request declares a Content-Length no larger than `limitBytes`. */
function isDeclaredWithin(request: IncomingMessage, limitBytes: number): boolean {
  const declared = request.headers['content-length'];
  return declared !== undefined && /^[0-9]+$/.test(declared) && Number(declared) <= limitBytes;
}

function readWebhookSecret(source: Source, context: DeliveryContext): Secret | null {
  return (context.settings.get(source.name)?.[source.webhookSecret] as Secret | null | undefined) ?? null;
}

/**
 * What is refused before a byte of the body is read, so that an unauthenticated sender costs no
 * more than its headers:
 * 1. a source with no secret set (unless ALLOW_UNSIGNED_WEBHOOKS);
 * 2. credentials that travel outside the body and are wrong or missing (the source's
 *    `verifyBeforeBody`: FirstPromoter's token, the presence of Rewardful's signature);
 * 3. a compressed body: inflating is how a few bytes become megabytes, and providers never compress.
 * @throws AuthError (401) or UnsupportedEncodingError (415).
 */
function checkBeforeReadingBody(source: Source, headers: IncomingHttpHeaders, query: DeliveryQuery, secret: Secret | null, context: DeliveryContext): void {
  if (secret === null && !context.allowUnsignedWebhooks) {
    throw new AuthError('source_not_configured', `${source.name} has no secret set`);
  }
  if (secret !== null && source.verifyBeforeBody) {
    source.verifyBeforeBody({ headers, query }, secret);
  }
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity' && encoding.trim() !== '') {
    throw new UnsupportedEncodingError(
      'content_encoding_refused',
      `Content-Encoding ${encoding.slice(0, 32)} is not accepted: send the body uncompressed`,
    );
  }
}

interface DeliveryContext extends WebhookRouterOptions {
  readonly settings: ReadonlyMap<SourceName, Readonly<Record<string, unknown>>>;
  readonly secretScrubber: SecretScrubber | null;
  /** The API versions met so far per source, documented ones included: the warning's memory. */
  readonly seenApiVersions: Map<SourceName, Set<string>>;
}

function readSourceSettings(source: Source, integrations: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return readSettings({ integrations }, source.env) as Record<string, unknown>;
}

async function handleDelivery(source: Source, delivery: RawDelivery, response: ServerResponse, secret: Secret | null, options: DeliveryContext): Promise<void> {
  try {
    const body = source.verify(delivery, secret);
    const event = source.normalize(body, {
      receivedAt: options.now(),
      strippedFields: options.strippedFields,
      secretScrubber: options.secretScrubber,
    });
    const outcome = await options.intake.store(event);
    const metricOutcome = outcome === 'stored' ? (event.status === 'quarantined' ? 'quarantined' : 'accepted') : outcome;
    options.metrics.webhooks.inc({ source: source.name, outcome: metricOutcome });
    options.logger.info(
      { source: source.name, eventId: event.id, eventType: event.type, status: event.status, outcome: metricOutcome },
      'webhook stored',
    );
    if (source.apiVersion) warnAboutNewApiVersion(source, event, options);
    // The payload's schema is checked by the events worker, so the answer cannot say whether the
    // event will be quarantined: it says only that it is stored (or was already). Only now, with
    // the event stored, may a source's answer mean more (FirstPromoter's 200: reward fulfilled).
    // A conflicting duplicate was not planned as the event it claims to be, so it never gets an
    // answer that means more than "stored".
    const status =
      source.successStatusFor && outcome !== 'conflicting_duplicate'
        ? source.successStatusFor(event, options.settings.get(source.name) ?? {})
        : source.successStatus;
    writeJson(response, status, { eventId: event.id, outcome });
  } catch (error) {
    answerError(error, source.name, response, options);
  }
}

/** Longest API version quoted in the warning; a longer value is shown cut. */
const MAX_SHOWN_VERSION_LENGTH = 40;

/**
 * Warns once per process (per router, and a process has one) for each API version of a source
 * that is not among its documented ones, an absent version included: the payloads may have
 * changed shape while still passing the lenient schemas. The value comes from the stored event,
 * so it is already scrubbed of secrets.
 */
function warnAboutNewApiVersion(source: Source, event: BridgeEvent, options: DeliveryContext): void {
  const declaration = source.apiVersion!;
  const value = declaration.read(event);
  const version = value === undefined ? '(none)' : typeof value === 'string' ? value.slice(0, MAX_SHOWN_VERSION_LENGTH) : `(a ${value === null ? 'null' : typeof value})`;
  let seen = options.seenApiVersions.get(source.name);
  if (!seen) {
    seen = new Set(declaration.documented);
    options.seenApiVersions.set(source.name, seen);
  }
  if (seen.has(version)) return;
  seen.add(version);
  options.logger.warn(
    { source: source.name, eventId: event.id, apiVersion: version, documented: declaration.documented },
    `${source.title} sent API version ${version}, not seen before by this process; the schemas follow ${declaration.documented.join(', ')}: check that its payloads still match them`,
  );
}

function answerError(error: unknown, sourceName: SourceName, response: ServerResponse, options: WebhookRouterOptions): void {
  const answer = mapErrorToAnswer(error);
  options.metrics.webhooks.inc({ source: sourceName, outcome: answer.outcome });
  const code = (error as { code?: unknown } | null)?.code;
  if (answer.status === 401) {
    // Why authentication failed is for operators, never for the caller.
    options.logger.debug({ source: sourceName, reason: code }, 'webhook rejected: unauthorized');
  } else if (answer.status >= 500) {
    options.logger.error({ source: sourceName, err: error }, 'webhook not stored');
  } else {
    options.logger.info({ source: sourceName, status: answer.status, reason: code ?? answer.body.error }, 'webhook rejected');
  }
  if (answer.headers) for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value);
  writeJson(response, answer.status, answer.body);
}
