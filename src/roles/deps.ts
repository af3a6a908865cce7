import type { Logger } from 'pino';
import type { ActionRegistry } from '../actions/registry.js';
import type { BridgeConfig } from '../config/config.js';
import type { ReadinessCheck } from '../http/app.js';
import type { Lifecycle } from '../lifecycle.js';
import type { BridgeMetrics } from '../observability/metrics.js';
import type { RetryPolicy } from '../delivery/delivery-policy.js';
import type { BridgeOperations } from '../queue/operations.js';
import type { ConnectionRole, RedisConnection } from '../infra/redis.js';
import type { RedisHealth } from '../infra/redis-health.js';
import type { SourceRegistry } from '../sources/registry.js';

export type { SourceRegistry };

/**
 * What the roles are built from. main.ts builds the real ones (the shipped registries, Redis,
 * Date.now); everything is tracked by `lifecycle`, so a role only opens, never closes.
 */
export interface BridgeDeps {
  readonly config: BridgeConfig;
  readonly logger: Logger;
  readonly metrics: BridgeMetrics;
  readonly sources: SourceRegistry;
  readonly actions: ActionRegistry;
  readonly lifecycle: Lifecycle;
  /** Opens a Redis connection for `role`, tracked by the lifecycle. */
  readonly connect: (role: ConnectionRole) => RedisConnection;
  /** The shared connection for the bridge's own keys (traces, completion records, pacing). */
  readonly state: RedisConnection;
  /** Whether Redis answers, shared by every connection `connect` opens (and the workers' errors). */
  readonly redisHealth: RedisHealth;
  /** Reads and retries for the dashboard, and queue depths for the gauges. */
  readonly operations: BridgeOperations;
  /** The retry policy that runs (the delivery policy's default with the environment's overrides). */
  readonly retryPolicy: RetryPolicy;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
}

/** What the workers role adds to /readyz and the dashboard. */
export interface WorkersRole {
  readonly readinessChecks: readonly ReadinessCheck[];
}
