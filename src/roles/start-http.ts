import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import express from 'express';
import { createAdminRouter } from '../http/admin/admin-router.js';
import { AdminSessions, AdminThrottle } from '../http/admin/admin-sessions.js';
import { createApp, createOperationalRouter, type ReadinessCheck } from '../http/app.js';
import { createBoundedServer } from '../http/http-server.js';
import { EventIntake, type EventsQueueJobData } from '../queue/event-intake.js';
import { EVENTS_QUEUE } from '../queue/names.js';
import type { RedisConnection } from '../infra/redis.js';
import { describePause, integrationsOf, readPauses } from '../actions/pause.js';
import { listReconciledSources } from '../reconcile/reconciler.js';
import type { BridgeDeps, WorkersRole } from './deps.js';

/** How often queue depths are read into `bridge_queue_jobs`. */
const QUEUE_GAUGE_INTERVAL_MS = 5_000;

/**
 * `api`: webhooks, the dashboard (when ADMIN_TOKEN is set), health, readiness and metrics on PORT.
 * `worker`: a worker-only process still answers /metrics, /healthz and /readyz, on METRICS_PORT.
 * Every role refreshes the queue gauges. Resolves with the port once listening.
 */
export async function startHttp(
  role: 'api' | 'worker',
  deps: BridgeDeps & WorkersRole,
): Promise<number> {
  const { config, logger, metrics, lifecycle, operations } = deps;
  const integrations = integrationsOf(Object.keys(deps.actions));
  const readinessChecks: ReadinessCheck[] = [
    // While the health tracker knows Redis is away, it says since when and why; otherwise a ping.
    async () => deps.redisHealth.describe() ?? ((await pingWithin(deps.state, 1_000)) ? null : 'Redis does not answer'),
    ...deps.readinessChecks,
    checkIntegrationsRunning(deps.state, config.queuePrefix, integrations),
  ];
  // Depths that cannot be read are unknown, not what they were: dropping the series lets
  // deploy/alerts.yml tell "Redis down" (bridge_rules_loaded present, bridge_queue_jobs absent).
  lifecycle.trackTimer(setInterval(() => void refreshQueueGauges(deps).catch(() => metrics.queueJobs.reset()), QUEUE_GAUGE_INTERVAL_MS));
  lifecycle.trackTimer(setInterval(() => void refreshPauseGauges(deps, integrations).catch(() => undefined), QUEUE_GAUGE_INTERVAL_MS));

  let app: express.Express;
  if (role === 'api') {
    const eventsQueue = lifecycle.trackQueue(deps.redisHealth.watchQueue(new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection: deps.connect('intake'), prefix: config.queuePrefix }), EVENTS_QUEUE));
    app = createApp({
      sources: deps.sources,
      integrations: config.integrations,
      allowUnsignedWebhooks: config.allowUnsignedWebhooks,
      strippedFields: config.strippedFields,
      bodyLimitBytes: config.bodyLimitBytes,
      intake: new EventIntake({ queue: eventsQueue, dedupTtlMs: config.dedupTtlMs }),
      metrics,
      logger,
      now: () => new Date(deps.now()),
      readinessChecks,
      metricsToken: config.metricsToken,
      trustProxy: config.trustProxy,
      // The dashboard exists only when ADMIN_TOKEN is set: unmounted, /admin is a plain 404.
      extraRouters: config.adminToken
        ? [
            createAdminRouter({
              adminToken: config.adminToken,
              operations,
              integrations,
              reconciledSources: listReconciledSources(deps.sources, config.integrations).map((source) => source.name),
              logger,
              now: () => new Date(deps.now()),
              sessions: new AdminSessions(deps.state, config.queuePrefix),
              throttle: new AdminThrottle(deps.state, config.queuePrefix),
              cookieSecure: config.adminCookieSecure,
            }),
          ]
        : [],
    });
  } else {
    app = express();
    app.disable('x-powered-by');
    app.use(createOperationalRouter({ metrics, readinessChecks, metricsToken: config.metricsToken }));
  }
  const server = lifecycle.trackServer(
    createBoundedServer(app, {
      headersTimeoutMs: config.httpHeadersTimeoutMs,
      requestTimeoutMs: config.httpRequestTimeoutMs,
      maxConnections: config.httpMaxConnections,
    }),
  );
  server.listen(role === 'api' ? config.port : config.metricsPort, '0.0.0.0');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/**
 * The /readyz check of paused integrations. A paused integration sends nothing: alerts are not
 * going out, so the bridge is not ready (503 with `slack: paused (invalid_auth)`) until a probe finds
 * the token working again. Read from Redis, so every role answers alike.
 */
export function checkIntegrationsRunning(redis: RedisConnection, prefix: string, integrations: readonly string[]): ReadinessCheck {
  return async () => {
    const pauses = await readPauses(redis, prefix, integrations);
    const reasons = [...pauses].flatMap(([integration, pause]) => (pause ? [describePause(integration, pause)] : []));
    return reasons.length > 0 ? reasons.join('; ') : null;
  };
}

async function pingWithin(redis: RedisConnection, timeoutMs: number): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  return Promise.race([redis.ping().then(() => true, () => false), timeout]);
}

/** `bridge_integration_paused` from Redis: every role shows what any worker found. */
async function refreshPauseGauges({ state, config, metrics }: Pick<BridgeDeps, 'state' | 'config' | 'metrics'>, integrations: readonly string[]): Promise<void> {
  for (const [integration, pause] of await readPauses(state, config.queuePrefix, integrations)) metrics.setIntegrationPause(integration, pause?.reason ?? null);
}

async function refreshQueueGauges({ operations, metrics }: Pick<BridgeDeps, 'operations' | 'metrics'>): Promise<void> {
  const counts = await operations.getQueueCounts(['waiting', 'active', 'delayed', 'failed']);
  for (const [queue, byState] of Object.entries(counts)) {
    for (const [state, count] of Object.entries(byState)) metrics.queueJobs.set({ queue, state }, count);
  }
}
