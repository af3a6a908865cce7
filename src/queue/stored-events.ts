import { Cluster } from 'ioredis';
import { compareEventsByReceipt, type BridgeEvent } from '../events/event.js';
import type { RedisConnection } from '../infra/redis.js';
import { bridgeKeys } from './names.js';
import { decodeStoredTrace } from './trace.js';

/** Keys read per round trip. */
const BATCH_SIZE = 500;

/**
 * The stored events received since `sinceMs` (ms since the epoch), a batch per SCAN page, in no
 * particular order, each event once: the event as its trace keeps it (secrets stripped, its status
 * as the events worker decided), which is what the rules saw. Traces live for the dedup window
 * (DEDUP_TTL), so that is as far back as this reaches; an event the events worker has not processed
 * yet has no trace and is not included. Only reads Redis; holds one batch at a time, so a busy
 * week's events never sit in memory together.
 *
 * Traces are found with SCAN rather than the dashboard's recent-events index, which keeps only the
 * newest 10,000 ids: a window's events are all found, however many arrived.
 */
export async function* readStoredEventBatches(redis: RedisConnection, prefix: string, sinceMs: number): AsyncGenerator<BridgeEvent[]> {
  const keyOfEvent = bridgeKeys(prefix).trace;
  const pattern = `${escapeGlob(keyOfEvent(''))}*`;
  // SCAN may return a key twice (a rehash during the scan): each event is yielded once.
  const seen = new Set<string>();
  // On Cluster, SCAN is per node; with the hash tag QUEUE_PREFIX needs there, one node holds them all.
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', BATCH_SIZE);
      cursor = next;
      if (keys.length === 0) continue;
      const batch: BridgeEvent[] = [];
      for (const json of await node.mget(...keys)) {
        // Expired between SCAN and MGET: gone, like any event older than the window.
        if (json === null) continue;
        const { event } = decodeStoredTrace(json);
        if (Date.parse(event.receivedAt) < sinceMs || seen.has(event.id)) continue;
        seen.add(event.id);
        batch.push(event);
      }
      if (batch.length > 0) yield batch;
    } while (cursor !== '0');
  }
}

/** Every stored event received since `sinceMs`, oldest first (see {@link readStoredEventBatches}); for small windows and tests. */
export async function readStoredEvents(redis: RedisConnection, prefix: string, sinceMs: number): Promise<BridgeEvent[]> {
  const events: BridgeEvent[] = [];
  for await (const batch of readStoredEventBatches(redis, prefix, sinceMs)) events.push(...batch);
  return events.sort(compareEventsByReceipt);
}

/** A literal string as a Redis glob: QUEUE_PREFIX may hold `*`, `?`, `[` or `\`. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
