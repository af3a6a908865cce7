import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { shareScriptsWithPipelines } from './pipeline-scripts.js';

/**
 * What a connection is for decides how it behaves while Redis is away:
 * - `intake`: fail fast (no offline queue, short command timeout) so a webhook gets 503 at once
 *   instead of hanging; auto-pipelining lets concurrent requests share a round trip.
 * - `worker`: BullMQ workers block on Redis and must wait for it forever (maxRetriesPerRequest null).
 * - `state`: the bridge's own keys from workers and the CLI; waits for Redis a short while.
 */
export type ConnectionRole = 'intake' | 'worker' | 'state';

/**
 * A connection to a single Redis node or to a Redis Cluster. BullMQ accepts both, and every
 * command the bridge sends works on both as long as the keys of one command (or one MULTI, or one
 * Lua script) share a hash slot: all of them start with the queue prefix and its `{hash tag}`.
 */
export type RedisConnection = Redis | Cluster;

/** Options of {@link createRedisConnection} beyond the per-role ioredis options. */
export interface RedisConnectionOptions {
  /**
   * Treat the URL as one seed node of a Redis Cluster and open an ioredis `Cluster` (it discovers
   * the other nodes itself). @defaultValue false
   */
  readonly cluster?: boolean;
}

const roleOptions: Record<ConnectionRole, RedisOptions> = {
  intake: {
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
  },
  worker: { maxRetriesPerRequest: null, enableAutoPipelining: true },
  state: { maxRetriesPerRequest: 3, enableAutoPipelining: true, commandTimeout: 5_000 },
};

/** Reconnect quickly at first, then every 2 s: intake must recover soon after Redis returns. */
function retryStrategy(times: number): number {
  return Math.min(50 * 2 ** times, 2_000);
}

/**
 * Opens a Redis connection for one role. The caller owns it and must `quit()` it.
 * With `{ cluster: true }` the URL is the seed node of a Redis Cluster and the answer is an
 * ioredis `Cluster` with the same per-role options on every node connection.
 */
export function createRedisConnection(url: string, role: ConnectionRole, extra?: RedisOptions): Redis;
export function createRedisConnection(url: string, role: ConnectionRole, extra: RedisOptions, options: RedisConnectionOptions): RedisConnection;
export function createRedisConnection(url: string, role: ConnectionRole, extra: RedisOptions = {}, options: RedisConnectionOptions = {}): RedisConnection {
  const nodeOptions: RedisOptions = { retryStrategy, lazyConnect: false, ...roleOptions[role], ...extra };
  if (!options.cluster) return shareScriptsWithPipelines(new Redis(url, nodeOptions));
  return shareScriptsWithPipelines(createClusterConnection(url, nodeOptions));
}

function createClusterConnection(url: string, nodeOptions: RedisOptions): Cluster {
  const seed = new URL(url);
  // Credentials and TLS come from the URL, as for a single node; a database number has no meaning
  // on a Cluster (only db 0 exists) and is ignored.
  const redisOptions: RedisOptions = {
    ...nodeOptions,
    ...(seed.username ? { username: decodeURIComponent(seed.username) } : {}),
    ...(seed.password ? { password: decodeURIComponent(seed.password) } : {}),
    ...(seed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  // Some options only take effect at the cluster level: the Cluster object queues commands itself
  // while it (re)discovers slots, so the intake's fail-fast needs `enableOfflineQueue: false` here
  // too, and auto-pipelining is a Cluster option of its own.
  const clusterOptions: ClusterOptions = {
    redisOptions,
    clusterRetryStrategy: retryStrategy,
    lazyConnect: nodeOptions.lazyConnect,
    enableOfflineQueue: nodeOptions.enableOfflineQueue ?? true,
    enableAutoPipelining: nodeOptions.enableAutoPipelining ?? false,
  };
  return new Cluster([{ host: seed.hostname, port: Number(seed.port || 6379) }], clusterOptions);
}

/**
 * The hash tag Redis Cluster hashes a key starting with `prefix` by: the text between the first
 * `{` and the first `}` after it, when not empty. Null when the prefix has none, and the keys of
 * one queue would be spread over many slots.
 */
export function hashTagOf(prefix: string): string | null {
  const open = prefix.indexOf('{');
  if (open === -1) return null;
  const close = prefix.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return null;
  return prefix.slice(open + 1, close);
}
