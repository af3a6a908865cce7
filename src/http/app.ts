import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { BridgeMetrics } from '../observability/metrics.js';
import { isSameSecret, type Secret } from '../secret.js';
import { createWebhookHandlers, type WebhookRouterOptions } from './webhook-router.js';

/** One readiness check: `null` when fine, else the reason shown by /readyz. */
export type ReadinessCheck = () => Promise<string | null>;

export interface AppOptions extends Omit<WebhookRouterOptions, 'logger' | 'metrics'> {
  /** Where the webhook router logs, and where an unhandled error of any handler is logged. */
  readonly logger: Logger;
  /** Counted by the webhook router; served by /metrics. */
  readonly metrics: BridgeMetrics;
  /** What /readyz checks (Redis answers, rules loaded and current…). */
  readonly readinessChecks: readonly ReadinessCheck[];
  /** Extra routers mounted after the webhooks (e.g. the admin dashboard). @defaultValue [] */
  readonly extraRouters?: readonly Router[];
  /** METRICS_TOKEN: `/metrics` asks for it as a bearer token. @defaultValue null (open) */
  readonly metricsToken?: Secret | null;
  /**
   * Express's `trust proxy` (TRUST_PROXY): whose X-Forwarded-For and X-Forwarded-Proto to believe.
   * @defaultValue false
   */
  readonly trustProxy?: boolean | number | string;
}

/** Options of {@link createOperationalRouter}. */
export interface OperationalRouterOptions {
  /** What /metrics serves. */
  readonly metrics: BridgeMetrics;
  /** What /readyz checks. */
  readonly readinessChecks: readonly ReadinessCheck[];
  /** METRICS_TOKEN: `/metrics` asks for it as a bearer token. @defaultValue null (open) */
  readonly metricsToken?: Secret | null;
}

/**
 * `/healthz`, `/readyz` and `/metrics`: served by every role, on PORT by the API and on
 * METRICS_PORT by a worker-only process.
 */
export function createOperationalRouter(options: OperationalRouterOptions): Router {
  const router = express.Router();
  router.get('/healthz', (_request, response) => {
    response.status(200).json({ status: 'ok' });
  });

  router.get('/readyz', async (_request, response) => {
    const reasons = (await Promise.all(options.readinessChecks.map((check) => check().catch((error: Error) => error.message))))
      .filter((reason): reason is string => reason !== null);
    if (reasons.length === 0) response.status(200).json({ status: 'ready' });
    else response.status(503).json({ status: 'not_ready', reasons });
  });

  const metricsToken = options.metricsToken ?? null;
  router.get('/metrics', async (request, response) => {
    // With METRICS_TOKEN set, a scrape must carry it as a bearer token, compared in constant time.
    if (metricsToken !== null && !hasBearerToken(request.headers.authorization, metricsToken)) {
      response.status(401).set('WWW-Authenticate', 'Bearer realm="affiliate-bridge metrics"').json({ error: 'Unauthorized: send Authorization: Bearer <METRICS_TOKEN>' });
      return;
    }
    response.set('Content-Type', options.metrics.registry.contentType);
    response.send(await options.metrics.render());
  });
  return router;
}

/** Builds the Express app: webhooks, health, readiness and metrics. Listening is the caller's. */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Query strings are parsed flat: `?token=a&token[b]=c` must not become objects.
  app.set('query parser', 'simple');
  // Behind a TLS proxy: the client's address (the admin throttle's key) and protocol (the cookie's
  // Secure flag) come from the X-Forwarded-* headers of the proxies trusted here, and no others.
  app.set('trust proxy', options.trustProxy ?? false);

  const webhooks = createWebhookHandlers(options);
  // Webhooks first: they are nearly all of the traffic, and no operational path is under /webhooks/.
  app.use(webhooks.router);
  app.use(createOperationalRouter(options));
  for (const router of options.extraRouters ?? []) app.use(router);

  app.use((_request, response) => {
    response.status(404).json({ error: 'Not found' });
  });
  app.use((error: unknown, request: Request, response: Response, _next: NextFunction) => {
    const clientError = describeClientError(error);
    if (clientError !== null) {
      // The caller's mistake (a path such as /webhooks/%ZZ that is not valid percent-encoding): a
      // 4xx, logged at debug without a stack, so a flood of them costs no log volume.
      options.logger.debug({ method: request.method, status: clientError.status, reason: clientError.message }, 'request refused');
      if (!response.headersSent) response.status(clientError.status).json({ error: clientError.message });
      return;
    }
    options.logger.error({ err: error }, 'unhandled error in HTTP handler');
    if (!response.headersSent) response.status(500).json({ error: 'Internal error' });
  });
  // The intake's hot path runs before Express sees the request. Express's app is a function that
  // hands every request to `app.handle` (express/lib/express.js), whether it is served by
  // `app.listen`, `http.createServer(app)` or a test client, so this is its one entry point.
  // (Not in Express's type definitions; an Express without it fails here, at start-up.)
  const entry = app as unknown as { handle(request: IncomingMessage, response: ServerResponse, callback?: unknown): void };
  const handleWithExpress = entry.handle.bind(app);
  entry.handle = (request, response, callback) => {
    if (!webhooks.tryDelivery(request, response)) handleWithExpress(request, response, callback);
  };
  return app;
}

/** Whether an Authorization header is `Bearer <token>` with the expected token (constant time). */
function hasBearerToken(authorization: string | undefined, expected: Secret): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  // An absent or malformed header is still compared, so the answer takes the same time.
  return isSameSecret(match?.[1] ?? '', expected.reveal()) && match !== null;
}

/**
 * The status and message of an error that is the request's fault, or null. Express's router marks
 * a path parameter it cannot percent-decode with `status: 400` (router/lib/layer.js, `decodeParam`);
 * body parsers outside the webhook route mark theirs the same way (http-errors, `expose: true`).
 * The message is ours, never the error's: those quote the raw path.
 */
export function describeClientError(error: unknown): { status: number; message: string } | null {
  if (error instanceof URIError) return { status: 400, message: 'The URL is not valid percent-encoding' };
  const status = (error as { status?: unknown } | null)?.status;
  const isExposed = (error as { expose?: unknown } | null)?.expose === true;
  if (typeof status === 'number' && status >= 400 && status < 500 && isExposed) {
    return { status, message: status === 413 ? 'Request body too large' : 'Bad request' };
  }
  return null;
}
