import { Cluster } from 'ioredis';
import type { BridgeEvent } from '../events/event.js';
import type { RedisConnection } from '../infra/redis.js';
import { bridgeKeys } from './names.js';
import type { EventTrace } from './trace.js';

/** Keys read per round trip. */
const BATCH_SIZE = 500;

/**
 * Every stored event received since `sinceMs` (ms since the epoch), oldest first: the event as its
 * trace keeps it (secrets stripped, its status as the events worker decided), which is what the rules
 * saw. Traces live for the dedup window (DEDUP_TTL), so that is as far back as this reaches; an event
 * the events worker has not processed yet has no trace and is not included. Only reads Redis.
 *
 * Traces are found with SCAN rather than the dashboard's recent-events index, which keeps only the
 * newest 10,000 ids: a window's events are all found, however many arrived.
 */
export async function readStoredEvents(redis: RedisConnection, prefix: string, sinceMs: number): Promise<BridgeEvent[]> {
  const keyOfEvent = bridgeKeys(prefix).trace;
  const pattern = `${escapeGlob(keyOfEvent(''))}*`;
  const events: BridgeEvent[] = [];
  // On Cluster, SCAN is per node; with the hash tag QUEUE_PREFIX needs there, one node holds them all.
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', BATCH_SIZE);
      cursor = next;
      if (keys.length === 0) continue;
      const stored = await node.mget(...keys);
      for (const json of stored) {
        // Expired between SCAN and MGET: gone, like any event older than the window.
        if (json === null) continue;
        const { event } = JSON.parse(json) as EventTrace;
        if (Date.parse(event.receivedAt) >= sinceMs) events.push(event);
      }
    } while (cursor !== '0');
  }
  // SCAN may return a key twice (a rehash during the scan): keep each event once.
  const unique = [...new Map(events.map((event) => [event.id, event])).values()];
  return unique.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt) || a.id.localeCompare(b.id));
}

/** A literal string as a Redis glob: QUEUE_PREFIX may hold `*`, `?`, `[` or `\`. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
