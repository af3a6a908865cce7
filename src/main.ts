import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, type Worker } from 'bullmq';
import express from 'express';
import type { Logger } from 'pino';
import type { ActionName, ActionRunner } from './actions/action.js';
import { actionRegistry, type ActionRegistry } from './actions/registry.js';
import type { BridgeConfig } from './config/config.js';
import { readSettings } from './config/env-variable.js';
import { createAdminRouter } from './http/admin/admin-router.js';
import { createApp, createOperationalRouter, type ReadinessCheck } from './http/app.js';
import type { BridgeMetrics } from './observability/metrics.js';
import { startActionsWorker } from './queue/actions-worker.js';
import type { ActionJobData } from './queue/action-job.js';
import { EventIntake, type EventJobData } from './queue/event-intake.js';
import { startEventsWorker } from './queue/events-worker.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE } from './queue/names.js';
import { BridgeOperations } from './queue/operations.js';
import { createRedisConnection, type RedisConnection } from './queue/redis.js';
import { twelveAttemptsOverEightHours, type RetryPolicy } from './queue/retry-policy.js';
import { RuleStore } from './rules/rule-store.js';
import { planActions } from './rules/plan.js';
import type { Secret } from './secret.js';
import { sourceRegistry, type SourceRegistry } from './sources/registry.js';

/** Which halves of the bridge this process runs. */
export interface Roles {
  readonly api: boolean;
  readonly workers: boolean;
}

export interface StartOptions {
  readonly config: BridgeConfig;
  readonly roles: Roles;
  readonly logger: Logger;
  readonly metrics: BridgeMetrics;
  /**
   * The sources served under `/webhooks/<name>`; `config` must be loaded with the same registries.
   * @defaultValue sourceRegistry
   */
  readonly sources?: SourceRegistry;
  /** The actions rules may name and the workers run. @defaultValue actionRegistry */
  readonly actions?: ActionRegistry;
}

export interface RunningBridge {
  /** The HTTP server's port (the API, or a worker-only process's metrics port). */
  readonly port: number;
  /**
   * Stops taking requests, lets in-flight jobs finish (or returns them to the queue when
   * `timeoutMs` runs out), and closes Redis.
   */
  stop(timeoutMs?: number): Promise<void>;
}

/** After the shutdown deadline, how long aborted jobs get to hand themselves back to the queue. */
const SHUTDOWN_ABORT_GRACE_MS = 1_000;

/** How often queue depths are read into `bridge_queue_jobs`. */
const QUEUE_GAUGE_INTERVAL_MS = 5_000;

