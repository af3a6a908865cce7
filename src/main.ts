import type { Logger } from 'pino';
import { actionRegistry, type ActionRegistry } from './actions/registry.js';
import type { BridgeConfig } from './config/config.js';
import { Lifecycle } from './lifecycle.js';
import type { BridgeMetrics } from './observability/metrics.js';
import { resolveRetryPolicy } from './delivery/delivery-policy.js';
import { BridgeOperations } from './queue/operations.js';
import { createRedisConnection, type ConnectionRole } from './infra/redis.js';
import { RedisHealth } from './infra/redis-health.js';
import type { BridgeDeps } from './roles/deps.js';
import { warnAboutUnsetSecrets } from './roles/warn-about-secrets.js';
import { startHttp } from './roles/start-http.js';
import { startWorkers } from './roles/start-workers.js';
import { sourceRegistry, type SourceRegistry } from './sources/registry.js';

/** Which halves of the bridge this process runs. */
export interface Roles {
  readonly api: boolean;
  readonly workers: boolean;
}

/** Options of {@link startBridge}. */
export interface StartOptions {
  /** The validated configuration (see loadConfig). */
  readonly config: BridgeConfig;
  /** Which halves run in this process: the API, the workers, or both. */
  readonly roles: Roles;
  /** The process logger; every role and worker logs through it. */
  readonly logger: Logger;
  /** The process's metrics, served by /metrics on PORT (API) or METRICS_PORT (workers only). */
  readonly metrics: BridgeMetrics;
  /** The webhook providers. @defaultValue sourceRegistry */
  readonly sources?: SourceRegistry;
  /** The actions rules may name. @defaultValue actionRegistry */
  readonly actions?: ActionRegistry;
  /** Milliseconds since the epoch. @defaultValue Date.now */
  readonly now?: () => number;
}

export interface RunningBridge {
  /** The HTTP server's port (the API, or a worker-only process's metrics port). */
  readonly port: number;
  /**
   * Stops taking requests, lets in-flight jobs finish (or returns them to the queue when
   * `timeoutMs` runs out), and closes Redis. Idempotent. @defaultValue config.shutdownTimeoutMs
   */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * The composition root: config → connections → registries → roles → lifecycle. A start-up that
 * fails half-way (invalid rules, port in use) closes what it opened and rethrows.
 */
export async function startBridge(options: StartOptions): Promise<RunningBridge> {
  const { config, roles, logger, metrics } = options;
  const lifecycle = new Lifecycle({ logger });
  try {
    const sources = options.sources ?? sourceRegistry;
    const actions = options.actions ?? actionRegistry;
    warnAboutUnsetSecrets({ config, roles, logger, sources, actions });
    const now = options.now ?? Date.now;
    // One tracker for every connection of the process: one line when Redis goes away, one when it
    // is back, instead of one per connection per retry.
    const redisHealth = new RedisHealth({ url: config.redisUrl, logger, now });
    const connect = (role: ConnectionRole) =>
      lifecycle.trackConnection(redisHealth.watch(createRedisConnection(config.redisUrl, role, {}, { cluster: config.redisCluster }), role));
    const state = connect('state');
    const deps: BridgeDeps = {
      config, logger, metrics, lifecycle, connect, state, redisHealth,
      sources,
      actions,
      operations: lifecycle.trackQueue(new BridgeOperations(state, config.queuePrefix)),
      retryPolicy: resolveRetryPolicy(config),
      now,
    };
    const workers = roles.workers ? await startWorkers(deps) : { readinessChecks: [] };
    const port = await startHttp(roles.api ? 'api' : 'worker', { ...deps, ...workers });
    logger.info({ port, roles, rulesDir: roles.workers ? config.rulesDir : undefined }, 'affiliate-bridge started');
    return { port, stop: (timeoutMs = config.shutdownTimeoutMs) => lifecycle.stop(timeoutMs) };
  } catch (error) {
    await lifecycle.abandon();
    throw error;
  }
}
