import { Redis, type RedisOptions } from 'ioredis';

/**
 * What a connection is for decides how it behaves while Redis is away:
 * - `intake`: fail fast (no offline queue, short command timeout) so a webhook gets 503 at once
 *   instead of hanging; auto-pipelining lets concurrent requests share a round trip.
 * - `worker`: BullMQ workers block on Redis and must wait for it forever (maxRetriesPerRequest null).
 * - `state`: the bridge's own keys from workers and the CLI; waits for Redis a short while.
 */
export type ConnectionRole = 'intake' | 'worker' | 'state';

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

/** Opens a Redis connection for one role. The caller owns it and must `quit()` it. */
export function createRedisConnection(url: string, role: ConnectionRole, extra: RedisOptions = {}): Redis {
  return new Redis(url, { retryStrategy, lazyConnect: false, ...roleOptions[role], ...extra });
}