/** The composition root: builds every real dependency from the config and starts the roles. */
export async function startBridge(options: StartOptions): Promise<RunningBridge> {
  const { config, roles, logger, metrics, sources = sourceRegistry, actions = actionRegistry } = options;
  const retryPolicy: RetryPolicy = {
    ...twelveAttemptsOverEightHours,
    attempts: config.actionAttempts,
    baseDelayMs: config.actionBackoffBaseMs,
  };
  const closers: Array<() => Promise<unknown>> = [];
  const connections: RedisConnection[] = [];
  const workers: Worker[] = [];
  const connect = (role: Parameters<typeof createRedisConnection>[1]) => {
    const connection = createRedisConnection(config.redisUrl, role, {}, { cluster: config.redisCluster });
    connection.on('error', (error) => logger.warn({ err: { message: error.message } }, `redis (${role}) connection error`));
    connections.push(connection);
    return connection;
  };

  // A start-up that fails half-way (invalid rules, port in use) closes what it opened, so the
  // process can exit with its error code instead of hanging on open Redis connections.
  const abandon = async (error: unknown): Promise<never> => {
    await Promise.all(workers.map((worker) => worker.close(true).catch(() => undefined)));
    for (const close of closers) await close().catch(() => undefined);
    for (const connection of connections) connection.disconnect();
    throw error;
  };

  warnAboutSecrets(config, roles, logger, sources, actions);

  const state = connect('state');
  const readinessChecks: ReadinessCheck[] = [
    async () => ((await pingWithin(state, 1_000)) ? null : 'Redis does not answer'),
  ];

  let ruleStore: RuleStore | undefined;
  if (roles.workers) {
    ruleStore = new RuleStore({ dir: config.rulesDir, logger, actions, sources: Object.keys(sources) });
    await ruleStore.start().catch(abandon);
    const store = ruleStore;
    metrics.rulesLoaded.set(store.current.size);
    store.on('reloaded', () => metrics.rulesLoaded.set(store.current.size));
    store.on('reload_failed', () => metrics.rulesReloadErrors.inc());
    closers.push(() => store.stop());
    readinessChecks.push(async () =>
      store.isCurrent ? null : `rules not current: the last edit has ${store.problems.length} problem(s); the last good rules stay live`,
    );

    const actionsQueue = new Queue<ActionJobData>(ACTIONS_QUEUE, { connection: state, prefix: config.queuePrefix });
    closers.push(() => actionsQueue.close());
    const runners = Object.fromEntries(
      Object.entries(actions).map(([name, action]) => [
        name,
        action.connect({ config, redis: state, keyPrefix: config.queuePrefix, logger: logger.child({ integration: name }), now: Date.now }),
      ]),
    ) as Record<ActionName, ActionRunner<unknown>>;
    closers.push(async () => Promise.all(Object.values(runners).map((runner) => runner.close?.())));

    workers.push(
      startEventsWorker({
        connection: connect('worker'),
        state,
        prefix: config.queuePrefix,
        actionsQueue,
        plan: (event, planOptions) => planActions(store.current, event, { strictTemplates: false, ...planOptions }),
        checkSchema: (event) => checkSchemaOf(sources, event),
        retryPolicy,
        traceTtlMs: config.dedupTtlMs,
        logger,
        metrics,
        concurrency: config.eventsConcurrency,
      }),
      startActionsWorker({
        connection: connect('worker'),
        state,
        prefix: config.queuePrefix,
        runners,
        retryPolicy,
        actionTimeoutMs: config.actionTimeoutMs,
        completionTtlMs: config.dedupTtlMs,
        logger,
        metrics,
        concurrency: config.actionsConcurrency,
      }),
    );
  }

  // Queue depths for the gauges, and the dashboard's reads and retries, from one place.
  const operations = new BridgeOperations(state, config.queuePrefix);
  closers.push(() => operations.close());
  const gaugeTimer = setInterval(() => void refreshQueueGauges(operations, metrics).catch(() => undefined), QUEUE_GAUGE_INTERVAL_MS);
  gaugeTimer.unref();

  let server: Server;
  if (roles.api) {
    const intakeConnection = connect('intake');
    const eventsQueue = new Queue<EventJobData>(EVENTS_QUEUE, { connection: intakeConnection, prefix: config.queuePrefix });
    // BullMQ's own connection errors are reported on the connection above; keep the queue quiet.
    eventsQueue.on('error', () => undefined);
    closers.unshift(() => eventsQueue.close());
    // The dashboard exists only when ADMIN_TOKEN is set: unmounted, /admin is a plain 404.
    const app = createApp({
      sources,
      secrets: readWebhookSecrets(config, sources),
      allowUnsignedWebhooks: config.allowUnsignedWebhooks,
      strippedFields: config.strippedFields,
      bodyLimitBytes: config.bodyLimitBytes,
      intake: new EventIntake({ queue: eventsQueue, dedupTtlMs: config.dedupTtlMs }),
      metrics,
      logger,
      now: () => new Date(),
      readinessChecks,
      extraRouters: config.adminToken ? [createAdminRouter({ adminToken: config.adminToken, operations, logger })] : [],
    });
    server = app.listen(config.port, '0.0.0.0');
  } else {
    // A worker-only process still answers /metrics, /healthz and /readyz on its own port.
    const app = express();
    app.disable('x-powered-by');
    app.use(createOperationalRouter({ metrics, readinessChecks }));
    server = app.listen(config.metricsPort, '0.0.0.0');
  }
  await once(server, 'listening').catch(abandon);
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, roles, rulesDir: roles.workers ? config.rulesDir : undefined }, 'affiliate-bridge started');

  let stopping: Promise<void> | undefined;
  return {
    port,
    stop(timeoutMs = config.shutdownTimeoutMs) {
      stopping ??= (async () => {
        clearInterval(gaugeTimer);
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // Workers finish their in-flight jobs. Past the deadline, in-flight actions are aborted and
        // hand their jobs back to the queue (actions worker); close(true) alone would leave them
        // locked, for another worker to pick up only once the lock expires.
        const workersClosed = Promise.all(workers.map((worker) => worker.close()));
        const after = (ms: number) => new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
        if ((await Promise.race([workersClosed, after(timeoutMs)])) === 'timeout') {
          logger.warn('shutdown deadline reached: returning in-flight jobs to the queue');
          for (const worker of workers) worker.cancelAllJobs('shutdown');
          if ((await Promise.race([workersClosed, after(SHUTDOWN_ABORT_GRACE_MS)])) === 'timeout') {
            await Promise.all(workers.map((worker) => worker.close(true)));
          }
        }
        server.closeAllConnections();
        await serverClosed;
        for (const close of closers) await close().catch(() => undefined);
        await Promise.all(connections.map((connection) => connection.quit().catch(() => connection.disconnect())));
        logger.info('affiliate-bridge stopped');
      })();
      return stopping;
    },
  };
}

