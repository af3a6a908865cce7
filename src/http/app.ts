import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { BridgeMetrics } from '../observability/metrics.js';
import { createWebhookRouter, type WebhookRouterOptions } from './webhook-router.js';

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
}

/**
 * `/healthz`, `/readyz` and `/metrics`: served by every role, on PORT by the API and on
 * METRICS_PORT by a worker-only process.
 */
export function createOperationalRouter(options: { metrics: BridgeMetrics; readinessChecks: readonly ReadinessCheck[] }): Router {
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

  router.get('/metrics', async (_request, response) => {
    response.set('Content-Type', options.metrics.registry.contentType);
    response.send(await options.metrics.registry.metrics());
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

  app.use(createOperationalRouter(options));
  app.use(createWebhookRouter(options));
  for (const router of options.extraRouters ?? []) app.use(router);

  app.use((_request, response) => {
    response.status(404).json({ error: 'Not found' });
  });
  app.use((error: unknown, _request: Request, response: Response, _next: NextFunction) => {
    options.logger.error({ err: error }, 'unhandled error in HTTP handler');
    if (!response.headersSent) response.status(500).json({ error: 'Internal error' });
  });
  return app;
}