/** Each source's webhook secret, by source name (null when its variable is unset). */
function readWebhookSecrets(config: BridgeConfig, sources: SourceRegistry): Record<string, Secret | null> {
  return Object.fromEntries(
    Object.values(sources).map((source) => [source.name, readSettings(config, source.env)[source.webhookSecret] as Secret | null]),
  );
}

/** A stored event of a source no longer registered has no schema to check: nothing to add. */
function checkSchemaOf(sources: SourceRegistry, event: Parameters<SourceRegistry[string]['checkSchema']>[0]): string[] {
  return Object.hasOwn(sources, event.source) ? (sources[event.source] as SourceRegistry[string]).checkSchema(event) : [];
}

function warnAboutSecrets(config: BridgeConfig, roles: Roles, logger: Logger, sources: SourceRegistry, actions: ActionRegistry): void {
  if (roles.api) {
    for (const [source, secret] of Object.entries(readWebhookSecrets(config, sources))) {
      if (secret !== null) continue;
      const variable = (sources[source] as SourceRegistry[string]).webhookSecret;
      if (config.allowUnsignedWebhooks) {
        logger.warn(`${variable} is unset and ALLOW_UNSIGNED_WEBHOOKS=true: /webhooks/${source} accepts UNAUTHENTICATED deliveries (local trials only)`);
      } else {
        logger.warn(`${variable} is unset: /webhooks/${source} answers 401 to every delivery`);
      }
    }
  }
  if (roles.workers) {
    // Once per integration: its actions share the credential.
    const unset = new Map<string, string>();
    for (const action of Object.values(actions)) {
      if (readSettings(config, action.env)[action.credential] === null) unset.set(action.credential, action.title);
    }
    for (const [variable, title] of unset) logger.warn(`${variable} is unset: ${title} actions run as dry-run (logged, nothing sent)`);
  }
}

async function pingWithin(redis: RedisConnection, timeoutMs: number): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  return Promise.race([redis.ping().then(() => true, () => false), timeout]);
}

async function refreshQueueGauges(operations: BridgeOperations, metrics: BridgeMetrics): Promise<void> {
  const counts = await operations.getQueueCounts(['waiting', 'active', 'delayed', 'failed']);
  for (const [queue, byState] of Object.entries(counts)) {
    for (const [state, count] of Object.entries(byState)) metrics.queueJobs.set({ queue, state }, count);
  }
}
